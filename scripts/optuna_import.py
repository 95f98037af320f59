#!/usr/bin/env python3
"""Rebuild a kre study in Optuna from `kre search export --out trials.json`.

  python3 scripts/optuna_import.py trials.json                                   # in memory: summary + importances
  python3 scripts/optuna_import.py trials.json --storage sqlite:///study.db      # then e.g. `optuna-dashboard sqlite:///study.db`

Every trial becomes an Optuna FrozenTrial (optuna.trial.create_trial) with its state (COMPLETE/PRUNED), value (dev
micro-F1 %, maximised; a pruned trial's last reported value, as Optuna stores it), parameters in their user
representation with the distributions of the export, intermediate values (step = epoch), user attributes
(best_epoch, epochs_run, command, run_dir) and, where the run directory still had them, start/end times; then
study.add_trials(). Needs optuna (`pip install optuna`). `build_study` is imported by
tools/make_importance_fixtures.py.
"""
import argparse
import datetime
import json
import sys

EXPORT_FORMAT = "kre-optuna-trials/1"


def _parse_time(text):
    return None if text is None else datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f")


def build_study(export, storage=None, study_name=None):
    """An optuna.Study holding the trials of `export` (the parsed JSON of `kre search export`)."""
    import optuna

    if export.get("format") != EXPORT_FORMAT:
        raise ValueError(f"not a kre trials export (format {export.get('format')!r}, expected {EXPORT_FORMAT!r})")
    dists = {
        name: optuna.distributions.json_to_distribution(json.dumps(d))
        for name, d in export["distributions"].items()
    }
    study = optuna.create_study(
        storage=storage,
        study_name=study_name or export.get("study_name"),
        direction=export.get("direction", "maximize"),
        load_if_exists=False,
    )
    trials = []
    for t in export["trials"]:
        state = optuna.trial.TrialState[t["state"]]
        trial = optuna.trial.create_trial(
            state=state,
            value=t["value"],
            params=t["params"],
            distributions={k: dists[k] for k in t["params"]},
            user_attrs=t["user_attrs"],
            intermediate_values={int(k): v for k, v in t["intermediate_values"].items()},
        )
        start, complete = _parse_time(t.get("datetime_start")), _parse_time(t.get("datetime_complete"))
        if start is not None and complete is not None:
            trial.datetime_start = start
            trial.datetime_complete = complete
        trials.append(trial)
    study.add_trials(trials)
    return study


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("export", help="JSON written by `kre search export --out FILE.json`")
    ap.add_argument("--storage", help="Optuna storage URL (default: in memory)")
    ap.add_argument("--study-name", help="default: the export's study_name")
    args = ap.parse_args()
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with open(args.export, encoding="utf-8") as f:
        export = json.load(f)
    study = build_study(export, storage=args.storage, study_name=args.study_name)
    states = [t.state.name for t in study.trials]
    print(f"{len(study.trials)} trials ({states.count('COMPLETE')} complete, {states.count('PRUNED')} pruned) "
          f"in Optuna {optuna.__version__} study {study.study_name!r}")
    if states.count("COMPLETE"):
        best = study.best_trial
        print(f"best trial {best.number}: value {best.value} params {best.params}")
        if states.count("COMPLETE") > 1:
            print("importances (PED-ANOVA):")
            for name, v in optuna.importance.get_param_importances(study).items():
                print(f"  {name:16s} {v:.4f}")
    if args.storage:
        print(f"stored in {args.storage}")


if __name__ == "__main__":
    sys.exit(main())
