"""The Python side of `kre predict`'s end-to-end benchmark (scripts/bench/predict_e2e.sh), and its report.

The job, as a Python user would write it with Hugging Face + PyTorch + pandas, doing what `kre predict` does:

  read the KLUE JSON (json) → insert kre's typed-punct entity markers (`@ * person * 이순신 @`, `# ^ location ^ 조선
  #`) → tokenize all records with the run's tokenizer (transformers `AutoTokenizer`, fast, one batch call) → find the
  two start-marker tokens, cut records longer than max_length around the entities as kre does → sort by length,
  batches of --batch-size padded to their longest record → encoder (transformers, inference mode) → hidden states at
  the two markers, concatenated → Linear(2H, labels) → softmax → submission.csv (id, pred_label, probs) with pandas,
  as KLUE's baseline writes it.

Subcommands:

  prepare --run RUN_DIR --out DIR     a transformers checkpoint of the run: config.json + model.safetensors built
                                      from RUN_DIR/best/config.json with the run's own weights (converted from
                                      burn's model.mpk; `--weights random` for transformers' init instead),
                                      head.safetensors, the run's tokenizer.json with a tokenizer_config.json for
                                      AutoTokenizer, predict_spec.json (labels, max_length, markers). Not timed.
  run --model DIR --data F --out CSV  the timed job; --timing FILE gets the in-process phase times.
  check                               the marking, tokenization and truncation window against kre's fixtures
                                      (crates/re-data/tests/fixtures/encode/reference.json, typed-punct) and unit
                                      tests (crates/re-data/src/encode.rs).
  compare --kre A --python B --data F the two submission.csv files: same ids in input order, max |Δprob|, labels.
  report --raw RAW.tsv --meta M --out J   results.jsonl and the markdown table (standard library only).
"""
import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

T_START = time.time()

TYPE_WORDS = {
    "en": {"PER": "person", "ORG": "organization", "LOC": "location", "DAT": "date", "POH": "other",
           "NOH": "quantity", "UNK": "entity"},
    "ko": {"PER": "사람", "ORG": "단체", "LOC": "장소", "DAT": "날짜", "POH": "기타", "NOH": "수량", "UNK": "개체"},
}
ROOT = Path(__file__).resolve().parents[2]


def set_thread_env(threads: int) -> None:
    """Before numpy/torch/tokenizers are imported: every pool they might start gets `threads`."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                "RAYON_NUM_THREADS", "RAYON_RS_NUM_CPUS"):
        os.environ[var] = str(threads)
    os.environ["TOKENIZERS_PARALLELISM"] = "true"


# ----------------------------------------------------------------------------------------------- marking
class Scheme:
    """kre's `typed-punct[:en|:ko][:object=D]` (crates/re-data/src/markers.rs)."""

    def __init__(self, name: str):
        parts = name.split(":")
        if parts[0] not in ("typed-punct", "typed_punct"):
            raise SystemExit(f"marker scheme {name!r}: only kre's typed-punct schemes are reproduced here")
        self.words = TYPE_WORDS["en"]
        self.subject, self.subject_type, self.object, self.object_type = "@", "*", "#", "^"
        for p in parts[1:]:
            if p in TYPE_WORDS:
                self.words = TYPE_WORDS[p]
            elif p.startswith("object="):
                self.object = p[len("object="):]
            else:
                raise SystemExit(f"marker scheme {name!r}: unknown option {p!r}")


def mark(r: dict, scheme: Scheme):
    """(text, subject marker char, subject block chars, object marker char, object block chars), as kre's `mark`:
    `sentence[start_idx..=end_idx]` (characters) is replaced by the marked block, nothing is added outside it."""
    s = r["sentence"]
    spans = []
    for role, e in ((0, r["subject_entity"]), (1, r["object_entity"])):
        start, end = e["start_idx"], e["end_idx"]
        if s[start:end + 1] != e["word"]:
            raise ValueError(f"record {r.get('guid', r.get('id'))}: offsets {start}..={end} select "
                             f"{s[start:end + 1]!r} but the word is {e['word']!r}")
        spans.append((start, end, role, e))
    spans.sort(key=lambda x: x[0])
    if spans[0][1] >= spans[1][0]:
        raise ValueError(f"record {r.get('guid', r.get('id'))}: subject and object overlap")
    pieces, n, cursor = [], 0, 0
    out = [None, None]
    for start, end, role, e in spans:
        pieces.append(s[cursor:start])
        n += start - cursor
        delim, tdelim = (scheme.subject, scheme.subject_type) if role == 0 else (scheme.object, scheme.object_type)
        word_type = scheme.words.get(e["type"], e["type"].lower())
        block = f"{delim} {tdelim} {word_type} {tdelim} {e['word']} {delim}"
        pieces.append(block)
        out[role] = (n, n + len(block))
        n += len(block)
        cursor = end + 1
    pieces.append(s[cursor:])
    return "".join(pieces), out[0], out[1]


class Layout:
    """Where the tokenizer's post-processor puts the text: `prefix` special tokens before, `n_special` in all."""

    def __init__(self, tok):
        probe = tok(["x y"], add_special_tokens=True).encodings[0]
        seq = probe.sequence_ids
        self.prefix = seq.index(0)
        self.n_special = sum(1 for s in seq if s is None)


def encode_all(tok, layout: Layout, marked: list, max_length: int):
    """Token ids (special tokens included) and the two start-marker positions of every record, cut to max_length
    with kre's entity-aware window (crates/re-data/src/encode.rs): if the text does not fit, keep both entity
    blocks and spread the spare tokens evenly around them (shifted at the text's edges); if even they do not fit,
    keep the first block and what follows. A marker outside the window points at position 0 (CLS), as in kre."""
    enc = tok([m[0] for m in marked], add_special_tokens=True, return_attention_mask=False,
              return_token_type_ids=False).encodings
    budget = max_length - layout.n_special
    p = layout.prefix
    ids_out, subj_out, obj_out, truncated, cut = [], [], [], 0, 0
    for e, (text, (sm, se), (om, oe)) in zip(enc, marked):
        ids = e.ids
        s_start, s_end = e.char_to_token(sm), e.char_to_token(se - 1)
        o_start, o_end = e.char_to_token(om), e.char_to_token(oe - 1)
        if s_start is None or o_start is None or s_end is None or o_end is None:
            raise ValueError(f"an entity marker produced no token in {text!r}")
        n = len(ids) - layout.n_special
        if n <= budget:
            ids_out.append(ids)
            subj_out.append(s_start)
            obj_out.append(o_start)
            continue
        cut += 1
        # content coordinates (special tokens removed)
        sb, se_, ob, oe_ = s_start - p, s_end + 1 - p, o_start - p, o_end + 1 - p
        need_a, need_b = min(sb, ob), max(se_, oe_)
        if need_b - need_a <= budget:
            start = max(need_a - (budget - (need_b - need_a)) // 2, 0)
            end = min(start + budget, n)
            w0, w1 = end - budget, end
        else:
            w0, w1 = need_a, need_a + budget
        if not (w0 <= sb and se_ <= w1 and w0 <= ob and oe_ <= w1):
            truncated += 1
        ids_out.append(ids[:p] + ids[p + w0:p + w1] + ids[p + n:])
        subj_out.append(sb - w0 + p if w0 <= sb < w1 else 0)
        obj_out.append(ob - w0 + p if w0 <= ob < w1 else 0)
    return ids_out, subj_out, obj_out, truncated, cut


# ----------------------------------------------------------------------------------------------- prepare
def model_dir_of(run: Path) -> Path:
    return run / "best" if (run / "best" / "model_spec.json").is_file() else run


BURN_TO_HF = {  # kre's BERT-family module names (burn record) → transformers' (BertModel / RobertaModel)
    "embeddings.word_embeddings.weight": "embeddings.word_embeddings.weight",
    "embeddings.position_embeddings.weight": "embeddings.position_embeddings.weight",
    "embeddings.token_type_embeddings.weight": "embeddings.token_type_embeddings.weight",
    "embeddings.layer_norm.gamma": "embeddings.LayerNorm.weight",
    "embeddings.layer_norm.beta": "embeddings.LayerNorm.bias",
    "attention.query": "attention.self.query", "attention.key": "attention.self.key",
    "attention.value": "attention.self.value", "attention_output": "attention.output.dense",
    "attention_norm.gamma": "attention.output.LayerNorm.weight", "attention_norm.beta": "attention.output.LayerNorm.bias",
    "intermediate": "intermediate.dense", "output": "output.dense",
    "output_norm.gamma": "output.LayerNorm.weight", "output_norm.beta": "output.LayerNorm.bias",
}


def kre_weights(model_dir: Path):
    """The trained run's weights (burn's NamedMpk record, `model.mpk`, f32) under transformers' names: the encoder's
    state dict and the head's Linear (weight [labels, 2H], bias). burn stores Linear weights as [in, out]."""
    import msgpack
    import numpy as np

    record = msgpack.unpackb((model_dir / "model.mpk").read_bytes(), raw=False, strict_map_key=False)["item"]
    flat = {}

    def walk(x, path):
        if isinstance(x, dict) and isinstance(x.get("param"), dict) and "bytes" in x["param"]:
            p = x["param"]
            if p["dtype"] != "F32":
                raise SystemExit(f"{model_dir}/model.mpk: {'.'.join(path)} is {p['dtype']}, expected F32")
            flat[".".join(path)] = np.frombuffer(p["bytes"], dtype="<f4").reshape(p["shape"])
        elif isinstance(x, dict):
            for k, v in x.items():
                walk(v, path + [str(k)])
        elif isinstance(x, list):
            for i, v in enumerate(x):
                walk(v, path + [str(i)])

    walk(record, [])
    families = {k.split(".")[1] for k in flat if k.startswith("encoder.")}
    if families != {"Bert"}:
        raise SystemExit(f"{model_dir}: encoder family {families}; only BERT/RoBERTa runs are converted")
    encoder, head = {}, {}
    for name, w in flat.items():
        if name.startswith("head."):
            if name not in ("head.classifier.weight", "head.classifier.bias"):
                raise SystemExit(f"{model_dir}: head parameter {name} (only entity-start's Linear is mirrored)")
            head[name.rsplit(".", 1)[1]] = w.T if w.ndim == 2 else w
            continue
        rest = name.split(".", 2)[2]  # drop "encoder.Bert."
        if rest.startswith("layers."):
            _, i, sub = rest.split(".", 2)
            module, leaf = sub.rsplit(".", 1)
            if f"{module}.{leaf}" in BURN_TO_HF:
                hf = f"encoder.layer.{i}.{BURN_TO_HF[f'{module}.{leaf}']}"
            else:
                hf = f"encoder.layer.{i}.{BURN_TO_HF[module]}.{leaf}"
            encoder[hf] = w.T if leaf == "weight" and w.ndim == 2 else w
        else:
            encoder[BURN_TO_HF[rest]] = w
    return encoder, head


def cmd_prepare(a) -> None:
    import shutil

    import numpy as np
    import torch
    from safetensors.torch import save_file
    from transformers import AutoConfig, AutoModel

    src = model_dir_of(a.run)
    spec = json.loads((src / "model_spec.json").read_text())
    if spec.get("pooling") != "entity-start" or spec.get("concat_cls"):
        raise SystemExit(f"{src}: pooling {spec.get('pooling')} (concat_cls {spec.get('concat_cls')}); "
                         "this script mirrors entity-start without CLS")
    Scheme(spec["markers"] if isinstance(spec["markers"], str) else "custom")
    out = a.out
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    config = AutoConfig.from_pretrained(src)
    torch.manual_seed(a.seed)
    encoder = AutoModel.from_config(config, add_pooling_layer=False)
    head = torch.nn.Linear(2 * config.hidden_size, len(spec["labels"]))
    if a.weights == "kre":
        enc_w, head_w = kre_weights(src)
        missing, unexpected = encoder.load_state_dict({k: torch.from_numpy(np.array(v, dtype=np.float32))
                                                       for k, v in enc_w.items()}, strict=False)
        missing = [k for k in missing if not k.endswith("position_ids")]
        if missing or unexpected:
            raise SystemExit(f"{src}: weights missing {missing}, unexpected {unexpected}")
        head.load_state_dict({k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in head_w.items()})
    encoder.save_pretrained(tmp, safe_serialization=True)
    save_file({"weight": head.weight.detach().contiguous(), "bias": head.bias.detach().contiguous()},
              str(tmp / "head.safetensors"))
    shutil.copy(src / "tokenizer.json", tmp / "tokenizer.json")
    vocab = json.loads((src / "tokenizer.json").read_text())
    added = {t["content"] for t in vocab.get("added_tokens", [])}
    specials = {}
    for key, names in (("pad_token", ("[PAD]", "<pad>")), ("unk_token", ("[UNK]", "<unk>")),
                       ("cls_token", ("[CLS]", "<s>")), ("sep_token", ("[SEP]", "</s>")),
                       ("mask_token", ("[MASK]", "<mask>"))):
        for name in names:
            if name in added:
                specials[key] = name
                break
    (tmp / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "PreTrainedTokenizerFast", **specials},  # no model_max_length: records are cut here
        indent=1))
    (tmp / "predict_spec.json").write_text(json.dumps(
        {"labels": spec["labels"], "max_length": spec["max_length"], "markers": spec["markers"],
         "source_run": str(src), "weights": a.weights, "seed": a.seed}, ensure_ascii=False, indent=1))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    n_params = sum(p.numel() for p in encoder.parameters())
    print(f"wrote {out} ({config.model_type}, hidden {config.hidden_size}, {config.num_hidden_layers} layers, "
          f"{n_params / 1e6:.1f} M encoder parameters, {len(spec['labels'])} labels; weights: "
          f"{'the run' + chr(39) + 's, converted from model.mpk' if a.weights == 'kre' else 'random, seed ' + str(a.seed)})")


# ----------------------------------------------------------------------------------------------- run
def cmd_run(a) -> None:
    t_import0 = time.time()
    import numpy as np
    import pandas as pd
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModel, AutoTokenizer
    t_imported = time.time()

    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(a.threads)
    spec = json.loads((a.model / "predict_spec.json").read_text())
    labels, max_length = spec["labels"], int(spec["max_length"])
    scheme = Scheme(spec["markers"])
    tok = AutoTokenizer.from_pretrained(a.model)
    tok.backend_tokenizer.no_truncation()  # kre cuts records itself (entity-aware) and pads per batch
    tok.backend_tokenizer.no_padding()
    layout = Layout(tok)
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    encoder = AutoModel.from_pretrained(a.model, add_pooling_layer=False).eval()
    head_w = load_file(str(a.model / "head.safetensors"))
    head = torch.nn.Linear(head_w["weight"].shape[1], head_w["weight"].shape[0])
    head.load_state_dict(head_w)
    head.eval()
    t_loaded = time.time()
    print(f"model loaded at {t_loaded:.6f}", file=sys.stderr, flush=True)

    # read
    with open(a.data, encoding="utf-8") as f:
        records = json.load(f)
    ids = [str(r.get("guid", r.get("id"))) for r in records]
    if not records or len(set(ids)) != len(ids):
        raise SystemExit(f"{a.data}: no records, or repeated ids")
    t_read = time.time()
    # mark + tokenize + cut
    marked = [mark(r, scheme) for r in records]
    input_ids, subj, obj, truncated, cut = encode_all(tok, layout, marked, max_length)
    t_tok = time.time()
    # batches sorted by length → encoder → head → softmax
    lengths = [len(x) for x in input_ids]
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    probs = np.empty((len(records), len(labels)), dtype=np.float32)
    padded_tokens = 0
    with torch.inference_mode():
        for b in range(0, len(order), a.batch_size):
            idx = order[b:b + a.batch_size]
            width = max(lengths[i] for i in idx)
            padded_tokens += width * len(idx)
            batch = np.full((len(idx), width), pad, dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                batch[row, :lengths[i]] = input_ids[i]
                mask[row, :lengths[i]] = 1
            h = encoder(input_ids=torch.from_numpy(batch), attention_mask=torch.from_numpy(mask)).last_hidden_state
            rows = torch.arange(len(idx))
            feats = torch.cat([h[rows, torch.tensor([subj[i] for i in idx])],
                               h[rows, torch.tensor([obj[i] for i in idx])]], dim=-1)
            probs[idx] = torch.softmax(head(feats), dim=-1).numpy()
    t_fwd = time.time()
    # submission.csv as KLUE's baseline writes it: a DataFrame with a list column, to_csv(index=False)
    best = probs.argmax(axis=1)
    out = pd.DataFrame({"id": ids, "pred_label": [labels[k] for k in best],
                        "probs": probs.astype(np.float64).tolist()})
    out.to_csv(a.out, index=False)
    t_done = time.time()
    print(f"wrote {a.out} ({len(out)} rows)")

    if a.timing:
        import tokenizers
        import transformers
        a.timing.write_text(json.dumps({
            "records": len(records), "batch_size": a.batch_size, "max_length": max_length,
            "tokens": sum(lengths), "padded_tokens": padded_tokens, "entity_truncated": truncated,
            "cut_to_max_length": cut,
            "batches": (len(order) + a.batch_size - 1) // a.batch_size,
            "interpreter_start_s": T_START, "imports_s": t_imported - t_import0, "load_s": t_loaded - t_imported,
            "loaded_at": t_loaded, "read_s": t_read - t_loaded, "tokenize_s": t_tok - t_read,
            "forward_s": t_fwd - t_tok, "write_s": t_done - t_fwd, "job_s": t_done - t_loaded, "done_at": t_done,
            "torch_threads": torch.get_num_threads(), "torch_interop_threads": torch.get_num_interop_threads(),
            "attn_implementation": getattr(encoder.config, "_attn_implementation", None),
            "versions": {"python": sys.version.split()[0], "torch": torch.__version__,
                         "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                         "numpy": np.__version__, "pandas": pd.__version__},
        }, indent=1))


# ----------------------------------------------------------------------------------------------- check
def cmd_check(a) -> None:
    """Marked texts and token ids equal kre's fixtures (typed-punct:en), for every tokenizer found."""
    from transformers import PreTrainedTokenizerFast

    fixtures = ROOT / "crates/re-data/tests/fixtures/encode"
    records = {r["guid"]: r for r in json.loads((fixtures / "records.json").read_text())}
    ref = json.loads((fixtures / "reference.json").read_text())
    cache = Path(os.environ.get("KRE_CACHE", Path.home() / ".cache/kre"))
    files = {"korean-wordpiece": fixtures / "korean-wordpiece.json",
             "all-minilm-l6-v2": cache / "all-minilm-l6-v2/tokenizer.json"}
    checked = 0
    for t in ref["tokenizers"]:
        path = files.get(t["name"])
        if path is None or not path.is_file():
            print(f"skip {t['name']} (no {path})")
            continue
        tok = PreTrainedTokenizerFast(tokenizer_file=str(path))
        tok.backend_tokenizer.no_truncation()
        tok.backend_tokenizer.no_padding()
        layout = Layout(tok)
        for s in t["schemes"]:
            if not s["scheme"].startswith("typed-punct"):
                continue
            scheme = Scheme(s["scheme"])
            for ex in s["examples"]:
                m = mark(records[ex["guid"]], scheme)
                if m[0] != ex["text"]:
                    raise SystemExit(f"{t['name']} {s['scheme']} {ex['guid']}: text {m[0]!r} != {ex['text']!r}")
                ids, subj, obj, _, _ = encode_all(tok, layout, [m], 10 ** 6)
                if ids[0] != ex["ids"]:
                    raise SystemExit(f"{t['name']} {s['scheme']} {ex['guid']}: ids differ")
                for pos, marker in ((subj[0], scheme.subject), (obj[0], scheme.object)):
                    if ex["tokens"][pos] != marker:
                        raise SystemExit(f"{t['name']} {ex['guid']}: token {pos} is {ex['tokens'][pos]!r}")
                checked += 1
    # The truncation window: kre's unit tests in crates/re-data/src/encode.rs (word-level tokenizer, `[CLS] $A
    # [SEP]`, scheme none: a marker is its word), their expected ids and positions.
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "b", "c", "d", "e", "f", "g", "h", "x", "y"]
    wt = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    wt.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    wt.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2),
                                                                                                ("[SEP]", 3)])
    tok = PreTrainedTokenizerFast(tokenizer_object=wt)
    layout = Layout(tok)
    cases = [  # text, subject char, object char, max_length → ids, subject pos, object pos, truncated
        ("a b c d e f x g y h", 12, 16, 7, [2, 9, 12, 10, 13, 11, 3], 2, 4, 0),
        ("a b c d e f g h x y", 16, 18, 7, [2, 9, 10, 11, 12, 13, 3], 4, 5, 0),
        ("x a b c d e f g y", 0, 16, 8, [2, 12, 4, 5, 6, 7, 8, 3], 1, 0, 1),
    ]
    for text, sc, oc, max_length, want, ws, wo, wtrunc in cases:
        got = encode_all(tok, layout, [(text, (sc, sc + 1), (oc, oc + 1))], max_length)[:4]
        if got != ([want], [ws], [wo], wtrunc):
            raise SystemExit(f"truncation window of {text!r}: {got} != {([want], [ws], [wo], wtrunc)}")
    print(f"check: {checked} marked texts, token ids and marker positions equal kre's fixtures; "
          f"{len(cases)} truncation windows equal kre's unit tests")


# ----------------------------------------------------------------------------------------------- compare
def cmd_compare(a) -> None:
    """The two submission.csv files: layout, ids in input order, and (same weights) how far the probabilities and
    labels are apart. Standard library only."""
    import csv

    ids = [str(r.get("guid", r.get("id"))) for r in json.loads(a.data.read_text(encoding="utf-8"))]
    subs = {}
    for name, path in (("kre", a.kre), ("python", a.python)):
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
        head, body = rows[0], rows[1:]
        if head != ["id", "pred_label", "probs"] or [r[0] for r in body] != ids:
            raise SystemExit(f"{path}: header {head}, {len(body)} rows: not id,pred_label,probs in input order")
        subs[name] = [(r[1], json.loads(r[2])) for r in body]
    widths = {len(p) for s in subs.values() for _, p in s}
    diff = max(abs(x - y) for (_, p), (_, q) in zip(subs["kre"], subs["python"]) for x, y in zip(p, q))
    same = sum(a_ == b_ for (a_, _), (b_, _) in zip(subs["kre"], subs["python"]))
    result = {"records": len(ids), "probs_per_row": sorted(widths), "max_abs_prob_diff": diff,
              "same_pred_label": same}
    print(f"  submissions: {len(ids)} rows each, ids in input order, {sorted(widths)} probabilities per row; "
          f"max |p_kre − p_python| = {diff:.2e}; same pred_label for {same} of {len(ids)}")
    if a.out:
        a.out.write_text(json.dumps(result, indent=1))


# ----------------------------------------------------------------------------------------------- report
ANSI = re.compile(r"\x1b\[[0-9;]*m")
DURATION = re.compile(r"in ([0-9.]+)(ns|µs|us|ms|s)\b")
UNIT = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def from_rfc3339(stamp: str) -> float:
    from datetime import datetime
    stamp = stamp.replace("Z", "+00:00")
    m = re.match(r"(.*\.\d{6})\d*(.*)", stamp)  # fromisoformat takes at most 6 fraction digits
    if m:
        stamp = m.group(1) + m.group(2)
    return datetime.fromisoformat(stamp).timestamp()


def kre_log(log: Path) -> dict:
    """re_train::predict's debug lines: `model loaded for the … engine in X` (its time stamp and X) and `predicted
    at Y` (Y − X: read + mark + tokenize + batches + encoder + softmax, before submission.csv is written)."""
    info = {}
    for line in log.read_text(errors="replace").splitlines():
        line = ANSI.sub("", line).strip()
        if "model loaded for the" in line:
            d = DURATION.search(line)
            info.update({"loaded_at": from_rfc3339(line.split()[0]),
                         "load_s": float(d.group(1)) * UNIT[d.group(2)] if d else None,
                         "engine": line.split("model loaded for the ", 1)[1].split()[0]})
        elif "predicted at" in line and info.get("load_s") is not None:
            d = re.search(r"predicted at ([0-9.]+)(ns|µs|us|ms|s)\b", line)
            if d:
                info["predict_s"] = float(d.group(1)) * UNIT[d.group(2)] - info["load_s"]
    return info


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else None


def fmt(x, digits=2):
    return "–" if x is None else f"{x:.{digits}f}"


def cmd_report(a) -> None:
    meta = json.loads(a.meta.read_text())
    rows = []
    for line in a.raw.read_text().splitlines():
        if not line.strip():
            continue
        size, side, rep, start, end, rc, log, timing = line.split("\t")
        row = {"size": size, "side": side, "rep": int(rep), "records": meta["records"], "rc": int(rc),
               "wall_s": float(end) - float(start), **{k: meta[k] for k in
                                                       ("threads", "batch_size", "max_length", "machine", "date")}}
        if int(rc) != 0:
            row["error"] = f"exit status {rc}" + (" (timeout)" if int(rc) == 124 else "") + f", see {log}"
        elif side == "kre":
            info = kre_log(Path(log))
            row.update({k: v for k, v in info.items() if k != "loaded_at"})
            if "loaded_at" in info:
                row["after_load_s"] = float(end) - info["loaded_at"]
        else:
            t = json.loads(Path(timing).read_text())
            row.update({k: t[k] for k in ("imports_s", "load_s", "read_s", "tokenize_s", "forward_s", "write_s",
                                          "job_s", "tokens", "padded_tokens", "entity_truncated", "cut_to_max_length",
                                          "batches",
                                          "torch_threads", "attn_implementation")})
            row["after_load_s"] = float(end) - t["loaded_at"]
            row["interpreter_start_s"] = t["interpreter_start_s"] - float(start)
        row["records_per_s"] = row["records"] / row["wall_s"] if "error" not in row else None
        row["versions"] = meta["versions"]
        rows.append(row)
    with open(a.out, "a") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")

    v = meta["versions"]
    print(f"\n### kre predict vs Python, end to end ({meta['records']} records)\n")
    print(f"machine: {meta['machine']}; {meta['date']}; {meta['threads']} threads each side; batch "
          f"{meta['batch_size']}, max_length {meta['max_length']}; kre engine {meta['engine']}; median of {meta['reps']} runs after 1 warm-up "
          f"run each (first 256 records). Load average (1/5/15 min) when the script started: "
          f"{meta.get('loadavg_start', '?')}, now: {' '.join(open('/proc/loadavg').read().split()[:3])}.")
    print(f"versions: {v.get('kre')} (git {v.get('kre_git')}), torch {v.get('torch')}, transformers "
          f"{v.get('transformers')}, tokenizers {v.get('tokenizers')}, pandas {v.get('pandas')}, "
          f"Python {v.get('python')}\n")
    print("| size | side | records/s (process) | process s | after model load s | records/s (after load) "
          "| load s | imports s | kre / Python (process) | kre / Python (after load) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    sizes = list(dict.fromkeys(r["size"] for r in rows))
    for size in sizes:
        stats = {}
        for side in ("kre", "python"):
            ok = [r for r in rows if r["size"] == size and r["side"] == side and "error" not in r]
            bad = [r for r in rows if r["size"] == size and r["side"] == side and "error" in r]
            if not ok:
                stats[side] = None
                print(f"| {size} | {side} | error: {bad[0]['error'] if bad else 'not run'} | | | | | | | |")
                continue
            wall = median([r["wall_s"] for r in ok])
            after = median([r["after_load_s"] for r in ok if r.get("after_load_s") is not None])
            load = median([r["load_s"] for r in ok if r.get("load_s") is not None])
            imports = median([r["imports_s"] for r in ok if r.get("imports_s") is not None])
            stats[side] = (wall, after, load, imports, len(ok))
        for side in ("kre", "python"):
            if stats[side] is None:
                continue
            wall, after, load, imports, n = stats[side]
            n_rec = meta["records"]
            ratio_wall = ratio_after = ""
            if side == "kre" and stats["python"] is not None:
                ratio_wall = f"**{stats['python'][0] / wall:.2f}×**"
                if after and stats["python"][1]:
                    ratio_after = f"{stats['python'][1] / after:.2f}×"
            print(f"| {size} | {side}{'' if n == meta['reps'] else f' ({n} runs)'} | {n_rec / wall:.1f} "
                  f"| {fmt(wall)} | {fmt(after)} | {fmt(n_rec / after if after else None, 1)} | {fmt(load)} "
                  f"| {fmt(imports)} | {ratio_wall} | {ratio_after} |")
    py = [r for r in rows if r["side"] == "python" and "error" not in r]
    for size in sizes:
        cmp_file = a.raw.parent / f"compare-{size}.json"
        if cmp_file.is_file():
            c = json.loads(cmp_file.read_text())
            print(f"\n{size}: the two submission.csv files (same weights): max |p_kre − p_python| = "
                  f"{c['max_abs_prob_diff']:.2e}, same pred_label for {c['same_pred_label']} of {c['records']}")
        k = [r["predict_s"] for r in rows if r["size"] == size and r["side"] == "kre" and r.get("predict_s")]
        p = [r for r in py if r["size"] == size]
        if k or p:
            both = [f"kre {fmt(median(k))} s" if k else "",
                    f"Python {fmt(median([x['read_s'] + x['tokenize_s'] + x['forward_s'] for x in p]))} s" if p else ""]
            print(f"\n{size}: read → softmax (after model load, before writing submission.csv): "
                  f"{', '.join(x for x in both if x)}")
        if p:
            r = p[0]
            print(f"\n{size}: {r['tokens'] / r['records']:.1f} tokens per record (with [CLS]/[SEP]), "
                  f"{r['padded_tokens']} padded tokens in {r['batches']} batches, {r['cut_to_max_length']} records "
                  f"cut to max_length ({r['entity_truncated']} of them losing an entity marker); Python phases (median run): read "
                  f"{fmt(median([x['read_s'] for x in p]))} s, mark+tokenize {fmt(median([x['tokenize_s'] for x in p]))}"
                  f" s, batches+encoder+softmax {fmt(median([x['forward_s'] for x in p]))} s, pandas write "
                  f"{fmt(median([x['write_s'] for x in p]))} s, interpreter exit "
                  f"{fmt(median([x['after_load_s'] - x['job_s'] for x in p]))} s; before the model load: "
                  f"interpreter start {fmt(median([x['interpreter_start_s'] for x in p]))} s, imports "
                  f"{fmt(median([x['imports_s'] for x in p]))} s; torch attention: {r['attn_implementation']}")
    print("\nkre / Python = Python seconds / kre seconds (> 1: kre is faster). \"after model load\" = from the "
          "moment the process reports its model loaded (kre: the time stamp of its debug line `model loaded for "
          "the … engine`; Python: after imports + from_pretrained) to process exit.")
    print(f"\nresults: {a.out}")


# ----------------------------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--run", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--weights", choices=("kre", "random"), default="kre",
                   help="kre: the run's trained weights (needs msgpack), so both sides compute the same "
                        "probabilities; random: transformers' init with --seed")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p = sub.add_parser("compare")
    p.add_argument("--kre", type=Path, required=True)
    p.add_argument("--python", type=Path, required=True)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path)
    p = sub.add_parser("run")
    p.add_argument("--model", type=Path, required=True, help="a folder written by `prepare`")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--batch-size", type=int, default=64, help="kre predict's default")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--timing", type=Path)
    p = sub.add_parser("check")
    p.add_argument("--threads", type=int, default=2)
    p = sub.add_parser("report")
    p.add_argument("--raw", type=Path, required=True)
    p.add_argument("--meta", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    if a.cmd not in ("report", "compare"):
        set_thread_env(a.threads)
    {"prepare": cmd_prepare, "run": cmd_run, "check": cmd_check, "report": cmd_report,
     "compare": cmd_compare}[a.cmd](a)


if __name__ == "__main__":
    main()
