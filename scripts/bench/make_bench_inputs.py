#!/usr/bin/env python3
"""Shared inputs of the side-by-side performance harness (kre `examples/perf_rows.rs` vs `torch_rows.py`).

Venv:  bash scripts/bench/setup.sh            (creates .venv-bench and runs this script)
Run:   .venv-bench/bin/python scripts/bench/make_bench_inputs.py [--force]

Writes under $KRE_CACHE/bench/ (KRE_CACHE defaults to ~/.cache/kre), skipping what already exists:

  roberta-base-random/   config.json + model.safetensors of `RobertaModel(RobertaConfig(...))` built after
                         `torch.manual_seed(0)`: klue/roberta-base's shape (12 layers, hidden 768, 12 heads, FFN 3072,
                         vocab 32000, max_position_embeddings 514, type_vocab_size 1, pad_token_id 1), random weights
                         (HF `_init_weights`: normal(0, 0.02), LayerNorm 1/0), pooler included, f32.
  inputs.json            {"ids_b32_s128": 32 rows x 128 ids, "labels_b16": 16 labels in [0, 30),
                          "subject_start_b16": 16 positions in [1, 127), "object_start_b16": likewise}
                         drawn by `numpy.random.default_rng(0)` in that order: ids uniform in [5, 30522) (valid for
                         MiniLM's vocab 30522 and the 32000 vocab; never the RoBERTa pad id 1), then column 0 set to 0
                         and column 127 set to 2 (<s> … </s>). Rows 1-3 of the harness read this file; the training
                         step uses the first 16 rows of ids.

`synth-32470.json` (the tokenization row's records) is written by kre, not here: see setup.sh.
"""
import argparse
import json
import os
import sys
from pathlib import Path

ROBERTA_BASE = dict(
    vocab_size=32000,
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    intermediate_size=3072,
    hidden_act="gelu",
    hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1,
    max_position_embeddings=514,
    type_vocab_size=1,
    initializer_range=0.02,
    layer_norm_eps=1e-5,
    pad_token_id=1,
    bos_token_id=0,
    eos_token_id=2,
)


def cache_dir() -> Path:
    return Path(os.environ.get("KRE_CACHE") or Path.home() / ".cache" / "kre")


def make_inputs(path: Path):
    import numpy as np

    rng = np.random.default_rng(0)
    ids = rng.integers(5, 30522, size=(32, 128), dtype=np.int64)
    ids[:, 0] = 0
    ids[:, -1] = 2
    labels = rng.integers(0, 30, size=16, dtype=np.int64)
    subject_start = rng.integers(1, 127, size=16, dtype=np.int64)
    object_start = rng.integers(1, 127, size=16, dtype=np.int64)
    data = {
        "ids_b32_s128": ids.tolist(),
        "labels_b16": labels.tolist(),
        "subject_start_b16": subject_start.tolist(),
        "object_start_b16": object_start.tolist(),
    }
    tmp = path.with_suffix(".json.partial")
    tmp.write_text(json.dumps(data) + "\n")
    tmp.replace(path)
    print(f"wrote {path}")


def make_roberta(dest: Path):
    import torch
    from transformers import RobertaConfig, RobertaModel

    torch.manual_seed(0)
    config = RobertaConfig(**ROBERTA_BASE)
    model = RobertaModel(config).eval()
    stage = dest.with_name(dest.name + ".partial")
    if stage.exists():
        import shutil

        shutil.rmtree(stage)
    model.save_pretrained(str(stage), safe_serialization=True)
    # Sanity: the weights are really initialised (not left empty by lazy init).
    std = model.embeddings.word_embeddings.weight.detach().float().std().item()
    if not 0.01 < std < 0.03:
        sys.exit(f"unexpected word-embedding std {std} (initialisation did not run?)")
    stage.rename(dest)
    n = sum(p.numel() for p in model.parameters())
    print(f"wrote {dest} ({n / 1e6:.1f} M parameters, word-embedding std {std:.4f})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rewrite files that already exist")
    args = parser.parse_args()

    bench = cache_dir() / "bench"
    bench.mkdir(parents=True, exist_ok=True)
    inputs = bench / "inputs.json"
    if args.force or not inputs.exists():
        make_inputs(inputs)
    else:
        print(f"{inputs} exists")
    roberta = bench / "roberta-base-random"
    if args.force and roberta.exists():
        import shutil

        shutil.rmtree(roberta)
    if not (roberta / "model.safetensors").exists() or not (roberta / "config.json").exists():
        if roberta.exists():
            import shutil

            shutil.rmtree(roberta)
        make_roberta(roberta)
    else:
        print(f"{roberta} exists")


if __name__ == "__main__":
    main()
