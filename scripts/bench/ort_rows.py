#!/usr/bin/env python3
"""The ONNX Runtime columns of the side-by-side performance harness: the encoder rows, fp32 and dynamic int8.

What a user deploying on CPU runs: the same HF encoder as torch_rows.py exported with `torch.onnx.export`, run by
`onnxruntime` with `--threads` intra-op threads, one inter-op thread and full graph optimisation (ORT_ENABLE_ALL);
then `onnxruntime.quantization.quantize_dynamic` with QInt8 weights (activations quantized per call), the same way.

Run:   .venv-bench/bin/python scripts/bench/ort_rows.py --threads 2 --out-dir target/bench-results
       [--rows encoder_minilm_b32_s128,encoder_roberta_base_b32_s128] [--reps 5]
Needs: onnxruntime, onnx and onnxscript from PyPI (setup.sh installs them), plus what torch_rows.py needs.

Writes ort-fp32.json and ort-int8.json (the JSON of torch_rows.py, side "onnxruntime"), which compare.py shows as
columns next to PyTorch and kre. Each row also records how far the output is from PyTorch fp32 on the same input
(mean and max |Δ| of the last hidden state). The exported models are kept under $KRE_CACHE/bench/onnx/.
"""
import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROWS = ["encoder_minilm_b32_s128", "encoder_roberta_base_b32_s128"]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--rows", default=",".join(ROWS))
    p.add_argument("--out-dir", type=Path, default=Path("target/bench-results"))
    p.add_argument("--cache", type=Path, default=Path(os.environ.get("KRE_CACHE", Path.home() / ".cache" / "kre")))
    return p.parse_args()


ARGS = parse_args()
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402
from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: E402

# torch_rows.py parses the command line when imported: give it the flags the two scripts share.
sys.path.insert(0, str(HERE))
_argv, sys.argv = sys.argv, [sys.argv[0], "--threads", str(ARGS.threads), "--reps", str(ARGS.reps)]
from torch_rows import machine, read_inputs, time_row  # noqa: E402

sys.argv = _argv

torch.set_num_threads(ARGS.threads)


class LastHiddenState(torch.nn.Module):
    """The encoder called with keyword arguments (its positional order varies between transformers versions)."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids, attention_mask):
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def export(model_cls, model_dir, ids, onnx_dir):
    """fp32 and int8 ONNX files of the encoder (last hidden state), made once."""
    onnx_dir.mkdir(parents=True, exist_ok=True)
    fp32, int8 = onnx_dir / "model.onnx", onnx_dir / "model.int8.onnx"
    if not fp32.exists():
        model = LastHiddenState(model_cls.from_pretrained(str(model_dir), add_pooling_layer=False).eval())
        mask = torch.ones_like(ids)
        tmp = fp32.with_suffix(".partial.onnx")
        torch.onnx.export(model, (ids, mask), str(tmp), input_names=["input_ids", "attention_mask"],
                          output_names=["last_hidden_state"], opset_version=17, dynamo=False)
        tmp.replace(fp32)
    if not int8.exists():
        tmp = int8.with_suffix(".partial.onnx")
        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8)
        tmp.replace(int8)
    return fp32, int8


def session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = ARGS.threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def main():
    from transformers import BertModel, RobertaModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    inputs = read_inputs(ARGS.cache)
    ids = torch.tensor(inputs["ids_b32_s128"], dtype=torch.long)
    feeds = {"input_ids": ids.numpy(), "attention_mask": np.ones_like(ids.numpy())}
    models = {
        "encoder_minilm_b32_s128": (BertModel, ARGS.cache / "all-minilm-l6-v2"),
        "encoder_roberta_base_b32_s128": (RobertaModel, ARGS.cache / "bench" / "roberta-base-random"),
    }
    results = {"fp32": [], "int8": []}
    for row in ARGS.rows.split(","):
        model_cls, model_dir = models[row]
        if not (model_dir / "model.safetensors").exists():
            for kind in results:
                results[kind].append({"row": row, "error": f"{model_dir}/model.safetensors missing"})
            continue
        with torch.inference_mode():
            reference = model_cls.from_pretrained(str(model_dir), add_pooling_layer=False).eval()
            expected = reference(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state.numpy()
            del reference
        paths = dict(zip(("fp32", "int8"), export(model_cls, model_dir, ids, ARGS.cache / "bench" / "onnx" / row)))
        for kind, path in paths.items():
            sess = session(path)
            got = sess.run(None, feeds)[0]
            diff = np.abs(got - expected)
            note = (f"onnxruntime {ort.__version__} {kind}, {ARGS.threads} intra-op threads, ORT_ENABLE_ALL; "
                    f"vs PyTorch fp32: mean |Δ| {diff.mean():.2e}, max |Δ| {diff.max():.2e}")
            r = time_row(row, ids.shape[0], ARGS.reps, note, lambda: sess.run(None, feeds))
            r["mean_abs_diff_vs_torch"] = float(diff.mean())
            r["max_abs_diff_vs_torch"] = float(diff.max())
            results[kind].append(r)
    ARGS.out_dir.mkdir(parents=True, exist_ok=True)
    for kind, rows in results.items():
        label = "fp32" if kind == "fp32" else "int8 (quantize_dynamic, QInt8 weights)"
        report = {
            "side": "onnxruntime",
            "backend": f"onnxruntime {ort.__version__} {label}",
            "threads": ARGS.threads,
            "machine": machine(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "versions": {"onnxruntime": ort.__version__, "torch": torch.__version__},
            "rows": rows,
        }
        out = ARGS.out_dir / f"ort-{kind}.json"
        tmp = out.with_name(out.name + ".partial")
        tmp.write_text(json.dumps(report, indent=2) + "\n")
        tmp.replace(out)
        print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"done in {time.perf_counter() - start:.0f} s", file=sys.stderr)
