#!/usr/bin/env python3
"""The PyTorch side of the side-by-side performance harness (the kre side is `examples/perf_rows.rs`).

Venv:  bash scripts/bench/setup.sh        (.venv-bench: torch CPU, transformers, tokenizers, numpy, scikit-learn)
Run:   .venv-bench/bin/python scripts/bench/torch_rows.py --threads 2 --out target/bench-results/pytorch.json
       [--rows encoder_minilm_b32_s128,...] [--reps 5] [--train-reps 3]
Full comparison: bash scripts/bench/run.sh (see scripts/bench/README.md for what each row measures).

Same weights, inputs and thread count as the kre side: the inputs are $KRE_CACHE/bench/{inputs.json,
roberta-base-random/, synth-32470.json} (make_bench_inputs.py and setup.sh write them) and
$KRE_CACHE/all-minilm-l6-v2 (scripts/install-minilm.sh). `--threads N` sets torch's intra- and inter-op pools,
OMP/MKL/OpenBLAS and the Rust rayon pool of HF `tokenizers` (RAYON_NUM_THREADS, RAYON_RS_NUM_CPUS) before any of
those libraries is imported.

Every row: one untimed warm-up run, then `reps` timed runs (time.perf_counter); median = sorted[reps // 2] (the
same index the Rust side uses), min, items/s = items / median. Output: one JSON object (see README.md).
"""
import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALL_ROWS = [
    "encoder_minilm_b32_s128",
    "encoder_roberta_base_b32_s128",
    "train_step_roberta_base_b16_s128",
    "tokenize_markers_32470",
    "evaluate_7765x30",
]
NUM_LABELS = 30
MAX_LENGTH = 128
TOKENIZER = ROOT / "crates" / "re-data" / "tests" / "fixtures" / "encode" / "korean-wordpiece.json"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2, help="threads for torch, BLAS/OpenMP and tokenizers (default 2)")
    p.add_argument("--rows", default=",".join(ALL_ROWS), help="comma-separated row ids (default: all)")
    p.add_argument("--reps", type=int, default=5, help="timed runs per row after one warm-up (default 5; "
                   "evaluate uses max(reps, 20))")
    p.add_argument("--train-reps", type=int, default=3, help="timed training steps after one warm-up (default 3)")
    p.add_argument("--out", type=Path, help="write the JSON here (default: stdout)")
    p.add_argument("--cache", type=Path, default=Path(os.environ.get("KRE_CACHE") or Path.home() / ".cache" / "kre"))
    args = p.parse_args()
    args.rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    for r in args.rows:
        if r not in ALL_ROWS:
            p.error(f"unknown row {r!r}; rows: {', '.join(ALL_ROWS)}")
    if args.threads < 1 or args.reps < 1 or args.train_reps < 1:
        p.error("--threads, --reps and --train-reps must be at least 1")
    return args


ARGS = parse_args()
# Thread pools must be sized before the libraries that read these variables are imported.
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
            "VECLIB_MAXIMUM_THREADS", "RAYON_NUM_THREADS", "RAYON_RS_NUM_CPUS"):
    os.environ[var] = str(ARGS.threads)
os.environ["TOKENIZERS_PARALLELISM"] = "true"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(ARGS.threads)
try:
    torch.set_num_interop_threads(ARGS.threads)
except RuntimeError:
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- timing
def time_row(row, items, reps, note, fn, warm_ups=1):
    """`warm_ups` untimed calls, then `reps` timed calls; the same JSON keys as perf_rows.rs."""
    try:
        t = time.perf_counter()
        for _ in range(warm_ups):
            fn()
        log(f"{row}: {warm_ups} warm-up run(s) {time.perf_counter() - t:.3f}s")
        samples = []
        for _ in range(reps):
            t = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t)
    except Exception as e:  # a failing row is reported, the others still run
        log(f"{row}: {type(e).__name__}: {e}; skipped")
        return {"row": row, "error": f"{type(e).__name__}: {e}"}
    ordered = sorted(samples)
    median = ordered[len(ordered) // 2]
    log(f"{row}: median {median:.4f}s over {reps}")
    return {"row": row, "median_s": median, "min_s": ordered[0], "reps": reps, "warm_ups": warm_ups, "items": items,
            "items_per_s": items / median, "samples_s": samples, "note": note}


def read_inputs(cache):
    path = cache / "bench" / "inputs.json"
    if not path.exists():
        sys.exit(f"{path} missing: run scripts/bench/make_bench_inputs.py (or scripts/bench/setup.sh)")
    return json.loads(path.read_text())


# ---------------------------------------------------------------- rows 1-2: encoder forward
def encoder_row(row, model_cls, model_dir, inputs, reps):
    if not (model_dir / "model.safetensors").exists():
        return {"row": row, "error": f"{model_dir}/model.safetensors missing"}
    model = model_cls.from_pretrained(str(model_dir), add_pooling_layer=False).eval()
    ids = torch.tensor(inputs["ids_b32_s128"], dtype=torch.long)
    mask = torch.ones_like(ids)

    def forward():
        with torch.inference_mode():
            return model(input_ids=ids, attention_mask=mask).last_hidden_state

    attn = getattr(model.config, "_attn_implementation", "?")
    note = f"inference_mode, eval, last_hidden_state, no pooler, attention {attn}, all-ones mask"
    return time_row(row, ids.shape[0], reps, note, forward)


# ---------------------------------------------------------------- row 3: training step
class RelationClassifier(torch.nn.Module):
    """RobertaModel -> hidden states at subject-start and object-start (concat, 2 x hidden) -> dropout -> linear."""

    def __init__(self, model_dir, num_labels=NUM_LABELS, dropout=0.1):
        super().__init__()
        from transformers import RobertaModel

        self.encoder = RobertaModel.from_pretrained(str(model_dir), add_pooling_layer=False)
        hidden = self.encoder.config.hidden_size
        self.dropout = torch.nn.Dropout(dropout)
        self.classifier = torch.nn.Linear(2 * hidden, num_labels)
        torch.nn.init.normal_(self.classifier.weight, std=0.02)
        torch.nn.init.zeros_(self.classifier.bias)

    def forward(self, input_ids, attention_mask, subject_start, object_start):
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        rows = torch.arange(hidden.shape[0])
        pooled = torch.cat([hidden[rows, subject_start], hidden[rows, object_start]], dim=-1)
        return self.classifier(self.dropout(pooled))


# Untimed training steps: the first creates AdamW's moments, so a step runs at its steady memory peak from the second
# on (the same on the kre side, TRAIN_WARM_UPS in examples/perf_rows.rs).
TRAIN_WARM_UPS = 2


def train_step_row(row, cache, inputs, reps):
    model_dir = cache / "bench" / "roberta-base-random"
    if not (model_dir / "model.safetensors").exists():
        return {"row": row, "error": f"{model_dir}/model.safetensors missing"}
    torch.manual_seed(0)
    model = RelationClassifier(model_dir).train()
    # HF Trainer's grouping: no weight decay on biases and LayerNorm weights.
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name else decay).append(p)
    optim = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                              lr=5e-5, betas=(0.9, 0.999), eps=1e-8)
    ids = torch.tensor(inputs["ids_b32_s128"][:16], dtype=torch.long)
    mask = torch.ones_like(ids)
    labels = torch.tensor(inputs["labels_b16"], dtype=torch.long)
    subj = torch.tensor(inputs["subject_start_b16"], dtype=torch.long)
    obj = torch.tensor(inputs["object_start_b16"], dtype=torch.long)

    phases = []  # per call: forward (with the loss), backward, clip, optimizer (step + zero_grad) seconds

    def step():
        t0 = time.perf_counter()
        logits = model(ids, mask, subj, obj)
        loss = torch.nn.functional.cross_entropy(logits, labels)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        t3 = time.perf_counter()
        optim.step()
        optim.zero_grad(set_to_none=True)
        t4 = time.perf_counter()
        phases.append((t1 - t0, t2 - t1, t3 - t2, t4 - t3))
        return loss.item()

    attn = getattr(model.encoder.config, "_attn_implementation", "?")
    note = (f"train mode (dropout 0.1), forward + CE + backward + clip_grad_norm_ 1.0 + AdamW "
            f"(2 groups: {len(decay)} decay / {len(no_decay)} no-decay tensors), zero_grad; attention {attn}")
    out = time_row(row, ids.shape[0], reps, note, step, warm_ups=TRAIN_WARM_UPS)
    if "error" not in out:
        out["phases_median_s"] = phase_medians(phases[TRAIN_WARM_UPS:])  # the warm-up calls left out
    return out


def phase_medians(phases):
    """Median seconds of each phase of the timed training steps (the same keys as perf_rows.rs)."""
    names = ("forward", "backward", "clip", "optimizer")
    return {n: sorted(p[i] for p in phases)[len(phases) // 2] for i, n in enumerate(names)} if phases else {}


# ---------------------------------------------------------------- row 4: markers + tokenization
# typed-punct (Zhou & Chen 2021) with English type words, exactly kre's `typed-punct` scheme
# (crates/re-data/src/markers.rs, TypedPunctOptions::english): NOH is written "quantity".
TYPE_WORDS = {"PER": "person", "ORG": "organization", "LOC": "location", "DAT": "date", "POH": "other",
              "NOH": "quantity", "UNK": "entity"}


def mark_typed_punct(record):
    """Insert `@ * type * word @` (subject) and `# ^ type ^ word #` (object) by character offsets (end_idx inclusive).

    Returns (marked text, character index of the subject's `@`, character index of the object's `#`)."""
    s = record["sentence"]
    subj, obj = record["subject_entity"], record["object_entity"]
    first, second = (subj, obj) if subj["start_idx"] <= obj["start_idx"] else (obj, subj)
    out = ""
    cursor = 0  # character position in the sentence
    starts = {}
    for e in (first, second):
        out += s[cursor:e["start_idx"]]
        is_subject = e is subj
        delim, type_delim = ("@", "*") if is_subject else ("#", "^")
        starts[is_subject] = len(out)
        word = TYPE_WORDS.get(e["type"], e["type"].lower())
        out += f"{delim} {type_delim} {word} {type_delim} {e['word']} {delim}"
        cursor = e["end_idx"] + 1
    out += s[cursor:]
    return out, starts[True], starts[False]


def tokenize_row(row, cache, reps):
    from tokenizers import Tokenizer

    path = cache / "bench" / "synth-32470.json"
    if not path.exists():
        return {"row": row, "error": f"{path} missing (scripts/bench/setup.sh writes it with `kre synth`)"}
    records = json.loads(path.read_text(encoding="utf-8"))  # read outside the timing, as on the kre side
    tok = Tokenizer.from_file(str(TOKENIZER))
    tok.no_padding()
    tok.enable_truncation(max_length=MAX_LENGTH)

    def run():
        texts, subj_chars, obj_chars = [], [], []
        for r in records:
            text, sc, oc = mark_typed_punct(r)
            texts.append(text)
            subj_chars.append(sc)
            obj_chars.append(oc)
        encodings = tok.encode_batch(texts)  # [CLS] … [SEP], truncated to 128 tokens, rayon in Rust
        starts = []
        for enc, sc, oc in zip(encodings, subj_chars, obj_chars):
            s, o = enc.char_to_token(sc), enc.char_to_token(oc)  # None when truncation cut the marker
            starts.append((s or 0, o or 0))
        return encodings, starts

    encodings, starts = run()
    cut = sum(1 for s, o in starts if s == 0 or o == 0)
    n_tok = sum(len(e.ids) for e in encodings)
    note = (f"pure-Python marking + tokenizers {__import__('tokenizers').__version__} Tokenizer.encode_batch "
            f"(truncation 128, right), start markers via char_to_token; {n_tok} tokens, {cut} records lost a marker")
    return time_row(row, len(records), reps, note, run)


# ---------------------------------------------------------------- row 5: KLUE scorer
def evaluate_row(row, reps):
    sys.path.insert(0, str(ROOT / "scripts" / "bench"))
    import warnings

    from sklearn_metrics import klue_like_scores, klue_re_auprc, klue_re_micro_f1  # the KLUE scorer, verbatim

    warnings.simplefilter("ignore")
    gold, probs = klue_like_scores(42, 7765, NUM_LABELS)
    preds = probs.argmax(-1)  # outside the timing, as on the kre side

    def run():
        return klue_re_micro_f1(preds, gold), klue_re_auprc(probs, gold)

    f1, area = run()
    note = f"sklearn f1_score(micro, no_relation excluded) + per-class precision_recall_curve/auc; " \
           f"micro_f1 {f1:.6f} auprc {float(area):.6f}"
    return time_row(row, len(gold), max(reps, 20), note, run)


# ---------------------------------------------------------------- report
def machine():
    cpu = "unknown cpu"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{platform.machine()} {cpu}, {cores} cores"


def versions():
    import tokenizers
    import transformers

    out = {"torch": torch.__version__, "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
           "numpy": np.__version__, "python": platform.python_version()}
    try:
        import sklearn

        out["scikit-learn"] = sklearn.__version__
    except ImportError:
        pass
    return out


def backend_label():
    extras = []
    if torch.backends.mkl.is_available():
        extras.append("MKL")
    if torch.backends.mkldnn.is_available():
        extras.append("oneDNN")
    return f"torch {torch.__version__} cpu" + (f" ({', '.join(extras)})" if extras else "")


def main():
    from transformers import BertModel, RobertaModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    cache = ARGS.cache
    want = set(ARGS.rows)
    inputs = read_inputs(cache) if want & set(ALL_ROWS[:3]) else None
    rows = []
    for row in ALL_ROWS:
        if row not in want:
            continue
        if row == "encoder_minilm_b32_s128":
            rows.append(encoder_row(row, BertModel, cache / "all-minilm-l6-v2", inputs, ARGS.reps))
        elif row == "encoder_roberta_base_b32_s128":
            rows.append(encoder_row(row, RobertaModel, cache / "bench" / "roberta-base-random", inputs, ARGS.reps))
        elif row == "train_step_roberta_base_b16_s128":
            rows.append(train_step_row(row, cache, inputs, ARGS.train_reps))
        elif row == "tokenize_markers_32470":
            rows.append(tokenize_row(row, cache, ARGS.reps))
        elif row == "evaluate_7765x30":
            rows.append(evaluate_row(row, ARGS.reps))
    report = {
        "side": "pytorch",
        "backend": backend_label(),
        "threads": ARGS.threads,
        "torch_threads": {"intra_op": torch.get_num_threads(), "inter_op": torch.get_num_interop_threads()},
        "machine": machine(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "versions": versions(),
        "rows": rows,
    }
    text = json.dumps(report, indent=2)
    if ARGS.out:
        ARGS.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = ARGS.out.with_name(ARGS.out.name + ".partial")
        tmp.write_text(text + "\n")
        tmp.replace(ARGS.out)
        log(f"wrote {ARGS.out}")
    else:
        print(text)


if __name__ == "__main__":
    main()
