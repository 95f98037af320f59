#!/usr/bin/env python3
"""Writes the scikit-learn parity fixtures of `crates/re-metrics`.

Reference environment (PyPI):
    python3 -m venv .venv-sk && .venv-sk/bin/pip install numpy scikit-learn
Run from the repository root:
    .venv-sk/bin/python tools/make_metric_fixtures.py
Output:
    crates/re-metrics/tests/fixtures/sklearn_metrics.json   (read by crates/re-metrics/tests/sklearn_parity.rs)

Every expected number comes from scikit-learn exactly as the KLUE scorer calls it (`klue_re_micro_f1`,
`klue_re_auprc` generalised from 30 to k classes), plus `average_precision_score`, `accuracy_score`,
`precision_recall_fscore_support` (zero_division = "warn"/1/nan), `confusion_matrix` and the full
`precision_recall_curve` arrays of the small cases.

Score matrices are stored as a string of Python `repr` floats (round-trip exact; parsed in Rust with
`str::parse::<f64>`, which is correctly rounded). The two large cases are not stored: they are regenerated on both
sides by the LCG of `re_metrics::synthetic::klue_like_scores` (ported below, exact IEEE operations only) and checked
with an FNV-1a hash of the float bits. NaN (zero_division = nan) is written as JSON null.
"""
import json
import math
import struct
import sys
import warnings
from pathlib import Path

import numpy as np
import sklearn
import sklearn.metrics

warnings.simplefilter("ignore")  # scikit-learn warns on classes without positives / ill-defined ratios

OUT = Path(__file__).resolve().parent.parent / "crates" / "re-metrics" / "tests" / "fixtures" / "sklearn_metrics.json"
MASK64 = (1 << 64) - 1


# ---- the KLUE scorer, generalised from 30 to k classes (klue/baseline, compute_metrics) -------------------------
def klue_re_micro_f1(preds, labels, k, no_relation):
    label_indices = [i for i in range(k) if i != no_relation]
    return sklearn.metrics.f1_score(labels, preds, average="micro", labels=label_indices) * 100.0


def klue_re_auprc(probs, labels, k):
    labels = np.eye(k)[labels]
    score = np.zeros((k,))
    for c in range(k):
        targets_c = labels.take([c], axis=1).ravel()
        preds_c = probs.take([c], axis=1).ravel()
        precision, recall, _ = sklearn.metrics.precision_recall_curve(targets_c, preds_c)
        score[c] = sklearn.metrics.auc(recall, precision)
    return float(np.average(score) * 100.0), [float(s) for s in score]


# ---- the generator shared with Rust (re_metrics::synthetic) -------------------------------------------------------
def klue_like_scores(seed, n, k):
    state = seed

    def uniform():
        nonlocal state
        state = (state * 6364136223846793005 + 1442695040888963407) & MASK64
        return (state >> 11) / 9007199254740992.0

    gold, probs = [], []
    for _ in range(n):
        u = uniform()
        g = min(k - 1, int(math.floor(u * u * float(k))))
        weights = []
        for _ in range(k):
            v = uniform()
            weights.append(v * v * v * v)
        boost = uniform()
        weights[g] = weights[g] + (0.25 + 2.0 * boost)
        total = 0.0
        for w in weights:
            total += w
        probs.extend(w / total for w in weights)
        gold.append(g)
    return np.array(gold, dtype=np.int64), np.array(probs, dtype=np.float64).reshape(n, k)


def fnv1a_bits(values):
    """FNV-1a 64 over the little-endian bytes of the float64 values (same in the Rust test)."""
    h = 0xCBF29CE484222325
    for byte in struct.pack("<%dd" % len(values), *values):
        h ^= byte
        h = (h * 0x100000001B3) & MASK64
    return "%016x" % h


# ---- helpers -----------------------------------------------------------------------------------------------------
def nan_to_none(values):
    return [None if (isinstance(v, float) and math.isnan(v)) else v for v in values]


def softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def expected_for(gold, probs, k, no_relation, with_curves):
    pred = probs.argmax(axis=1)
    auprc, pr_auc = klue_re_auprc(probs, gold, k)
    one_hot = np.eye(k)[gold]
    ap = [float(sklearn.metrics.average_precision_score(one_hot[:, c], probs[:, c])) for c in range(k)]
    ap_macro = float(np.average(ap))
    ap_multilabel = float(sklearn.metrics.average_precision_score(one_hot, probs, average="macro"))
    subset = [c for c in range(k) if c % 3 != 0] or [0]
    prf = {}
    for name, zd in (("zero", "warn"), ("one", 1.0), ("nan", np.nan)):
        p, r, f, s = sklearn.metrics.precision_recall_fscore_support(
            gold, pred, labels=list(range(k)), average=None, zero_division=zd
        )
        prf[name] = {
            "precision": nan_to_none([float(x) for x in p]),
            "recall": nan_to_none([float(x) for x in r]),
            "f1": nan_to_none([float(x) for x in f]),
            "support": [int(x) for x in s],
        }
    out = {
        "pred": [int(x) for x in pred],
        "micro_f1": float(klue_re_micro_f1(pred, gold, k, no_relation)),
        "micro_f1_subset": {
            "labels": subset,
            "value": float(sklearn.metrics.f1_score(gold, pred, average="micro", labels=subset) * 100.0),
        },
        "auprc": auprc,
        "pr_auc_per_class": pr_auc,
        "ap_per_class": ap,
        "ap_macro": ap_macro,
        "ap_macro_multilabel": ap_multilabel,
        "accuracy": float(sklearn.metrics.accuracy_score(gold, pred)),
        "prf": prf,
        "confusion_matrix": sklearn.metrics.confusion_matrix(gold, pred, labels=list(range(k))).tolist(),
    }
    if with_curves:
        curves = []
        for c in range(k):
            p, r, t = sklearn.metrics.precision_recall_curve(one_hot[:, c], probs[:, c])
            curves.append({"precision": [float(x) for x in p], "recall": [float(x) for x in r],
                           "thresholds": [float(x) for x in t]})
        out["curves"] = curves
    return out


def stored_case(name, gold, probs, no_relation=0, with_curves=False):
    gold = np.asarray(gold, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    n, k = probs.shape
    assert gold.shape == (n,)
    return {
        "name": name,
        "num_labels": k,
        "no_relation": no_relation,
        "gold": [int(g) for g in gold],
        "probs": " ".join(repr(float(x)) for x in probs.ravel()),
        "expected": expected_for(gold, probs, k, no_relation, with_curves),
    }


def generated_case(name, seed, n, k):
    gold, probs = klue_like_scores(seed, n, k)
    return {
        "name": name,
        "num_labels": k,
        "no_relation": 0,
        "generator": {"kind": "klue_like_scores", "seed": seed, "n": n, "k": k},
        "gold": [int(g) for g in gold],
        "probs_fnv1a": fnv1a_bits(probs.ravel().tolist()),
        "expected": expected_for(gold, probs, k, 0, False),
    }


def random_case(rng, name, n, k, sharpness=2.0, with_curves=False):
    gold = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) * sharpness
    logits[np.arange(n), gold] += rng.uniform(0.0, 3.0, n)  # informative but imperfect
    return stored_case(name, gold, softmax(logits), with_curves=with_curves)


def main():
    rng = np.random.default_rng(20240611)
    cases = []

    # 7 x 3 toy, small enough to check by hand: ties inside and across classes.
    toy_gold = [0, 1, 2, 0, 1, 0, 2]
    toy_probs = [
        [0.6, 0.3, 0.1],
        [0.2, 0.5, 0.3],
        [0.3, 0.3, 0.4],
        [0.5, 0.25, 0.25],
        [0.5, 0.25, 0.25],
        [0.1, 0.6, 0.3],
        [0.3, 0.3, 0.4],
    ]
    cases.append(stored_case("toy_7x3", toy_gold, toy_probs, with_curves=True))

    cases.append(random_case(rng, "random_50x30", 50, 30, with_curves=True))
    cases.append(random_case(rng, "random_500x30", 500, 30))

    # Heavy ties: scores rounded to one decimal (not renormalised; AUPRC takes any scores).
    gold = rng.integers(0, 6, 300)
    raw = softmax(rng.normal(size=(300, 6)) * 1.5 + np.eye(6)[gold] * 1.0)
    cases.append(stored_case("ties_300x6", gold, np.round(raw, 1), with_curves=True))

    # Classes 4, 6, 8, 9 never in gold (predictions may still pick some of them).
    present = np.array([0, 1, 2, 3, 5, 7])
    gold = present[rng.integers(0, len(present), 120)]
    logits = rng.normal(size=(120, 10)) * 2.0
    logits[np.arange(120), gold] += 1.5
    cases.append(stored_case("absent_classes_120x10", gold, softmax(logits), with_curves=True))

    # All predictions correct / all wrong.
    gold = rng.integers(0, 5, 40)
    logits = rng.normal(size=(40, 5))
    logits[np.arange(40), gold] += 10.0
    cases.append(stored_case("all_correct_40x5", gold, softmax(logits)))
    wrong = (gold + 1 + rng.integers(0, 4, 40)) % 5
    logits = rng.normal(size=(40, 5))
    logits[np.arange(40), wrong] += 10.0
    cases.append(stored_case("all_wrong_40x5", gold, softmax(logits)))

    # A single class present in gold.
    gold = np.full(30, 2)
    cases.append(stored_case("single_class_30x4", gold, softmax(rng.normal(size=(30, 4)) * 2.0), with_curves=True))

    # Only no_relation in gold and predictions: micro-F1 is 0/0 → 0.
    gold = np.zeros(20, dtype=np.int64)
    logits = rng.normal(size=(20, 4))
    logits[:, 0] += 8.0
    cases.append(stored_case("only_no_relation_20x4", gold, softmax(logits)))

    # Raw logits as scores: negative values, exact zeros of both signs, ties.
    gold = rng.integers(0, 4, 60)
    logits = np.round(rng.normal(size=(60, 4)) * 2.0, 1)
    logits[::7, 1] = -0.0
    logits[3::7, 1] = 0.0
    logits[np.arange(60), gold] += 1.0
    cases.append(stored_case("logits_60x4", gold, logits, no_relation=1, with_curves=True))

    # Shared with the benchmark and the sklearn timing script: not stored, regenerated.
    cases.append(generated_case("lcg_2000x30", 2000, 2000, 30))
    cases.append(generated_case("lcg_7765x30_bench", 42, 7765, 30))

    doc = {
        "generated_by": "tools/make_metric_fixtures.py",
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scikit_learn": sklearn.__version__,
        "cases": cases,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = OUT.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, allow_nan=False, separators=(",", ":")) + "\n")
    tmp.replace(OUT)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.2f} MB, {len(cases)} cases)")


if __name__ == "__main__":
    main()
