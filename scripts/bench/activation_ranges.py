"""Do a few channels set each row's range in the inputs of an encoder's projections? (docs/performance.md,
"Why not rescale activation channels instead")

For every layer's four projections (Q/K/V input, attention output input, W_1 input, W_2 input) it prints the
median per-token range (max - min over channels) with and without the four channels of largest |value|, and their
ratio. A ratio near 1: no outlier channels, so SmoothQuant-style channel rescaling has little to move.

    .venv-bench/bin/python scripts/bench/activation_ranges.py [--model DIR] [--data FILE] [--n 64]

Defaults: $KRE_CACHE/all-minilm-l6-v2 (scripts/install-minilm.sh), the shipped synthetic dev set (its first N
sentences, no entity markers). BERT-layout checkpoints only (`model.encoder.layer[i].attention.self.query`, ...).
"""
import argparse
import json
import os
from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer

root = Path(__file__).resolve().parents[2]
cache = Path(os.environ.get("KRE_CACHE", Path.home() / ".cache" / "kre"))
parser = argparse.ArgumentParser()
parser.add_argument("--model", default=str(cache / "all-minilm-l6-v2"))
parser.add_argument("--data", default=str(root / "datasets" / "synthetic-klue-re" / "dev.json"))
parser.add_argument("--n", type=int, default=64)
args = parser.parse_args()

tokenizer = AutoTokenizer.from_pretrained(args.model)
model = AutoModel.from_pretrained(args.model).eval()
sentences = [r["sentence"] for r in json.loads(Path(args.data).read_text(encoding="utf-8"))[: args.n]]
batch = tokenizer(sentences, padding=True, truncation=True, max_length=128, return_tensors="pt")

inputs = {}


def keep_input(name):
    def hook(_module, args, _output):
        inputs[name] = args[0].detach()

    return hook


for i, layer in enumerate(model.encoder.layer):
    for name, module in [
        ("qkv", layer.attention.self.query),
        ("attention output", layer.attention.output.dense),
        ("W_1", layer.intermediate.dense),
        ("W_2", layer.output.dense),
    ]:
        module.register_forward_hook(keep_input(f"layer {i} {name}"))
with torch.no_grad():
    model(**batch)

tokens = batch["attention_mask"].bool()
print("| projection input | median row range | without the top-4 channels | median ratio |")
print("|---|---:|---:|---:|")
for name, x in inputs.items():
    x = x[tokens]  # [tokens, channels], padding left out
    full = x.amax(1) - x.amin(1)
    keep = torch.ones(x.shape[1], dtype=torch.bool)
    keep[x.abs().amax(0).topk(4).indices] = False
    rest = x[:, keep].amax(1) - x[:, keep].amin(1)
    print(f"| {name} | {full.median():.2f} | {rest.median():.2f} | {(full / rest).median():.2f} |")
