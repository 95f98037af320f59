#!/usr/bin/env python3
"""Reference numbers of Optuna's TPE internals for kre's sampler (crates/re-train/tests/fixtures/tpe.json).

Everything here is independent of random draws, so kre (which has its own generator) must agree within 1e-9:
- parzen:    optuna.samplers._tpe.parzen_estimator._ParzenEstimator with TPESampler's default parameters
             (prior_weight 1.0, magic clip, consider_endpoints=False, default_weights) over one parameter:
             the mixture weights, each kernel's mu and sigma (numerical) or probability row (categorical), and
             log_pdf at fixed points;
- ppf:       optuna.samplers._tpe._truncnorm.ppf (quantiles of standard normals truncated to [a, b]);
- log_mass:  optuna.samplers._tpe._truncnorm._log_gauss_mass;
- joint:     the same for multivariate TPE (TPESampler's default since Optuna 5 for one objective): one
             estimator over several parameters (float, log float, int, categorical) and its acquisition function;
- tpe:       a study with complete and pruned trials (some without the parameter): the trials that
             optuna.samplers._tpe.sampler._split_trials puts in the "below" (good) set with default_gamma, and
             TPESampler's acquisition function log l(x) - log g(x) at fixed candidates.

Venv (from the repository root; .venv* is gitignored):
    python3 -m venv .venv-optuna && .venv-optuna/bin/pip install optuna
Run:
    .venv-optuna/bin/python tools/make_tpe_fixtures.py
Made with optuna 5.1.0 / numpy as pip resolves them (the version is recorded in the output).
"""
import json
import math
import os

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.samplers._tpe import _truncnorm
from optuna.samplers._tpe.parzen_estimator import _ParzenEstimator, _ParzenEstimatorParameters
from optuna.samplers._tpe.probability_distributions import _BatchedCategoricalDistributions
from optuna.samplers._tpe.sampler import _split_trials, default_gamma, default_weights
from optuna.trial import TrialState

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "re-train", "tests", "fixtures", "tpe.json")
PARAMS = _ParzenEstimatorParameters(
    prior_weight=1.0, consider_magic_clip=True, consider_endpoints=False, weights=default_weights, multivariate=False
)


def dist_json(d):
    if isinstance(d, CategoricalDistribution):
        return {"kind": "categorical", "n": len(d.choices)}
    if isinstance(d, IntDistribution):
        return {"kind": "int", "low": d.low, "high": d.high, "step": d.step}
    return {"kind": "float", "low": d.low, "high": d.high, "log": d.log}


def parzen_case(name, dist, observations, points):
    pe = _ParzenEstimator({"x": np.asarray(observations, dtype=float)}, {"x": dist}, PARAMS)
    mix = pe._mixture_distribution
    kernels = mix.distributions[0]
    case = {
        "name": name,
        "dist": dist_json(dist),
        "observations": [float(o) for o in observations],
        "weights": mix.weights.tolist(),
        "points": [float(p) for p in points],
        "log_pdf": pe.log_pdf({"x": np.asarray(points, dtype=float)}).tolist(),
    }
    if isinstance(kernels, _BatchedCategoricalDistributions):
        case["probs"] = kernels.weights.tolist()
    else:
        case["mus"] = kernels.mu.tolist()
        case["sigmas"] = kernels.sigma.tolist()
    return case


def parzen_cases():
    rng = np.random.RandomState(0)
    f = FloatDistribution(-3.0, 7.0)
    lg = FloatDistribution(1e-5, 1e-1, log=True)
    it = IntDistribution(1, 10)
    cat = CategoricalDistribution(["a", "b", "c", "d"])
    many = rng.uniform(-3.0, 7.0, size=40)
    return [
        parzen_case("float-empty", f, [], [-3.0, 0.0, 2.0, 7.0]),
        parzen_case("float-one", f, [1.5], [-2.9, 1.5, 6.0]),
        parzen_case("float-two", f, [6.9, -1.0], [-3.0, 0.0, 6.95]),
        parzen_case("float-five", f, [0.1, 0.3, 5.0, -2.5, 2.2], np.linspace(-3, 7, 11)),
        # More than 25 observations: the older ones get ramped weights; the magic clip still binds at 1/(n+2).
        parzen_case("float-forty", f, many, np.linspace(-3, 7, 9)),
        parzen_case("log-three", lg, [3e-4, 1e-3, 2e-2], [1e-5, 1e-4, 5e-4, 1e-2, 1e-1]),
        parzen_case("int-four", it, [2, 3, 3, 9], [1, 2, 3, 5, 10]),
        parzen_case("int-empty", it, [], [1, 5, 10]),
        parzen_case("categorical-three", cat, [0, 2, 2], [0, 1, 2, 3]),
        parzen_case("categorical-empty", cat, [], [0, 3]),
        # A narrow kernel far inside a wide range: densities in the tails.
        parzen_case("float-tails", FloatDistribution(0.0, 1000.0), [500.0, 500.5, 501.0], [0.0, 499.0, 1000.0]),
    ]


def ppf_cases():
    out = []
    for a, b in [(-1.0, 1.0), (-30.0, -25.0), (25.0, 30.0), (0.5, 3.0), (-3.0, -0.5), (-8.0, 40.0), (-0.1, 0.2)]:
        for q in [1e-9, 0.01, 0.3, 0.5, 0.77, 0.999999]:
            out.append({"q": q, "a": a, "b": b, "x": float(_truncnorm.ppf(np.array([q]), a, b)[0])})
    return out


def log_mass_cases():
    pairs = [(-1.0, 1.0), (-40.0, -38.0), (38.0, 40.0), (-0.5, 0.1), (1.0, 1.0000001), (-25.0, -5.0), (3.0, 9.0)]
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    return [{"a": x, "b": y, "log_mass": float(v)} for x, y, v in zip(a, b, _truncnorm._log_gauss_mass(a, b))]


def tpe_case(name, dist, trials, candidates):
    """trials: (state, value or curve, x or None); complete value, pruned curve of intermediate values."""
    study = optuna.create_study(direction="maximize")
    for state, v, x in trials:
        params = {} if x is None else {"x": dist.to_external_repr(x)}
        dists = {} if x is None else {"x": dist}
        if state == "complete":
            t = optuna.trial.create_trial(state=TrialState.COMPLETE, value=v, params=params, distributions=dists)
        else:
            t = optuna.trial.create_trial(
                state=TrialState.PRUNED,
                params=params,
                distributions=dists,
                intermediate_values={i: c for i, c in enumerate(v)},
            )
        study.add_trial(t)
    frozen = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    below, above = _split_trials(study, frozen, default_gamma(len(frozen)))
    sampler = optuna.samplers.TPESampler()
    space = {"x": dist}
    l = sampler._build_parzen_estimator(study, space, below, handle_below=True)
    g = sampler._build_parzen_estimator(study, space, above, handle_below=False)
    acq = sampler._compute_acquisition_func({"x": np.asarray(candidates, dtype=float)}, l, g)
    return {
        "name": name,
        "dist": dist_json(dist),
        "trials": [
            {"state": s, "value": v if s == "complete" else None, "curve": v if s == "pruned" else None, "x": x}
            for s, v, x in trials
        ],
        "below": sorted(t.number for t in below),
        "candidates": [float(c) for c in candidates],
        "acquisition": acq.tolist(),
    }


def tpe_cases():
    rng = np.random.RandomState(1)
    f = FloatDistribution(-5.0, 5.0)
    trials = []
    for i in range(34):
        x = float(rng.uniform(-5, 5))
        if i % 7 == 3:
            trials.append(("pruned", [float(-abs(x)), float(-abs(x) + 0.5)][: 1 + i % 2], x))
        elif i % 11 == 5:
            trials.append(("complete", float(-(x - 1) ** 2), None))  # a trial that did not use x
        else:
            trials.append(("complete", float(-(x - 1) ** 2), x))
    cat = CategoricalDistribution(["ce", "focal", "x"])
    cat_trials = [("complete", float(v), int(c)) for v, c in zip(rng.uniform(0, 1, 15), rng.randint(0, 3, 15))]
    cat_trials.append(("pruned", [0.2, 0.9], 1))
    lg = FloatDistribution(1e-5, 5e-5, log=True)
    lg_trials = [("complete", float(-abs(math.log(x) - math.log(2.8e-5))), float(x)) for x in rng.uniform(1e-5, 5e-5, 12)]
    return [
        tpe_case("float-mixed", f, trials, np.linspace(-5, 5, 13)),
        tpe_case("categorical", cat, cat_trials, [0, 1, 2]),
        tpe_case("log-lr", lg, lg_trials, [1e-5, 2e-5, 2.8e-5, 4e-5, 5e-5]),
    ]


def joint_cases():
    rng = np.random.RandomState(2)
    dists = {
        "lr": FloatDistribution(1e-5, 5e-5, log=True),
        # Distinct integer values: with ties, which observation gets which bandwidth follows numpy's unstable
        # argsort in Optuna (kre keeps trial order), and in a joint estimator that changes the numbers.
        "warmup_steps": IntDistribution(0, 200),
        "dropout": FloatDistribution(0.0, 0.2),
        "pooling": CategoricalDistribution(["entity-start", "mean", "attention", "cls"]),
    }
    study = optuna.create_study(direction="maximize")
    rows = []
    warmups = rng.choice(201, size=30, replace=False)
    for i in range(30):
        x = {
            "lr": float(np.exp(rng.uniform(np.log(1e-5), np.log(5e-5)))),
            "warmup_steps": int(warmups[i]),
            "dropout": float(rng.uniform(0, 0.2)),
            "pooling": int(rng.randint(0, 4)),
        }
        value = float(-abs(math.log(x["lr"] / 2.8e-5)) - 0.01 * abs(x["warmup_steps"] - 60) - x["dropout"] + 0.3 * (x["pooling"] == 2))
        params = {k: dists[k].to_external_repr(v) for k, v in x.items()}
        study.add_trial(optuna.trial.create_trial(value=value, params=params, distributions=dists))
        rows.append({"value": value, "x": [float(x[k]) for k in dists]})
    frozen = study.get_trials(deepcopy=False)
    below, above = _split_trials(study, frozen, default_gamma(len(frozen)))
    sampler = optuna.samplers.TPESampler()
    l = sampler._build_parzen_estimator(study, dists, below, handle_below=True)
    g = sampler._build_parzen_estimator(study, dists, above, handle_below=False)
    candidates = [[1e-5, 0, 0.0, 0], [2.8e-5, 60, 0.05, 2], [4e-5, 200, 0.2, 1], [2e-5, 17, 0.1, 3]]
    acq = sampler._compute_acquisition_func(
        {k: np.asarray([c[i] for c in candidates], dtype=float) for i, k in enumerate(dists)}, l, g
    )
    return [{
        "name": "report-like",
        "names": list(dists),
        "dists": [dist_json(d) for d in dists.values()],
        "trials": rows,
        "candidates": candidates,
        "acquisition": acq.tolist(),
    }]


def main():
    out = {
        "optuna": optuna.__version__,
        "numpy": np.__version__,
        "parzen": parzen_cases(),
        "ppf": ppf_cases(),
        "log_mass": log_mass_cases(),
        "tpe": tpe_cases(),
        "joint": joint_cases(),
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
