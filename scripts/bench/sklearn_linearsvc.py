#!/usr/bin/env python3
"""Time scikit-learn's LinearSVC against re-classic's Pegasos on the very same hashed feature vectors.

Venv: python3 -m venv .venv-sk && .venv-sk/bin/pip install numpy scikit-learn
Run from the repository root:  .venv-sk/bin/python scripts/bench/sklearn_linearsvc.py [--sentences 44000]

1. `cargo run --release -p re-classic --example svmlight_bench -- export N F.svm` writes 50k pairs of the SYNTHETIC
   competition set (paper-best features f3-f7, 2^18 hashed, L2-normalised) in svmlight format
   (same as `kre classic export-features`).
2. Rust: `... svmlight_bench -- fit F.svm 10 1e-4` times Pegasos (10 epochs, lambda 1e-4), best of --repeats.
3. Python: LinearSVC(C = 1/(lambda n), hinge loss, dual) fit time, best of --repeats (loading excluded).
Prints a JSON summary with the time ratio sklearn / rust.
"""
import argparse, json, os, subprocess, sys, tempfile, time

import numpy as np
from sklearn.datasets import load_svmlight_file
from sklearn.svm import LinearSVC


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sentences", type=int, default=44000)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--lam", type=float, default=1e-4)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    cargo = ["cargo", "run", "-q", "--release", "-p", "re-classic", "--example", "svmlight_bench", "--"]
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "pairs.svm")
        subprocess.run(cargo + ["export", str(args.sentences), path], check=True)
        rust = []
        for _ in range(args.repeats):
            out = subprocess.run(cargo + ["fit", path, str(args.epochs), str(args.lam)], check=True,
                                 capture_output=True, text=True).stdout
            rust.append(json.loads(out))
        X, y = load_svmlight_file(path, n_features=1 << 18)
    X = X.tocsr()  # liblinear wants 32-bit indices
    X.indices = X.indices.astype(np.int32)
    X.indptr = X.indptr.astype(np.int32)
    n = X.shape[0]
    C = 1.0 / (args.lam * n)
    times = []
    for _ in range(args.repeats):
        clf = LinearSVC(C=C, loss="hinge", dual=True, max_iter=10000, tol=1e-4)
        t = time.perf_counter()
        clf.fit(X, y)
        times.append(time.perf_counter() - t)
    sk_acc = float((clf.predict(X) == y).mean())
    rust_best = min(r["seconds"] for r in rust)
    print(json.dumps({
        "n_pairs": n, "n_features": int(X.shape[1]), "nnz_per_pair": X.nnz / n,
        "rust_pegasos_seconds": rust_best, "rust_train_accuracy": rust[0]["train_accuracy"],
        "sklearn_linearsvc_seconds": min(times), "sklearn_train_accuracy": sk_acc, "sklearn_C": C,
        "ratio_sklearn_over_rust": min(times) / rust_best,
    }, indent=2))


if __name__ == "__main__":
    sys.exit(main())
