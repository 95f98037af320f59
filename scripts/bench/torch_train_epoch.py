#!/usr/bin/env python3
"""One epoch of relation-classifier fine-tuning in PyTorch, set up as `kre train` does (the GPU epoch comparison).

Run (GPU machine; `python3` there has torch + transformers):
    python3 scripts/bench/torch_train_epoch.py --device cuda --precision bf16 --out pytorch.json
Smoke test (CPU, 2 steps):
    .venv-bench/bin/python scripts/bench/torch_train_epoch.py --device cpu --precision fp32 --max-records 64 \
        --threads 2 --out target/bench-results/gpu/pytorch-cpu-smoke.json
Normally started by scripts/bench/gpu_epoch.sh, next to `kre train` with the same settings (README.md,
"GPU epoch comparison").

What runs, with the same choices as kre's defaults (crates/re-train: trainer.rs, batches.rs, schedule.rs, optim.rs;
crates/re-data: encode.rs, markers.rs; crates/re-models: head.rs):
  data       KLUE-RE JSON records (default $KRE_CACHE/bench/synth-32470.json), labels in KLUE's official order;
             `--max-records N` keeps the first N (kre: `--max-train-records N`).
  markers    typed-punct with English type words: subject `@ * type * word @`, object `# ^ type ^ word #`
             (mark_typed_punct below is torch_rows.py's, copied verbatim; it reproduces kre's texts).
  tokens     tokenizers' Tokenizer from `--tokenizer` (a tokenizer.json; default the Korean WordPiece fixture kre's
             tests use, the same file gpu_epoch.sh puts next to the model for kre). Marker scheme tokens are added as
             special tokens (none for typed-punct) and the embedding matrix is resized to the new vocabulary when any
             were added, as kre does (new rows normal(0, initializer_range)). Tokenized without special tokens, then
             kre's entity-aware window when longer than max_length - specials (never happens on the synthetic set,
             whose longest marked record is exactly 128 tokens), then the post-processor's prefix/suffix
             ([CLS] … [SEP]). Start positions = the token of the opening `@` / `#` (0 when cut).
  batches    kre's `epoch_batches`: shuffle with seed + epoch, then (length bucketing, kre's default) sort by length
             within windows of 50 batches and shuffle the batches; `--no-length-bucketing` as in kre. Python's
             `random` replaces kre's ChaCha8, so the batches are not the same ones, only built the same way. Each
             batch is padded to its own longest record (dynamic padding) with the tokenizer's pad id.
  model      AutoModel.from_pretrained(--model, add_pooling_layer=False) (default $KRE_CACHE/bench/roberta-base-random,
             made by make_bench_inputs.py) → hidden states at the subject and object start tokens, concatenated
             (2 × hidden) → dropout 0.1 → Linear(2 × hidden, 30) (normal(0, 0.02), bias 0) → mean cross-entropy.
  optimiser  AdamW lr 5e-5, betas 0.9/0.999, eps 1e-8, weight decay 0.01 except biases and LayerNorm weights;
             `fused=True` on CUDA (HF Trainer's default optimiser `adamw_torch_fused` for torch >= 2.8), torch's
             default implementation on the CPU; global-norm clipping at 1.0; linear schedule with warmup
             ceil(0.1 × steps) (HF get_linear_schedule_with_warmup = kre's LrSchedule); zero_grad(set_to_none=True).
  precision  fp32, or bf16 = forward and loss under torch.autocast("cuda", dtype=torch.bfloat16) with f32 weights
             and optimiser (PyTorch AMP; kre's bf16 instead keeps bf16 weights with f32 master copies).

Timing: `--warmup-steps` (default 3) steps on the epoch's first batches run first at learning rate 0 (the weights do
not move), then the optimiser state is cleared and the RNG reseeded; they are timed and reported separately
(`warmup`). Then the epoch: CUDA is synchronised before each clock read, the loss is accumulated on the device and
read once at the end (no per-step host sync, as HF Trainer between logging steps). Tokenizing and collating the
first batch happen before; collating later batches (pinned host memory, non-blocking copies) is inside the loop, as
kre collates inside its loop. kre's `samples_per_sec` likewise covers only its training loop, but it includes its
first steps (kernel JIT compilation) and reads the loss back after every step.

Output (`--out FILE.json`, else stdout): {"side": "pytorch", "device", "precision", "records", "epoch_seconds",
"samples_per_s", "max_memory_gib", "max_memory_reserved_gib", "versions", "gpu", "warmup", "batches",
"padded_tokens", "real_tokens", "train_loss", "settings", …}; `epoch_seconds`/`samples_per_s` are per epoch and over
all epochs respectively (one epoch: the same thing).
"""
import argparse
import datetime
import json
import math
import os
import platform
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TOKENIZER = ROOT / "crates" / "re-data" / "tests" / "fixtures" / "encode" / "korean-wordpiece.json"

# crates/re-data/src/labels.rs KLUE_RE_LABELS: the 30 KLUE-RE relations in the official order (kre's default map).
KLUE_RE_LABELS = [
    "no_relation", "org:dissolved", "org:founded", "org:place_of_headquarters", "org:alternate_names",
    "org:member_of", "org:members", "org:political/religious_affiliation", "org:product", "org:founded_by",
    "org:top_members/employees", "org:number_of_employees/members", "per:date_of_birth", "per:date_of_death",
    "per:place_of_birth", "per:place_of_death", "per:place_of_residence", "per:origin", "per:employee_of",
    "per:schools_attended", "per:alternate_names", "per:parents", "per:children", "per:siblings", "per:spouse",
    "per:other_family", "per:colleagues", "per:product", "per:religion", "per:title",
]


def cache_dir() -> Path:
    return Path(os.environ.get("KRE_CACHE") or Path.home() / ".cache" / "kre")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=cache_dir() / "bench" / "synth-32470.json",
                   help="KLUE-RE JSON records (default $KRE_CACHE/bench/synth-32470.json)")
    p.add_argument("--tokenizer", type=Path, default=DEFAULT_TOKENIZER, help="a tokenizer.json (default: %(default)s)")
    p.add_argument("--model", type=Path, default=cache_dir() / "bench" / "roberta-base-random",
                   help="Hugging Face model directory (default $KRE_CACHE/bench/roberta-base-random)")
    p.add_argument("--device", default="cuda", help="cuda | cuda:N | cpu (default cuda)")
    p.add_argument("--precision", default="bf16", choices=["bf16", "fp32", "f32"],
                   help="bf16 = torch.autocast('cuda', dtype=torch.bfloat16) (CUDA only); fp32 (alias f32)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--max-records", type=int, default=0, help="use only the first N records (0 = all)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--warmup-ratio", type=float, default=0.1)
    p.add_argument("--grad-clip", type=float, default=1.0, help="global gradient-norm clipping (0 disables)")
    p.add_argument("--dropout", type=float, default=0.1, help="head dropout (the encoder's comes from config.json)")
    p.add_argument("--seed", type=int, default=42, help="kre train's default seed")
    p.add_argument("--no-length-bucketing", action="store_true", help="plain shuffle (kre: --no-length-bucketing)")
    p.add_argument("--warmup-steps", type=int, default=3,
                   help="untimed-in-the-epoch steps at lr 0 before the epoch, reported separately (default 3)")
    p.add_argument("--adamw", default="auto", choices=["auto", "fused", "foreach", "for-loop"],
                   help="AdamW implementation; auto = fused on CUDA, torch's default on the CPU")
    p.add_argument("--attn", default=None,
                   help="attn_implementation for from_pretrained (sdpa, eager, …; default: transformers' choice)")
    p.add_argument("--tf32", action="store_true", help="allow TF32 matmuls in fp32 (torch's default: off)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    p.add_argument("--log-every", type=int, default=200, help="progress line every N steps on stderr (0 = none)")
    p.add_argument("--out", type=Path, help="write the JSON here (default: stdout)")
    args = p.parse_args()
    if args.precision == "f32":
        args.precision = "fp32"
    if args.epochs < 1 or args.batch_size < 1 or args.max_length < 8 or args.warmup_steps < 0:
        p.error("--epochs and --batch-size must be >= 1, --max-length >= 8, --warmup-steps >= 0")
    if args.precision == "bf16" and not args.device.startswith("cuda"):
        p.error("--precision bf16 means torch.autocast('cuda', …): it needs --device cuda (as kre's bf16 does)")
    return args


ARGS = parse_args()
if ARGS.threads > 0:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS",
                "RAYON_RS_NUM_CPUS"):
        os.environ[var] = str(ARGS.threads)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

if ARGS.threads > 0:
    torch.set_num_threads(ARGS.threads)


def log(msg):
    print(f"[torch_train_epoch] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- markers (copied from torch_rows.py, verbatim)
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


def block_len(entity, is_subject):
    """Characters of the marked block mark_typed_punct writes for `entity` (the entity-aware window keeps it whole)."""
    delim, type_delim = ("@", "*") if is_subject else ("#", "^")
    word = TYPE_WORDS.get(entity["type"], entity["type"].lower())
    return len(f"{delim} {type_delim} {word} {type_delim} {entity['word']} {delim}")


# typed-punct registers no marker tokens (MarkerScheme::special_tokens returns none for it).
TYPED_PUNCT_SPECIAL_TOKENS = []


# ---------------------------------------------------------------- encoding (kre's RelationEncoder, typed-punct)
def tokens_overlapping(offsets, start, end):
    """Token range [first, last + 1) of tokens whose character offsets overlap [start, end); None if none."""
    hits = [i for i, (a, z) in enumerate(offsets) if a < z and a < end and z > start]
    return (hits[0], hits[-1] + 1) if hits else None


def special_layout(tok):
    """Token ids the post-processor puts before and after one sequence (e.g. [CLS] / [SEP])."""
    enc = tok.encode("a", add_special_tokens=True)
    seq = enc.sequence_ids
    content = [i for i, s in enumerate(seq) if s is not None]
    if not content:
        return [], []
    return enc.ids[:content[0]], enc.ids[content[-1] + 1:]


def pad_id_of(tok):
    padding = tok.padding
    if padding and padding.get("pad_id") is not None:
        return int(padding["pad_id"])
    for t in ("[PAD]", "<pad>", "<PAD>"):
        i = tok.token_to_id(t)
        if i is not None:
            return i
    return 0


def encode_records(records, tok, max_length):
    """kre's encode for typed-punct: marked text → tokens (no specials) → entity-aware window → prefix/suffix."""
    prefix, suffix = special_layout(tok)
    budget = max_length - len(prefix) - len(suffix)
    if budget < 1:
        sys.exit(f"max_length {max_length} leaves no room for text")
    marked = [mark_typed_punct(r) for r in records]
    encodings = tok.encode_batch([m[0] for m in marked], add_special_tokens=False)
    examples, cut = [], 0
    for r, (text, sc, oc), enc in zip(records, marked, encodings):
        offsets = enc.offsets
        ids = enc.ids
        s_block = tokens_overlapping(offsets, sc, sc + block_len(r["subject_entity"], True))
        o_block = tokens_overlapping(offsets, oc, oc + block_len(r["object_entity"], False))
        s_tok = tokens_overlapping(offsets, sc, sc + 1)
        o_tok = tokens_overlapping(offsets, oc, oc + 1)
        if not (s_block and o_block and s_tok and o_tok):
            sys.exit(f"record {r.get('guid', '?')}: a marker produced no token in {text!r}")
        n = len(ids)
        if n <= budget:
            w0, w1 = 0, n
        else:
            need0, need1 = min(s_block[0], o_block[0]), max(s_block[1], o_block[1])
            if need1 - need0 <= budget:
                spare = budget - (need1 - need0)
                start = max(need0 - spare // 2, 0)
                w1 = min(start + budget, n)
                w0 = w1 - budget
            else:
                w0, w1 = need0, need0 + budget
        inside = lambda b: w0 <= b[0] and b[1] <= w1  # noqa: E731
        if not (inside(s_block) and inside(o_block)):
            cut += 1
        shift = lambda i: i - w0 + len(prefix) if w0 <= i < w1 else 0  # noqa: E731
        examples.append((prefix + ids[w0:w1] + suffix, shift(s_tok[0]), shift(o_tok[0])))
    return examples, cut


# ---------------------------------------------------------------- batches (kre's epoch_batches)
def epoch_batches(lengths, batch_size, seed, bucketing):
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if bucketing:
        window = batch_size * 50
        order = [i for w in range(0, len(order), window) for i in sorted(order[w:w + window], key=lengths.__getitem__)]
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if bucketing:
        rng.shuffle(batches)
    return batches


def collate(idx, examples, labels, pad, pin):
    seq = max(len(examples[i][0]) for i in idx)
    ids = np.full((len(idx), seq), pad, dtype=np.int64)
    mask = np.zeros((len(idx), seq), dtype=np.int64)
    for row, i in enumerate(idx):
        toks = examples[i][0]
        ids[row, :len(toks)] = toks
        mask[row, :len(toks)] = 1
    tensors = [torch.from_numpy(ids), torch.from_numpy(mask),
               torch.tensor([examples[i][1] for i in idx], dtype=torch.long),
               torch.tensor([examples[i][2] for i in idx], dtype=torch.long),
               torch.tensor([labels[i] for i in idx], dtype=torch.long)]
    return [t.pin_memory() for t in tensors] if pin else tensors


# ---------------------------------------------------------------- model
class RelationClassifier(torch.nn.Module):
    """Encoder → hidden states at subject-start and object-start (concat, 2 × hidden) → dropout → linear."""

    def __init__(self, model_dir, num_labels, dropout, attn):
        super().__init__()
        from transformers import AutoModel

        kwargs = {"attn_implementation": attn} if attn else {}
        try:
            self.encoder = AutoModel.from_pretrained(str(model_dir), add_pooling_layer=False, **kwargs)
        except TypeError:  # an encoder class without a pooler argument
            self.encoder = AutoModel.from_pretrained(str(model_dir), **kwargs)
        hidden = self.encoder.config.hidden_size
        self.dropout = torch.nn.Dropout(dropout)
        self.classifier = torch.nn.Linear(2 * hidden, num_labels)
        torch.nn.init.normal_(self.classifier.weight, std=0.02)
        torch.nn.init.zeros_(self.classifier.bias)

    def forward(self, input_ids, attention_mask, subject_start, object_start):
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        pooled = torch.cat([hidden[rows, subject_start], hidden[rows, object_start]], dim=-1)
        return self.classifier(self.dropout(pooled))


def resize_like_kre(model, tok, added):
    """kre resizes the embedding matrix to the tokenizer's rows (highest id + 1) only when marker tokens were added."""
    if added == 0:
        return None
    rows = max(tok.get_vocab(with_added_tokens=True).values()) + 1
    try:
        model.encoder.resize_token_embeddings(rows, mean_resizing=False)  # new rows: normal(0, initializer_range)
    except TypeError:
        model.encoder.resize_token_embeddings(rows)
    return rows


def linear_schedule(step, warmup, total):
    """HF get_linear_schedule_with_warmup's factor = kre's LrSchedule::lr_at / base_lr."""
    if step < warmup:
        return step / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


# ---------------------------------------------------------------- report helpers
def versions():
    import tokenizers
    import transformers

    out = {"torch": torch.__version__, "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
           "numpy": np.__version__, "python": platform.python_version(), "cuda": torch.version.cuda}
    if torch.cuda.is_available():
        out["cudnn"] = torch.backends.cudnn.version()
    return out


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


def main():
    from tokenizers import AddedToken, Tokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    device = torch.device(ARGS.device)
    cuda = device.type == "cuda"
    if cuda and not torch.cuda.is_available():
        sys.exit("--device cuda but torch.cuda.is_available() is False")
    if cuda:
        if device.index is not None:
            torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = ARGS.tf32
    bf16 = ARGS.precision == "bf16"

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    # ---- data (not timed)
    t_load = time.perf_counter()
    if not ARGS.data.exists():
        sys.exit(f"{ARGS.data} missing (scripts/bench/setup.sh or `kre synth --n 32470 --seed 1 --dev-ratio 0 "
                 f"--test-ratio 0 --out DIR` writes it)")
    records = json.loads(ARGS.data.read_text(encoding="utf-8"))
    if ARGS.max_records > 0:
        records = records[:ARGS.max_records]
    label_id = {name: i for i, name in enumerate(KLUE_RE_LABELS)}
    try:
        labels = [label_id[r["label"]] for r in records]
    except KeyError as e:
        sys.exit(f"label {e} is not a KLUE-RE label")
    tok = Tokenizer.from_file(str(ARGS.tokenizer))
    tok.no_truncation()
    tok.no_padding()
    added = tok.add_special_tokens([AddedToken(t, normalized=False) for t in TYPED_PUNCT_SPECIAL_TOKENS])
    pad = pad_id_of(tok)
    examples, cut = encode_records(records, tok, ARGS.max_length)
    lengths = [len(e[0]) for e in examples]
    log(f"{len(examples)} records encoded in {time.perf_counter() - t_load:.1f}s (mean {np.mean(lengths):.1f} tokens, "
        f"max {max(lengths)}, {cut} lost an entity to the {ARGS.max_length}-token window, pad id {pad})")

    # ---- model (not timed)
    torch.manual_seed(ARGS.seed)
    model = RelationClassifier(ARGS.model, len(KLUE_RE_LABELS), ARGS.dropout, ARGS.attn)
    resized = resize_like_kre(model, tok, added)
    model.to(device).train()
    n_params = sum(p.numel() for p in model.parameters())
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name else decay).append(p)
    impl = ARGS.adamw if ARGS.adamw != "auto" else ("fused" if cuda else "default")
    impl_kwargs = {"fused": {"fused": True}, "foreach": {"foreach": True}, "for-loop": {"foreach": False},
                   "default": {}}[impl]
    optim = torch.optim.AdamW([{"params": decay, "weight_decay": ARGS.weight_decay},
                               {"params": no_decay, "weight_decay": 0.0}],
                              lr=ARGS.lr, betas=(0.9, 0.999), eps=1e-8, **impl_kwargs)
    bucketing = not ARGS.no_length_bucketing
    steps_per_epoch = math.ceil(len(examples) / ARGS.batch_size)
    total_steps = steps_per_epoch * ARGS.epochs
    warmup_sched = math.ceil(ARGS.warmup_ratio * total_steps)
    attn = getattr(model.encoder.config, "_attn_implementation", None)
    log(f"model {ARGS.model} ({n_params / 1e6:.1f} M parameters, attention {attn}), AdamW {impl}, "
        f"{steps_per_epoch} steps/epoch, device {device}, precision {ARGS.precision}")

    def step(batch, lr):
        ids, mask, subj, obj, y = (t.to(device, non_blocking=True) for t in batch)
        for g in optim.param_groups:
            g["lr"] = lr
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            logits = model(ids, mask, subj, obj)
            loss = torch.nn.functional.cross_entropy(logits.float(), y)
        loss.backward()
        if ARGS.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), ARGS.grad_clip)
        optim.step()
        optim.zero_grad(set_to_none=True)
        return loss.detach()

    if cuda:
        torch.cuda.reset_peak_memory_stats(device)

    # ---- warm-up: the first batches of epoch 1 at lr 0 (weights unchanged), then a fresh optimiser state
    first = epoch_batches(lengths, ARGS.batch_size, ARGS.seed + 1, bucketing)
    warm = []
    sync()
    t_warm = time.perf_counter()
    for idx in first[:ARGS.warmup_steps]:
        t = time.perf_counter()
        step(collate(idx, examples, labels, pad, cuda), 0.0)
        sync()
        warm.append(time.perf_counter() - t)
    warmup_seconds = time.perf_counter() - t_warm
    optim.state.clear()
    optim.zero_grad(set_to_none=True)
    if warm:
        log(f"warm-up: {len(warm)} steps in {warmup_seconds:.2f}s (first {warm[0]:.2f}s, last {warm[-1]:.3f}s)")

    # ---- the timed epochs
    global_step = 0
    epochs = []
    padded_tokens = real_tokens = 0
    for epoch in range(1, ARGS.epochs + 1):
        torch.manual_seed(ARGS.seed * 1_000_003 + epoch)  # dropout depends on (seed, epoch), as in kre
        batches = first if epoch == 1 else epoch_batches(lengths, ARGS.batch_size, ARGS.seed + epoch, bucketing)
        padded_tokens += sum(len(b) * max(lengths[i] for i in b) for b in batches)
        real_tokens += sum(lengths[i] for b in batches for i in b)
        loss_sum = torch.zeros((), device=device)
        nxt = collate(batches[0], examples, labels, pad, cuda)
        sync()
        t0 = time.perf_counter()
        for bi, idx in enumerate(batches):
            batch = nxt
            lr = ARGS.lr * linear_schedule(global_step, warmup_sched, total_steps)
            loss_sum += step(batch, lr) * len(idx)
            global_step += 1
            if bi + 1 < len(batches):
                nxt = collate(batches[bi + 1], examples, labels, pad, cuda)
            if ARGS.log_every and (bi + 1) % ARGS.log_every == 0:
                el = time.perf_counter() - t0  # not synchronised: the host may run ahead of the GPU
                log(f"epoch {epoch} step {bi + 1}/{len(batches)} {el:.1f}s (~{(bi + 1) * ARGS.batch_size / el:.1f} "
                    f"samples/s, unsynchronised)")
        sync()
        seconds = time.perf_counter() - t0
        train_loss = loss_sum.item() / len(examples)
        epochs.append({"epoch": epoch, "seconds": seconds, "samples_per_s": len(examples) / seconds,
                       "train_loss": train_loss, "steps": len(batches), "last_lr": lr})
        log(f"epoch {epoch}: {seconds:.2f}s, {len(examples) / seconds:.1f} samples/s, train loss {train_loss:.4f}")

    total_seconds = sum(e["seconds"] for e in epochs)
    report = {
        "side": "pytorch",
        "device": str(device),
        "precision": ARGS.precision,
        "records": len(examples),
        "epochs": ARGS.epochs,
        "epoch_seconds": epochs[0]["seconds"] if ARGS.epochs == 1 else total_seconds / ARGS.epochs,
        "samples_per_s": len(examples) * ARGS.epochs / total_seconds,
        "max_memory_gib": torch.cuda.max_memory_allocated(device) / 2**30 if cuda else None,
        "max_memory_reserved_gib": torch.cuda.max_memory_reserved(device) / 2**30 if cuda else None,
        "versions": versions(),
        "gpu": torch.cuda.get_device_name(device) if cuda else None,
        "machine": machine(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "warmup": {"steps": len(warm), "seconds": warmup_seconds, "step_seconds": warm,
                   "note": "lr 0 on the epoch's first batches, before the timed epoch; optimiser state cleared after"},
        "per_epoch": epochs,
        "train_loss": epochs[-1]["train_loss"],
        "batches": steps_per_epoch,
        "padded_tokens": padded_tokens,
        "real_tokens": real_tokens,
        "mean_padded_length": padded_tokens / (len(examples) * ARGS.epochs),
        "records_cut_by_window": cut,
        "parameters": n_params,
        "settings": {
            "data": str(ARGS.data), "model": str(ARGS.model), "tokenizer": str(ARGS.tokenizer),
            "markers": "typed-punct", "pooling": "entity-start", "num_labels": len(KLUE_RE_LABELS),
            "batch_size": ARGS.batch_size, "max_length": ARGS.max_length, "lr": ARGS.lr,
            "weight_decay": ARGS.weight_decay, "warmup_ratio": ARGS.warmup_ratio, "warmup_steps_schedule": warmup_sched,
            "scheduler": "linear", "grad_clip": ARGS.grad_clip, "dropout": ARGS.dropout, "seed": ARGS.seed,
            "length_bucketing": bucketing, "adamw": impl, "attn_implementation": attn,
            "autocast": "cuda bfloat16" if bf16 else None, "tf32_matmul": bool(cuda and ARGS.tf32),
            "marker_tokens_added": added, "embedding_rows_after_resize": resized,
            "threads": torch.get_num_threads(),
        },
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
