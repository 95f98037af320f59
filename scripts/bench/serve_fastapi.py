"""The Python service a user would deploy, as the anchor of kre serve's load test (scripts/bench/serve_load.sh).

FastAPI under uvicorn, one process, answering the same `POST /v1/predict` body as `kre serve`
(`{"records": [KLUE records]}` or a bare array → `{"predictions": [{"id", "label", "probs"}]}`) and `GET /healthz`.
Each request is one forward pass of its own records (no batching across requests, as such services usually run).

The model has the architecture and size of the kre run it mirrors: the encoder is built with transformers'
`AutoModel.from_config` from RUN_DIR/best/config.json (random weights: only speed is compared), the tokenizer is
the run's tokenizer.json (HF `tokenizers`), the entity markers are kre's default typed-punct scheme
(`@ * person * 이순신 @`, `# ^ organization ^ 조선 #`) and the head is kre's default: the hidden states at the two
entity-start markers, concatenated, → Linear(2H, labels) → softmax.

With `--int8` the encoder's Linear layers are quantized with PyTorch's dynamic int8 quantization
(`torch.ao.quantization.quantize_dynamic`, qint8 weights, int8 activations quantized per call), the int8 anchor
for `kre serve --engine fused-int8`.

    python scripts/bench/serve_fastapi.py --model-dir RUN_DIR --port 8090 [--threads N] [--int8]
"""
import argparse
import json
import os
from pathlib import Path
from typing import Any, List, Union

TYPE_WORDS = {"PER": "person", "ORG": "organization", "LOC": "location", "DAT": "date", "POH": "other",
              "NOH": "quantity", "UNK": "entity"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", required=True, type=Path, help="a kre run directory (its best/) or model dir")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8090)
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    ap.add_argument("--int8", action="store_true", help="dynamic int8 quantization of the encoder's Linear layers")
    args = ap.parse_args()
    if not args.host.startswith("127.") and args.host != "localhost":
        raise SystemExit("serve_fastapi.py listens on loopback only")

    import torch
    import uvicorn
    from fastapi import Body, FastAPI, HTTPException
    from tokenizers import Tokenizer
    from transformers import AutoConfig, AutoModel

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    model_dir = args.model_dir / "best" if (args.model_dir / "best").is_dir() else args.model_dir
    spec = json.loads((model_dir / "model_spec.json").read_text())
    labels: List[str] = spec["labels"]
    max_length = int(spec["max_length"])
    config = AutoConfig.from_pretrained(model_dir)
    torch.manual_seed(0)
    encoder = AutoModel.from_config(config, add_pooling_layer=False).eval()
    if args.int8:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the API's deprecation notice; it is what a user runs today
            encoder = torch.ao.quantization.quantize_dynamic(encoder, {torch.nn.Linear}, dtype=torch.qint8)
    hidden = config.hidden_size
    classifier = torch.nn.Linear(2 * hidden, len(labels)).eval()
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(max_length)
    pad_id = tokenizer.token_to_id("[PAD]") or tokenizer.token_to_id("<pad>") or 0
    tokenizer.enable_padding(pad_id=pad_id)

    def mark(r: dict) -> tuple:
        """The sentence with typed-punct markers, and the char offsets of the two start markers."""
        s = r["sentence"]
        subj, obj = r["subject_entity"], r["object_entity"]
        parts = [(subj["start_idx"], subj["end_idx"], "@", "*", subj), (obj["start_idx"], obj["end_idx"], "#", "^", obj)]
        parts.sort(key=lambda p: p[0])
        out, at, starts = "", 0, {}
        for start, end, outer, inner, e in parts:
            out += s[at:start]
            starts[outer] = len(out)
            word = TYPE_WORDS.get(e["type"], "entity")
            out += f"{outer} {inner} {word} {inner} {s[start:end + 1]} {outer}"
            at = end + 1
        out += s[at:]
        return out, starts["@"], starts["#"]

    def token_at(offsets, char: int) -> int:
        for i, (a, b) in enumerate(offsets):
            if a <= char < b:
                return i
        return 0  # cut by max_length: CLS, as kre falls back

    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok", "labels": labels}

    @app.post("/v1/predict")
    def predict(body: Union[dict, list] = Body(...)) -> dict:
        records: Any = body.get("records") if isinstance(body, dict) else body
        if not isinstance(records, list):
            raise HTTPException(400, "expected {\"records\": [...]} or an array of records")
        if not records:
            return {"predictions": []}
        try:
            marked = [mark(r) for r in records]
        except (KeyError, TypeError) as e:
            raise HTTPException(400, f"bad record: {e}")
        enc = tokenizer.encode_batch([m[0] for m in marked])
        ids = torch.tensor([e.ids for e in enc])
        mask = torch.tensor([e.attention_mask for e in enc])
        subj = torch.tensor([token_at(e.offsets, m[1]) for e, m in zip(enc, marked)])
        obj = torch.tensor([token_at(e.offsets, m[2]) for e, m in zip(enc, marked)])
        with torch.inference_mode():
            h = encoder(input_ids=ids, attention_mask=mask).last_hidden_state
            rows = torch.arange(len(records))
            feats = torch.cat([h[rows, subj], h[rows, obj]], dim=-1)
            probs = torch.softmax(classifier(feats), dim=-1)
        best = probs.argmax(dim=-1).tolist()
        out = []
        for r, b, p in zip(records, best, probs.tolist()):
            out.append({"id": str(r.get("guid", r.get("id"))), "label": labels[b], "probs": p})
        return {"predictions": out}

    print(f"listening on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
