#!/usr/bin/env python3
"""The Optuna half of scripts/bench/tpe_vs_optuna.sh, and the table.

  tpe_vs_optuna.py run   --seeds 20 --trials 100 --out DIR/optuna.jsonl   # Optuna TPESampler / RandomSampler
  tpe_vs_optuna.py table DIR/kre.jsonl DIR/optuna.jsonl                   # markdown table on stdout

The objectives are those of examples/tpe_bench.rs, written the same way (same parameter names, ranges and
formulas), all maximised; see that file for what they are. Samplers use Optuna's defaults with seed=SEED
(TPESampler is multivariate by default since Optuna 5; `optuna-tpe-indep` is TPESampler(multivariate=False)).
Needs optuna (`python3 -m venv .venv-optuna && .venv-optuna/bin/pip install optuna`); `table` needs only the
standard library.
"""
import argparse
import json
import math
import statistics
import sys
import time


def report(t):
    lr = t.suggest_float("lr", 1e-5, 5e-5, log=True)
    batch = [-1.0, 0.0, -0.5][t.suggest_categorical("batch_size", [0, 1, 2])]
    epochs = t.suggest_int("epochs", 3, 8)
    max_length = [-0.8, 0.0, 0.3][t.suggest_categorical("max_length", [0, 1, 2])]
    dropout = t.suggest_float("dropout", 0.0, 0.2)
    scheduler = [0.0, 0.6, -0.3, -1.5][t.suggest_categorical("scheduler", [0, 1, 2, 3])]
    if t.suggest_categorical("loss", [0, 1]) == 1:
        gamma = [0.5, 1.0, 1.5, 2.0][t.suggest_categorical("gamma", [0, 1, 2, 3])]
        alpha = [0.4, 0.2, 0.0, -0.3][t.suggest_categorical("alpha", [0, 1, 2, 3])]
        loss = 0.5 - 0.8 * (gamma - 1.0) ** 2 + alpha
    else:
        loss = 0.0
    smoothing = t.suggest_float("label_smoothing", 0.05, 0.2)
    markers = [0.8, 0.5, 0.0][t.suggest_categorical("markers", [0, 1, 2])]
    pooling = [0.5, 0.2, 0.7, -2.0][t.suggest_categorical("pooling", [0, 1, 2, 3])]
    concat_cls = [0.0, 0.2][t.suggest_categorical("concat_cls", [0, 1])]
    lr_term = -12.0 * ((math.log(lr) - math.log(2.8e-5)) / math.log(5.0)) ** 2
    return (
        70.0 + lr_term + batch - 0.4 * (epochs - 6.0) ** 2 + max_length - 20.0 * (dropout - 0.1) ** 2
        + scheduler + loss - 60.0 * (smoothing - 0.12) ** 2 + markers + pooling + concat_cls
    )


def branin(t):
    x1 = t.suggest_float("x1", -5.0, 10.0)
    x2 = t.suggest_float("x2", 0.0, 15.0)
    b, c, tt = 5.1 / (4.0 * math.pi**2), 5.0 / math.pi, 1.0 / (8.0 * math.pi)
    return -((x2 - b * x1 * x1 + c * x1 - 6.0) ** 2 + 10.0 * (1.0 - tt) * math.cos(x1) + 10.0)


ALPHA = [1.0, 1.2, 3.0, 3.2]
A = [
    [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
    [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
    [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
    [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
]
P = [
    [1312.0, 1696.0, 5569.0, 124.0, 8283.0, 5886.0],
    [2329.0, 4135.0, 8307.0, 3736.0, 1004.0, 9991.0],
    [2348.0, 1451.0, 3522.0, 2883.0, 3047.0, 6650.0],
    [4047.0, 8828.0, 8732.0, 5743.0, 1091.0, 381.0],
]


def hartmann6(t):
    x = [t.suggest_float(f"x{j}", 0.0, 1.0) for j in range(6)]
    return sum(
        ALPHA[i] * math.exp(-sum(A[i][j] * (x[j] - P[i][j] * 1e-4) ** 2 for j in range(6))) for i in range(4)
    )


def rosenbrock5(t):
    x = [t.suggest_float(f"x{j}", -2.048, 2.048) for j in range(5)]
    return -sum(100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2 for i in range(4))


OBJECTIVES = {"report": report, "branin": branin, "hartmann6": hartmann6, "rosenbrock5": rosenbrock5}
MAXIMA = {"report": "73.5", "branin": "−0.397887", "hartmann6": "3.32237", "rosenbrock5": "0"}


def run(args):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    samplers = {
        "optuna-tpe": optuna.samplers.TPESampler,  # multivariate by default since Optuna 5 (one objective)
        "optuna-tpe-indep": lambda seed: optuna.samplers.TPESampler(seed=seed, multivariate=False),
        "optuna-random": optuna.samplers.RandomSampler,
    }
    with open(args.out, "w") as out:
        for name, objective in OBJECTIVES.items():
            for label, cls in samplers.items():
                started = time.time()
                for seed in range(args.seeds):
                    study = optuna.create_study(direction="maximize", sampler=cls(seed=seed))
                    study.optimize(objective, n_trials=args.trials)
                    best, b = [], -math.inf
                    for t in study.trials:
                        b = max(b, t.value)
                        best.append(b)
                    out.write(json.dumps({"objective": name, "sampler": label, "seed": seed, "best": best}) + "\n")
                print(f"{name:12} {label:16} {args.seeds} seeds x {args.trials} trials in {time.time() - started:.1f}s",
                      file=sys.stderr)
    print(f"wrote {args.out} (optuna {optuna.__version__})", file=sys.stderr)


def table(args):
    rows = {}
    for path in args.files:
        with open(path) as fh:
            for line in fh:
                r = json.loads(line)
                rows.setdefault((r["objective"], r["sampler"]), []).append(r["best"])
    checkpoints = [25, 50, 100]
    order = ["kre-tpe", "optuna-tpe", "kre-tpe-indep", "optuna-tpe-indep", "kre-random", "optuna-random"]
    print("| objective (max) | sampler | seeds | " + " | ".join(f"median best @{c}" for c in checkpoints) + " |")
    print("|---|---|---|" + "---|" * len(checkpoints))
    for name in OBJECTIVES:
        for sampler in order:
            runs = rows.get((name, sampler))
            if not runs:
                continue
            cells = []
            for c in checkpoints:
                vals = [r[c - 1] for r in runs if len(r) >= c]
                cells.append(f"{statistics.median(vals):.4f}" if vals else "–")
            label = f"{name} ({MAXIMA[name]})"
            print(f"| {label} | {sampler} | {len(runs)} | " + " | ".join(cells) + " |")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--seeds", type=int, default=20)
    r.add_argument("--trials", type=int, default=100)
    r.add_argument("--out", required=True)
    t = sub.add_parser("table")
    t.add_argument("files", nargs="+")
    args = p.parse_args()
    run(args) if args.cmd == "run" else table(args)


if __name__ == "__main__":
    main()
