#!/usr/bin/env python3
"""Reference values for re-losses (crates/re-losses/tests/fixtures/losses.json).

Venv (from the repository root):
    python3 -m venv .venv-torch && .venv-torch/bin/pip install torch numpy
Run:
    .venv-torch/bin/python tools/make_loss_fixtures.py

Everything is computed in float64:
- label-smoothing cross-entropy: torch.nn.functional.cross_entropy(logits, targets, weight=w,
  label_smoothing=eps, ignore_index=-100, reduction=...) -- PyTorch itself is the reference;
- focal loss: the formula written out below with torch ops (there is no focal loss in torch):
      q_c = (1 - eps) * [c == t] + eps / K
      FL  = - sum_c q_c * alpha_c * max(1 - p_c, 1e-30)^gamma * log p_c,   log p = log_softmax(logits)
  mean = sum over non-ignored rows / number of non-ignored rows.
For every case the gradient of the (reduced, or summed when reduction='none') loss w.r.t. the logits comes from
torch autograd, so the Rust tests can compare burn's autodiff gradients with it as well as with finite differences.
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
IGNORE = -100
OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "re-losses", "tests", "fixtures", "losses.json")


def focal_reference(logits, targets, gamma, alpha, eps, reduction, ignore_index):
    k = logits.shape[1]
    log_p = F.log_softmax(logits, dim=1)
    p = log_p.exp()
    ignored = targets == ignore_index if ignore_index is not None else torch.zeros_like(targets, dtype=torch.bool)
    safe = torch.where(ignored, torch.zeros_like(targets), targets)
    q = F.one_hot(safe, k).to(logits.dtype) * (1.0 - eps) + eps / k
    if isinstance(alpha, list):
        alpha_c = torch.tensor(alpha).reshape(1, k)
    else:
        alpha_c = torch.full((1, k), float(alpha))
    # Same clamp as the Rust code: where p rounds to 1 the gradient of (1 - p)^gamma (gamma < 1) would be inf * 0.
    modulator = (1.0 - p).clamp_min(1e-30) ** gamma if gamma > 0 else torch.ones_like(p)
    per_row = -(q * alpha_c * modulator * log_p).sum(dim=1)
    per_row = torch.where(ignored, torch.zeros_like(per_row), per_row)
    if reduction == "none":
        return per_row
    if reduction == "sum":
        return per_row.sum()
    return per_row.sum() / max(int((~ignored).sum()), 1)


def make_inputs(rng, batch, classes, scale, with_ignored):
    logits = rng.normal(0.0, scale, size=(batch, classes))
    targets = rng.integers(0, classes, size=batch)
    if with_ignored:
        targets[1] = IGNORE
        targets[-1] = IGNORE
    return logits, targets


def main():
    rng = np.random.default_rng(20240611)
    inputs = {
        "small": make_inputs(rng, 6, 5, 2.0, False),
        "ignored": make_inputs(rng, 7, 4, 1.5, True),
        "klue30": make_inputs(rng, 8, 30, 3.0, False),
    }
    # Extreme logits: +/-1e4 (log_softmax must keep everything finite).
    extreme = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, -1e4], [0.5, -1e4, 1e4], [1e4, 1e4, -1e4]])
    inputs["extreme"] = (extreme, np.array([0, 2, 2, 1]))

    cases = []

    def add(name, kind, input_name, params, value, grad):
        cases.append(
            {
                "name": name,
                "loss": kind,
                "input": input_name,
                **params,
                "value": np.atleast_1d(value.detach().numpy()).tolist(),
                "grad": grad.tolist(),
            }
        )

    for input_name, (logits_np, targets_np) in inputs.items():
        k = logits_np.shape[1]
        has_ignored = bool((targets_np == IGNORE).any())
        weights = [0.5 + 0.25 * (c % 4) for c in range(k)]
        for eps in [0.0, 0.1, 0.2]:
            for w in [None, weights]:
                for reduction in ["mean", "sum", "none"]:
                    logits = torch.tensor(logits_np, requires_grad=True)
                    targets = torch.tensor(targets_np)
                    value = F.cross_entropy(
                        logits,
                        targets,
                        weight=None if w is None else torch.tensor(w),
                        label_smoothing=eps,
                        ignore_index=IGNORE,
                        reduction=reduction,
                    )
                    value.sum().backward()
                    params = {
                        "smoothing": eps,
                        "weights": w,
                        "reduction": reduction,
                        "ignore_index": IGNORE if has_ignored else None,
                    }
                    add(f"{input_name}/ls_ce/eps={eps}/w={w is not None}/{reduction}", "ls_ce", input_name,
                        params, value, logits.grad.numpy())
        for gamma in [0.0, 0.5, 2.0, 5.0]:
            for alpha in [1.0, 0.25, [0.1 + 0.9 * c / max(k - 1, 1) for c in range(k)]]:
                for eps in [0.0, 0.1]:
                    for reduction in ["mean", "sum", "none"]:
                        logits = torch.tensor(logits_np, requires_grad=True)
                        targets = torch.tensor(targets_np)
                        ignore = IGNORE if has_ignored else None
                        value = focal_reference(logits, targets, gamma, alpha, eps, reduction, ignore)
                        value.sum().backward()
                        params = {
                            "gamma": gamma,
                            "alpha": alpha,
                            "smoothing": eps,
                            "reduction": reduction,
                            "ignore_index": ignore,
                        }
                        alpha_name = "vec" if isinstance(alpha, list) else alpha
                        add(f"{input_name}/focal/g={gamma}/a={alpha_name}/eps={eps}/{reduction}", "focal", input_name,
                            params, value, logits.grad.numpy())
    # gamma = 0, alpha = 1 must equal plain cross-entropy: record torch's CE for the same inputs.
    for input_name, (logits_np, targets_np) in inputs.items():
        logits = torch.tensor(logits_np, requires_grad=True)
        value = F.cross_entropy(logits, torch.tensor(targets_np), ignore_index=IGNORE, reduction="mean")
        value.backward()
        add(f"{input_name}/plain_ce", "plain_ce", input_name,
            {"ignore_index": IGNORE if (targets_np == IGNORE).any() else None, "reduction": "mean"}, value,
            logits.grad.numpy())

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        shared = {n: {"logits": l.tolist(), "targets": [int(t) for t in t_]} for n, (l, t_) in inputs.items()}
        json.dump({"torch_version": torch.__version__, "inputs": shared, "cases": cases}, f, allow_nan=False)
    print(f"wrote {len(cases)} cases to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
