#!/usr/bin/env python3
"""Reference training trajectories (PyTorch + transformers) for kre's training-parity test.

For each case below, under tests/fixtures/training/<case>/:
  inputs.json     96 examples encoded by kre itself (`cargo run --example export_training_inputs`): the first 64
                  are the training set, the last 32 the dev set; both sides see identical token ids.
  init_head.json  the relation head's initial weights (torch layout) and, when kre added marker tokens to the
                  vocabulary, the initial values of the new embedding rows; kre loads both, so initialisation is
                  not what is compared.
  expected.json   per optimiser step: loss, learning rate, global gradient norm before clipping; after the last
                  step: the head's parameters and the dev set's logits with the KLUE scorer's micro-F1 / AUPRC
                  (klue_re_auprc: precision_recall_curve + auc per class).
  final/          the encoder after the last step as an HF checkpoint (config.json + model.safetensors), which
                  the Rust test loads with kre's own checkpoint loader and compares tensor by tensor.
  adam_eps_share/ the same layout holding, per element, the largest share eps/(sqrt(v_hat)+eps) of AdamW's update
                  denominator at any step with a non-zero gradient (expected.json: final_head_adam_eps_share for
                  the head). Above 1%, the element's gradient was at eps scale (~1e-8) at some step and AdamW turned
                  float rounding into a step of up to lr: the test compares those few elements more loosely.

The loop is the KLUE-RE report's recipe (sections 4.2, 5.2-5.3): AutoModel + a relation head in plain PyTorch
(CLS / entity-start / mean / max / attention span pooling, optional concat-CLS, CLS fallback for an empty span),
CE / CE with label smoothing / focal loss, torch.optim.AdamW with HF Trainer's parameter groups (no weight decay
on biases and LayerNorm weights), transformers' warmup schedules, clip_grad_norm_(1.0). CPU, float32, dropout off,
batch 8 in a fixed order (step s uses training examples 8*(s mod 8) .. 8*(s mod 8)+7), 20 steps.

Environment (once; the same venv as tools/make_parity_fixtures.py plus scikit-learn):
    python3 -m venv .venv-torch
    .venv-torch/bin/pip install torch transformers safetensors tokenizers scikit-learn
Run from the repository root (it builds and runs the Rust exporter with cargo):
    .venv-torch/bin/python tools/make_training_fixtures.py
Tested with torch 2.15.0, transformers 5.24.0, scikit-learn from PyPI (the versions are written into each expected.json).
"""
import json
import math
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import transformers
from safetensors.torch import save_file
from sklearn.metrics import auc, f1_score, precision_recall_curve
from torch import nn
from transformers import (
    AutoConfig,
    AutoModel,
    get_cosine_schedule_with_warmup,
    get_linear_schedule_with_warmup,
    get_polynomial_decay_schedule_with_warmup,
)

ROOT = Path(__file__).resolve().parent.parent
PARITY = ROOT / "tests" / "fixtures" / "parity"
OUT = ROOT / "tests" / "fixtures" / "training"

STEPS = 20
BATCH = 8
N_TRAIN = 64
N_DEV = 32
MAX_LENGTH = 60  # the tiny checkpoints have 64 positions (RoBERTa: 62 usable)
WARMUP_RATIO = 0.1
WEIGHT_DECAY = 0.01
MAX_GRAD_NORM = 1.0
LR = 1e-3  # large enough that 20 steps move every weight well past float noise
EPS_DOMINATED = 0.01  # eps is at least 1% of sqrt(v_hat) + eps (sqrt(v_hat) < ~1e-6) at some step

CASES = [
    # name, checkpoint, markers, pooling, concat_cls, loss, scheduler
    dict(name="bert_entity_start_ce_linear", family="bert", markers="typed-punct", pooling="entity-start",
         concat_cls=False, loss=dict(kind="ce", smoothing=0.0), scheduler="linear"),
    dict(name="roberta_mean_focal_cosine", family="roberta", markers="typed-punct", pooling="mean",
         concat_cls=False, loss=dict(kind="focal", gamma=2.0, alpha=0.25, smoothing=0.0), scheduler="cosine"),
    dict(name="electra_attention_smoothing_polynomial", family="electra", markers="typed-punct",
         pooling="attention", concat_cls=False, loss=dict(kind="ce", smoothing=0.1), scheduler="polynomial"),
    dict(name="deberta_v2_max_concat_cls_ce", family="deberta_v2", markers="typed-punct", pooling="max",
         concat_cls=True, loss=dict(kind="ce", smoothing=0.0), scheduler="linear"),
    # `typed` adds [E1-ORG] … marker tokens: the embedding matrix is resized.
    dict(name="roberta_new_markers_cls_ce", family="roberta", markers="typed", pooling="cls",
         concat_cls=False, loss=dict(kind="ce", smoothing=0.0), scheduler="linear"),
]


class RelationHead(nn.Module):
    """Pooled entity features -> linear, as the report's RelationClassifier (dropout off)."""

    def __init__(self, hidden, num_labels, pooling, concat_cls):
        super().__init__()
        self.pooling = pooling
        self.concat_cls = concat_cls and pooling != "cls"
        width = hidden if pooling == "cls" else (3 if self.concat_cls else 2) * hidden
        self.classifier = nn.Linear(width, num_labels)
        nn.init.normal_(self.classifier.weight, std=0.02)
        nn.init.zeros_(self.classifier.bias)
        if pooling == "attention":
            # The report's AttentionPooling: one learned vector per entity, scores h·w, softmax over the span.
            self.subject_attention = nn.Parameter(torch.randn(hidden))
            self.object_attention = nn.Parameter(torch.randn(hidden))

    def pool_span(self, hs, start, end, w):
        # hs [seq, hidden]; span [start, end) (end exclusive, kre's convention); empty span -> CLS.
        if end <= start:
            return hs[0]
        span = hs[start:end]
        if self.pooling == "mean":
            return span.mean(dim=0)
        if self.pooling == "max":
            return span.max(dim=0).values
        weights = torch.softmax(span @ w, dim=0)
        return (weights.unsqueeze(-1) * span).sum(dim=0)

    def forward(self, hidden, subject_start, object_start, subject_span, object_span):
        cls = hidden[:, 0]
        if self.pooling == "cls":
            return self.classifier(cls)
        rows = []
        for i, hs in enumerate(hidden):
            if self.pooling == "entity-start":
                e1, e2 = hs[subject_start[i]], hs[object_start[i]]
            else:
                w1 = getattr(self, "subject_attention", None)
                w2 = getattr(self, "object_attention", None)
                e1 = self.pool_span(hs, subject_span[i][0], subject_span[i][1], w1)
                e2 = self.pool_span(hs, object_span[i][0], object_span[i][1], w2)
            parts = [hs[0], e1, e2] if self.concat_cls else [e1, e2]
            rows.append(torch.cat(parts))
        return self.classifier(torch.stack(rows))


def focal_loss(logits, target, gamma, alpha):
    """The report's FL(p_t) = -alpha (1 - p_t)^gamma log p_t, averaged over the batch."""
    log_p = F.log_softmax(logits, dim=-1).gather(1, target.unsqueeze(1)).squeeze(1)
    p = log_p.exp()
    return (-alpha * (1 - p) ** gamma * log_p).mean()


def loss_fn(spec, logits, target):
    if spec["kind"] == "focal":
        return focal_loss(logits, target, spec["gamma"], spec["alpha"])
    return F.cross_entropy(logits, target, label_smoothing=spec["smoothing"])


def collate(examples, pad_id):
    seq = max(len(e["input_ids"]) for e in examples)
    def pad(key, value):
        return torch.tensor([e[key] + [value] * (seq - len(e[key])) for e in examples], dtype=torch.long)
    return dict(
        input_ids=pad("input_ids", pad_id),
        attention_mask=pad("attention_mask", 0),
        token_type_ids=pad("token_type_ids", 0),
        subject_start=[e["subject_start"] for e in examples],
        object_start=[e["object_start"] for e in examples],
        subject_span=[e["subject_span"] for e in examples],
        object_span=[e["object_span"] for e in examples],
        labels=torch.tensor([e["label"] for e in examples], dtype=torch.long),
    )


def decay_parameter_names(model):
    """HF Trainer's grouping: every parameter except biases and the weights of LayerNorm modules."""
    no_decay = set()
    for module_name, module in model.named_modules():
        if isinstance(module, nn.LayerNorm):
            for p, _ in module.named_parameters(recurse=False):
                no_decay.add(f"{module_name}.{p}" if module_name else p)
    return [n for n, _ in model.named_parameters() if n not in no_decay and "bias" not in n]


def klue_scores(gold, probs, num_labels, no_relation=0):
    """The KLUE-RE scorer: micro-F1 over all labels but no_relation (x100) and klue_re_auprc, the mean over all
    classes of auc(recall, precision) of the one-vs-rest precision-recall curve (x100; a class without gold
    examples gets scikit-learn's recall-is-1 curve, area 0.5)."""
    preds = probs.argmax(1)
    labels = [i for i in range(num_labels) if i != no_relation]
    micro_f1 = f1_score(gold, preds, average="micro", labels=labels) * 100.0
    onehot = np.eye(num_labels)[gold]
    score = np.zeros((num_labels,))
    for c in range(num_labels):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "No positive class found in y_true"
            precision, recall, _ = precision_recall_curve(onehot[:, c], probs[:, c])
        score[c] = auc(recall, precision)
    return float(micro_f1), float(np.average(score) * 100.0)


def export_inputs(case, checkpoint, path):
    cmd = ["cargo", "run", "--quiet", "--example", "export_training_inputs", "--", str(checkpoint),
           case["markers"], str(MAX_LENGTH), str(N_TRAIN + N_DEV), str(path)]
    subprocess.run(cmd, cwd=ROOT, check=True)
    return json.loads(path.read_text())


class Model(nn.Module):
    def __init__(self, encoder, head):
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, b):
        hidden = self.encoder(input_ids=b["input_ids"], attention_mask=b["attention_mask"],
                              token_type_ids=b["token_type_ids"]).last_hidden_state
        return self.head(hidden, b["subject_start"], b["object_start"], b["subject_span"], b["object_span"])


def train_reference(case, inputs):
    """The reference loop: returns the initial head (and new embedding rows), the trained encoder and head, the
    per-step records, the dev logits and the per-element AdamW eps share."""
    torch.manual_seed(1234)
    train, dev = inputs["examples"][:N_TRAIN], inputs["examples"][N_TRAIN:]
    checkpoint = PARITY / case["family"] / "safetensors"
    kwargs = dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    if case["family"] in ("bert", "roberta"):
        kwargs["add_pooling_layer"] = False
    encoder = AutoModel.from_pretrained(checkpoint, **kwargs).float()
    made = {}
    base = encoder.get_input_embeddings().weight.shape[0]
    if inputs["vocab_size"] > base:
        encoder.resize_token_embeddings(inputs["vocab_size"])
        made["new_embedding_rows_from"] = base
        made["new_embedding_rows"] = encoder.get_input_embeddings().weight[base:].detach().tolist()
    hidden = encoder.config.hidden_size
    head = RelationHead(hidden, inputs["num_labels"], case["pooling"], case["concat_cls"])
    made["head"] = {n: p.detach().tolist() for n, p in head.named_parameters()}
    model = Model(encoder, head)
    model.train()  # dropout probabilities are 0: train mode only enables autograd bookkeeping

    decay = set(decay_parameter_names(model))
    groups = [
        {"params": [p for n, p in model.named_parameters() if n in decay], "weight_decay": WEIGHT_DECAY},
        {"params": [p for n, p in model.named_parameters() if n not in decay], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=LR, betas=(0.9, 0.999), eps=1e-8)
    warmup = math.ceil(STEPS * WARMUP_RATIO)
    scheduler = {
        "linear": lambda: get_linear_schedule_with_warmup(optimizer, warmup, STEPS),
        "cosine": lambda: get_cosine_schedule_with_warmup(optimizer, warmup, STEPS),
        "polynomial": lambda: get_polynomial_decay_schedule_with_warmup(optimizer, warmup, STEPS),
    }[case["scheduler"]]()

    # Per element, the largest share AdamW's eps takes of the update's denominator sqrt(v_hat) + eps at a step where
    # the element's gradient is non-zero. Where that share is large, the step is lr * g / (|g| + eps)-like and
    # float rounding in g (one ulp of the larger terms it cancels from) moves the step by up to lr.
    eps_share = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    steps = []
    for step in range(STEPS):
        k = step % (N_TRAIN // BATCH)
        batch = collate(train[k * BATCH:(k + 1) * BATCH], inputs["pad_id"])
        lr = optimizer.param_groups[0]["lr"]
        loss = loss_fn(case["loss"], model(batch), batch["labels"])
        optimizer.zero_grad()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
        optimizer.step()
        with torch.no_grad():
            for n, p in model.named_parameters():
                state = optimizer.state[p]
                v_hat = state["exp_avg_sq"] / (1 - 0.999 ** float(state["step"]))
                share = torch.where(p.grad != 0, 1e-8 / (v_hat.sqrt() + 1e-8), torch.zeros_like(p))
                eps_share[n] = torch.maximum(eps_share[n], share)
        scheduler.step()
        steps.append(dict(step=step, loss=loss.item(), lr=lr, grad_norm=norm.item()))

    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(collate(dev[i:i + BATCH], inputs["pad_id"])) for i in range(0, N_DEV, BATCH)])
    return made, encoder, head, steps, logits, eps_share


def run_case(case):
    out = OUT / case["name"]
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = PARITY / case["family"] / "safetensors"
    inputs = export_inputs(case, checkpoint.relative_to(ROOT), out / "inputs.json")
    dev = inputs["examples"][N_TRAIN:]
    init, encoder, head, steps, logits, eps_share = train_reference(case, inputs)
    (out / "init_head.json").write_text(json.dumps(init))
    gold = np.array([e["label"] for e in dev])
    micro_f1, auprc = klue_scores(gold, torch.softmax(logits, -1).double().numpy(), inputs["num_labels"])
    encoder_share = {n: eps_share["encoder." + n] for n in encoder.state_dict()}
    head_share = {n: eps_share["head." + n] for n, _ in head.named_parameters()}

    for sub, tensors in (("final", encoder.state_dict()), ("adam_eps_share", encoder_share)):
        d = out / sub
        if d.exists():
            shutil.rmtree(d)
        d.mkdir()
        encoder.config.save_pretrained(d)
        # Tied/shared storage (none in these base models) would need clone() for safetensors.
        save_file({n: t.detach().contiguous().clone() for n, t in tensors.items()}, d / "model.safetensors")

    expected = dict(
        versions=dict(torch=torch.__version__, transformers=transformers.__version__),
        case=case, steps=STEPS, batch_size=BATCH, lr=LR, warmup_ratio=WARMUP_RATIO, weight_decay=WEIGHT_DECAY,
        max_grad_norm=MAX_GRAD_NORM, trajectory=steps,
        final_head={n: p.detach().tolist() for n, p in head.named_parameters()},
        final_head_adam_eps_share={n: p.tolist() for n, p in head_share.items()},
        dev_logits=logits.tolist(), dev_micro_f1=micro_f1, dev_auprc=auprc,
    )
    (out / "expected.json").write_text(json.dumps(expected, indent=1))
    sensitive = sum(int((t > EPS_DOMINATED).sum()) for t in encoder_share.values())
    total = sum(t.numel() for t in encoder_share.values())
    print(f"{case['name']}: loss {steps[0]['loss']:.4f} -> {steps[-1]['loss']:.4f}, dev micro-F1 {micro_f1:.2f}, "
          f"AUPRC {auprc:.2f}; {sensitive} of {total} encoder elements had steps dominated by AdamW's eps")


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    names = sys.argv[1:]
    for case in CASES:
        if not names or case["name"] in names:
            run_case(case)


if __name__ == "__main__":
    main()
