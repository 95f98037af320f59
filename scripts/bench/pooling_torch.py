#!/usr/bin/env python3
"""Times the report's PyTorch span-pooling loop on the shapes and spans of `benches/pooling.rs`.

Run:  /path/to/venv/bin/python scripts/bench/pooling_torch.py [--threads 2] [--seconds 3] [--out FILE.json]
      (any venv with torch, e.g. .venv-torch or .venv-bench; see scripts/bench/README.md)

The loop is the report's (section 5.2 of the seed): per example, slice the span and reduce it, then `torch.stack`:

    mean:      torch.stack([h[i, s:e].mean(0) for i, (s, e) in enumerate(spans)])
    max:       torch.stack([h[i, s:e].max(0).values for ...])
    attention: torch.stack([torch.softmax(h[i, s:e] @ w, 0) @ h[i, s:e] for ...])

Shapes and spans equal the criterion benchmark's: hidden [32, 128, 768] ~ N(0, 1), w [768] ~ N(0, 0.02), span i =
(s, s + 1 + i % 12) with s = (37 i) % 100 + 1. `--threads` sets torch's intra-op pool (and OMP/MKL) before torch is
imported, inter-op 1. Timing follows criterion's idea of a mean: after `--warmup` seconds of untimed calls, batches
of calls are timed for about `--seconds` seconds in all, and the mean time per call over all of them is reported
(plus the fastest and slowest batch), in microseconds.
"""
import argparse
import json
import os
import platform
import sys
import time

BATCH, SEQ, HIDDEN = 32, 128, 768


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of untimed calls per kind")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds of timed calls per kind")
    parser.add_argument("--out", help="also write the results as JSON here")
    return parser.parse_args()


def spans():
    return [((i * 37) % 100 + 1, (i * 37) % 100 + 2 + i % 12) for i in range(BATCH)]


def main():
    args = parse_args()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import torch  # after the thread variables, which the libraries read at load time

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    h = torch.randn(BATCH, SEQ, HIDDEN)
    w = torch.randn(HIDDEN) * 0.02
    pairs = spans()

    def mean():
        return torch.stack([h[i, s:e].mean(0) for i, (s, e) in enumerate(pairs)])

    def max_():
        return torch.stack([h[i, s:e].max(0).values for i, (s, e) in enumerate(pairs)])

    def attention():
        return torch.stack([torch.softmax(h[i, s:e] @ w, 0) @ h[i, s:e] for i, (s, e) in enumerate(pairs)])

    results = {}
    for name, fn in (("mean", mean), ("max", max_), ("attention", attention)):
        assert fn().shape == (BATCH, HIDDEN)
        deadline = time.perf_counter() + args.warmup
        calls = 0
        while time.perf_counter() < deadline:
            fn()
            calls += 1
        # Batches of ~10 ms, so that the timer's overhead is negligible.
        per_batch = max(1, int(calls / max(args.warmup, 1e-3) * 0.01))
        total, count, batches = 0.0, 0, []
        while total < args.seconds:
            start = time.perf_counter()
            for _ in range(per_batch):
                fn()
            elapsed = time.perf_counter() - start
            total += elapsed
            count += per_batch
            batches.append(elapsed / per_batch)
        results[name] = {
            "mean_us": total / count * 1e6,
            "min_batch_us": min(batches) * 1e6,
            "max_batch_us": max(batches) * 1e6,
            "calls": count,
        }
        print(
            f"{name:<10} mean {results[name]['mean_us']:8.1f} µs  "
            f"(batches {results[name]['min_batch_us']:.1f}–{results[name]['max_batch_us']:.1f} µs, {count} calls)"
        )
    meta = {
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "machine": platform.processor() or platform.machine(),
        "threads": args.threads,
        "shape": [BATCH, SEQ, HIDDEN],
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    print(json.dumps(meta))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"meta": meta, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
