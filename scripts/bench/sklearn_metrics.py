#!/usr/bin/env python3
"""Times scikit-learn on the KLUE scorer's two metrics, on the input of `crates/re-metrics/benches/scoring.rs`.

Environment (PyPI):  python3 -m venv .venv-sk && .venv-sk/bin/pip install numpy scikit-learn
Run from the repo:   .venv-sk/bin/python scripts/bench/sklearn_metrics.py [--repeats 30]
Compare with:        cargo bench -p re-metrics --bench scoring -- --warm-up-time 1 --measurement-time 3

Input: 7,765 x 30 (KLUE-RE test size) from `re_metrics::synthetic::klue_like_scores(42, 7765, 30)`, regenerated
here by the same LCG (tools/make_metric_fixtures.py; the FNV-1a hash printed below is the one in the fixture the
Rust parity test checks). Timed: `klue_re_micro_f1(preds, labels)` and `klue_re_auprc(probs, labels)` verbatim
from the KLUE baseline, with `preds = probs.argmax(-1)` computed outside the timing (as in the Rust bench).
"""
import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
import sklearn.metrics

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from make_metric_fixtures import fnv1a_bits, klue_like_scores  # noqa: E402  (the shared generator)

warnings.simplefilter("ignore")


def klue_re_micro_f1(preds, labels):
    """KLUE-RE micro f1 (except no_relation)"""
    label_indices = list(range(30))
    label_indices.remove(0)  # no_relation is label 0 in KLUE's label list
    return sklearn.metrics.f1_score(labels, preds, average="micro", labels=label_indices) * 100.0


def klue_re_auprc(probs, labels):
    """KLUE-RE AUPRC (with no_relation)"""
    labels = np.eye(30)[labels]

    score = np.zeros((30,))
    for c in range(30):
        targets_c = labels.take([c], axis=1).ravel()
        preds_c = probs.take([c], axis=1).ravel()
        precision, recall, _ = sklearn.metrics.precision_recall_curve(targets_c, preds_c)
        score[c] = sklearn.metrics.auc(recall, precision)
    return np.average(score) * 100.0


def time_it(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    gold, probs = klue_like_scores(42, 7765, 30)
    preds = probs.argmax(-1)
    print(f"input 7765x30 seed 42, probs fnv1a {fnv1a_bits(probs.ravel().tolist())}")
    print(f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}")
    print(f"micro_f1 = {klue_re_micro_f1(preds, gold)!r}  auprc = {float(klue_re_auprc(probs, gold))!r}")

    klue_re_auprc(probs, gold)  # warm-up
    for name, fn in [
        ("micro_f1", lambda: klue_re_micro_f1(preds, gold)),
        ("auprc", lambda: klue_re_auprc(probs, gold)),
        ("micro_f1+auprc", lambda: (klue_re_micro_f1(preds, gold), klue_re_auprc(probs, gold))),
    ]:
        best, median = time_it(fn, args.repeats)
        print(f"{name:<16} min {best * 1e3:9.3f} ms   median {median * 1e3:9.3f} ms   ({args.repeats} runs)")


if __name__ == "__main__":
    main()
