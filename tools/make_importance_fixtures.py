#!/usr/bin/env python3
"""Hand-made kre studies and Optuna's PED-ANOVA importances of them (the reference for kre's importances).

  python3 -m venv .venv-optuna && .venv-optuna/bin/pip install optuna
  .venv-optuna/bin/python tools/make_importance_fixtures.py [--kre target/debug/kre]

1. Writes two study directories under crates/re-train/tests/fixtures/studies/ (search.toml + trials.jsonl, the
   files `kre search` writes; no run directories): `mixed` (60 trials over the default space with epochs 2..4:
   log/linear floats, an integer, categoricals, the conditional focal γ/α, 15 pruned) and `ties` (12 trials whose
   values tie, so the top-10 % cut keeps several trials). Parameters are drawn with Python's `random` (seeded),
   values come from a made-up function of them.
2. Runs `kre search export --study DIR --out DIR.json` on each (builds kre with cargo if --kre is missing).
3. Loads each export into Optuna with scripts/optuna_import.py's build_study and writes
   optuna.importance.get_param_importances(study) (PED-ANOVA, Optuna's default evaluator, normalised) and the
   evaluator's raw values to crates/re-train/tests/fixtures/importances_ped_anova.json.

The Rust test (crates/re-train/tests/it/search.rs, ped_anova_matches_optuna) reads the same study directories and
compares.
"""
import argparse
import importlib.util
import json
import math
import os
import random
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "crates", "re-train", "tests", "fixtures")

SEARCH_TOML = """# Hand-made study for the importance parity test (tools/make_importance_fixtures.py).
seed = 7

[space]
epochs = [2, 4]
"""

# The default [space] of kre (crates/re-train/src/search/space.rs) with epochs 2..4, `tiny` model: lr 3e-4..3e-3.
CHOICES = {
    "batch_size": 3, "max_length": 3, "scheduler": 4, "loss": 2, "gamma": 4, "alpha": 4, "markers": 3,
    "pooling": 4, "concat_cls": 2,
}


def sample(rng):
    p = {"lr": math.exp(rng.uniform(math.log(3e-4), math.log(3e-3)))}
    p["batch_size"] = rng.randrange(3)
    p["epochs"] = rng.randint(2, 4)
    p["max_length"] = rng.randrange(3)
    p["dropout"] = rng.uniform(0.0, 0.2)
    p["scheduler"] = rng.randrange(4)
    p["loss"] = rng.randrange(2)
    if p["loss"] == 1:
        p["gamma"] = rng.randrange(4)
        p["alpha"] = rng.randrange(4)
    p["label_smoothing"] = rng.uniform(0.05, 0.2)
    p["markers"] = rng.randrange(3)
    p["pooling"] = rng.randrange(4)
    p["concat_cls"] = rng.randrange(2)
    return {k: float(v) for k, v in p.items()}


def objective(p, rng):
    """A made-up dev micro-F1: lr matters most (peak near 1e-3), then pooling and markers; a little noise."""
    v = 70.0 - 25.0 * (math.log10(p["lr"]) + 3.0) ** 2
    v += [0.0, 2.0, 6.0, -3.0][int(p["pooling"])]
    v += [4.0, 2.0, 0.0][int(p["markers"])]
    v -= 10.0 * p["dropout"]
    if p["loss"] == 1.0:
        v += [0.0, 1.0, 1.5, 0.5][int(p["gamma"])]
    return v + rng.gauss(0.0, 0.5)


def record(i, status, curve, params):
    out = f"trial-{i:03}"
    best = max(range(len(curve)), key=lambda k: (curve[k], -k))
    return {
        "trial": i,
        "status": status,
        "best_micro_f1": curve[best],
        "best_epoch": best + 1,
        "curve": curve,
        "config": {"out": out},
        "command": f"kre train --config {out}/train_config.toml",
        "params": params,
    }


def make_mixed():
    rng = random.Random(16)
    recs = []
    for i in range(60):
        p = sample(rng)
        final = round(objective(p, rng), 4)
        epochs = int(p["epochs"])
        curve = [round(final - 6.0 * (epochs - e) + rng.uniform(-0.5, 0.5), 4) for e in range(1, epochs + 1)]
        curve[-1] = final
        # Every fourth trial stopped after its first epoch.
        if i % 4 == 3:
            recs.append(record(i, "pruned", curve[:1], p))
        else:
            recs.append(record(i, "complete", curve, p))
    return recs


def make_ties():
    rng = random.Random(3)
    recs = []
    for i in range(12):
        p = sample(rng)
        # Whole numbers: several trials share the best values.
        final = float(round(objective(p, rng) / 4.0) * 4)
        recs.append(record(i, "complete", [final - 1.0, final], p))
    return recs


def write_study(name, recs):
    d = os.path.join(FIXTURES, "studies", name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "search.toml"), "w", encoding="utf-8") as f:
        f.write(SEARCH_TOML)
    with open(os.path.join(d, "trials.jsonl"), "w", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kre", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "debug", "kre"))
    args = ap.parse_args()
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    spec = importlib.util.spec_from_file_location("optuna_import", os.path.join(ROOT, "scripts", "optuna_import.py"))
    optuna_import = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(optuna_import)
    if not os.path.exists(args.kre):
        subprocess.run(["cargo", "build", "-p", "re-cli"], cwd=ROOT, check=True)

    out = {"optuna_version": optuna.__version__, "evaluator": "PedAnovaImportanceEvaluator()", "studies": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, recs in [("mixed", make_mixed()), ("ties", make_ties())]:
            d = write_study(name, recs)
            export = os.path.join(tmp, f"{name}.json")
            subprocess.run([args.kre, "search", "export", "--study", d, "--out", export], check=True)
            with open(export, encoding="utf-8") as f:
                study = optuna_import.build_study(json.load(f))
            normalised = optuna.importance.get_param_importances(study)
            raw = optuna.importance.PedAnovaImportanceEvaluator().evaluate(study)
            out["studies"][name] = {
                "n_trials": len(recs),
                "importances": dict(sorted(normalised.items())),
                "raw": dict(sorted(raw.items())),
            }
            print(name, {k: round(v, 4) for k, v in normalised.items()}, file=sys.stderr)
    path = os.path.join(FIXTURES, "importances_ped_anova.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, sort_keys=False)
        f.write("\n")
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
