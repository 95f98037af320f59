#!/usr/bin/env python3
"""Tiny random Hugging Face checkpoints + reference outputs for the re-models parity tests.

Creates, under tests/fixtures/parity/<family>/, a tiny random checkpoint of each encoder family
(BERT, RoBERTa, ELECTRA, DeBERTa-v2 and a DeBERTa-v3-style config), saved as safetensors and as
pytorch_model.bin, a small Korean WordPiece tokenizer, and expected.json with the token ids and the
last hidden states that transformers computes for a few Korean inputs (a padded batch included).
It also writes tests/fixtures/minilm/reference.json: ids and mean-pooled embeddings of
all-MiniLM-L6-v2 (read from $KRE_CACHE/all-minilm-l6-v2, installed by scripts/install-minilm.sh).

Environment (once):
    python3 -m venv .venv-torch
    .venv-torch/bin/pip install torch transformers safetensors sentencepiece tokenizers
Run from the repository root:
    .venv-torch/bin/python tools/make_parity_fixtures.py
Tested with torch 2.15.0, transformers 5.23.0, tokenizers 0.23.3. The layout is described in
tests/fixtures/parity/README.md.
"""
import json
import os
import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import BertWordPieceTokenizer
from transformers import (
    AutoModel,
    AutoTokenizer,
    BertConfig,
    BertModel,
    BertTokenizerFast,
    DebertaV2Config,
    DebertaV2ForMaskedLM,
    DebertaV2Model,
    ElectraConfig,
    ElectraForPreTraining,
    RobertaConfig,
    RobertaForMaskedLM,
)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "parity"
SEED = 20240605

# Sentences the vocabulary is trained on (written for this fixture).
CORPUS = [
    "이순신은 조선 중기의 무신이다.",
    "서울특별시는 대한민국의 수도이며 가장 큰 도시이다.",
    "삼성전자는 1969년에 설립된 대한민국의 전자 기업이다.",
    "세종대왕은 훈민정음을 창제하였다.",
    "김연아는 대한민국의 피겨 스케이팅 선수이다.",
    "KLUE 데이터셋은 한국어 자연어 이해 평가를 위해 만들어졌다.",
    "관계 추출은 문장 속 두 개체 사이의 관계를 예측하는 과제이다.",
    "부산광역시는 대한민국 제2의 도시로 항구가 유명하다.",
    "방탄소년단은 빅히트 엔터테인먼트 소속의 보이그룹이다.",
    "고려대학교와 연세대학교는 서울에 있는 사립 대학교이다.",
    "이재용은 삼성전자의 회장이다.",
    "손흥민은 토트넘 홋스퍼에서 뛰는 축구 선수이다.",
    "한글은 1443년에 만들어진 문자이다.",
    "제주도는 대한민국에서 가장 큰 섬이다.",
    "현대자동차의 본사는 서울 서초구에 있다.",
    "BTS와 BLACKPINK는 K-pop 그룹이다.",
    "Café 라떼와 아메리카노를 주문했다.",
]

# Inputs whose outputs are recorded (different lengths, so the batch is padded; one unseen word for [UNK]/subwords).
TEXTS = [
    "이순신은 조선의 무신이다.",
    "KLUE 데이터셋은 한국어 관계 추출 과제를 포함하며, 삼성전자와 이재용 회장의 관계를 예측한다.",
    "세종대왕",
    "Café에서 김연아와 손흥민을 만났다!",
]
PAIR = ("이재용은 삼성전자의 회장이다.", "이재용과 삼성전자의 관계")

SMALL = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=37,
    max_position_embeddings=64,
    hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1,
    initializer_range=0.2,  # larger than 0.02 so the random layers are far from identity
)


def train_vocab(lowercase: bool, workdir: Path, specials=("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")) -> Path:
    tok = BertWordPieceTokenizer(lowercase=lowercase, strip_accents=None if lowercase else False, clean_text=True)
    tok.train_from_iterator(
        CORPUS,
        vocab_size=420,
        min_frequency=1,
        limit_alphabet=400,
        special_tokens=list(specials),
    )
    workdir.mkdir(parents=True, exist_ok=True)
    tok.save_model(str(workdir))
    return workdir / "vocab.txt"


def make_tokenizer(vocab: Path, lowercase: bool):
    return BertTokenizerFast(vocab=str(vocab), do_lower_case=lowercase)


def save_tokenizer(tokenizer, vocab: Path, fmt_dir: Path, with_json: bool):
    """safetensors dirs get tokenizer.json (+config, vocab); bin dirs only vocab.txt + tokenizer_config.json,
    so the Rust vocab.txt pipeline is tested against the same HF ids."""
    tmp = fmt_dir / "_tok"
    tokenizer.save_pretrained(str(tmp))
    if with_json:
        shutil.copy(tmp / "tokenizer.json", fmt_dir / "tokenizer.json")
    shutil.copy(tmp / "tokenizer_config.json", fmt_dir / "tokenizer_config.json")
    shutil.copy(vocab, fmt_dir / "vocab.txt")
    shutil.rmtree(tmp)


def save_weights(model, config, fmt_dir: Path, fmt: str, state_dict=None):
    fmt_dir.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(str(fmt_dir))
    sd = {k: v.detach().clone().contiguous() for k, v in (state_dict or model.state_dict()).items()}
    if fmt == "bin":
        torch.save(sd, fmt_dir / "pytorch_model.bin")
    else:
        # Tied tensors (MLM decoders) are stored once as separate copies; safetensors refuses shared storage.
        save_file(sd, str(fmt_dir / "model.safetensors"), metadata={"format": "pt"})


def run_cases(encoder, tokenizer, with_pair: bool, with_types: bool):
    cases = []

    def record(name, enc, texts, pair=None):
        with torch.no_grad():
            kwargs = dict(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
            if with_types:
                kwargs["token_type_ids"] = enc["token_type_ids"]
            out = encoder(**kwargs).last_hidden_state.float()
        cases.append(
            {
                "name": name,
                "texts": texts,
                "text_pairs": pair,
                "input_ids": enc["input_ids"].tolist(),
                "attention_mask": enc["attention_mask"].tolist(),
                "token_type_ids": enc["token_type_ids"].tolist(),
                "shape": list(out.shape),
                "last_hidden_state": [float(x) for x in out.reshape(-1).tolist()],
            }
        )

    for i, text in enumerate(TEXTS):
        record(f"single_{i}", tokenizer([text], return_tensors="pt"), [text])
    record("batch_padded", tokenizer(TEXTS, padding=True, return_tensors="pt"), TEXTS)
    if with_pair:
        record("pair", tokenizer([PAIR[0]], [PAIR[1]], return_tensors="pt"), [PAIR[0]], [PAIR[1]])
    return cases


def write_expected(family_dir: Path, family: str, config, cases, extra=None):
    doc = {
        "family": family,
        "model_type": config.model_type,
        "generator": f"tools/make_parity_fixtures.py (torch {torch.__version__}, transformers "
        f"{sys.modules['transformers'].__version__})",
        "cases": cases,
    }
    if extra:
        doc.update(extra)
    (family_dir / "expected.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1))


def build(family: str, make_model, encoder_of, tokenizer, vocab, with_pair, with_types, legacy=None, half=False):
    torch.manual_seed(SEED)
    model, config = make_model()
    model.eval()
    family_dir = OUT / family
    if family_dir.exists():
        shutil.rmtree(family_dir)
    for fmt in ("safetensors", "bin"):
        fmt_dir = family_dir / fmt
        save_weights(model, config, fmt_dir, fmt)
        save_tokenizer(tokenizer, vocab, fmt_dir, with_json=(fmt == "safetensors"))
    extra = {}
    if legacy:
        # Old-style checkpoint: `bert.` prefix, LayerNorm.gamma/beta, plus a pre-training head that must be ignored.
        fmt_dir = family_dir / "bin-legacy"
        save_weights(model, config, fmt_dir, "bin", state_dict=legacy(model.state_dict()))
        save_tokenizer(tokenizer, vocab, fmt_dir, with_json=False)
    if half:
        # fp16 / bf16 weights; the reference runs the same rounded weights in float32.
        for name, dtype in (("fp16", torch.float16), ("bf16", torch.bfloat16)):
            fmt_dir = family_dir / name
            half_sd = {k: v.to(dtype) if v.is_floating_point() else v for k, v in model.state_dict().items()}
            save_weights(model, config, fmt_dir, "safetensors", state_dict=half_sd)
            save_tokenizer(tokenizer, vocab, fmt_dir, with_json=True)
            rounded = type(model)(config)
            rounded.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in half_sd.items()})
            rounded.eval()
            cases = run_cases(encoder_of(rounded), tokenizer, False, with_types)
            extra[f"cases_{name}"] = [c for c in cases if c["name"] == "batch_padded"]
    cases = run_cases(encoder_of(model), tokenizer, with_pair, with_types)
    write_expected(family_dir, family, config, cases, extra)
    size = sum(f.stat().st_size for f in family_dir.rglob("*") if f.is_file())
    print(f"{family}: {size / 1e6:.2f} MB in {family_dir}")


def legacy_bert(sd):
    out = {}
    for k, v in sd.items():
        k = "bert." + k
        k = k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        out[k] = v
    out["cls.predictions.bias"] = torch.zeros(7)
    out["cls.seq_relationship.weight"] = torch.zeros(2, SMALL["hidden_size"])
    return out


def main():
    torch.set_num_threads(1)
    work = OUT / "_vocab"
    vocab_cased = train_vocab(False, work / "cased")
    vocab_lower = train_vocab(True, work / "lower")
    tok_cased = make_tokenizer(vocab_cased, False)
    tok_lower = make_tokenizer(vocab_lower, True)
    # klue/roberta's WordPiece vocab starts [CLS]=0, [PAD]=1, [SEP]=2, [UNK]=3 and its config has pad_token_id 1.
    vocab_klue = train_vocab(False, work / "klue", specials=("[CLS]", "[PAD]", "[SEP]", "[UNK]", "[MASK]"))
    tok_klue = make_tokenizer(vocab_klue, False)
    vocab_size = tok_cased.vocab_size

    def deberta_common(**kw):
        d = dict(SMALL, vocab_size=vocab_size, pad_token_id=0, hidden_act="gelu", layer_norm_eps=1e-7)
        d.update(kw)
        return d

    builds = {
        # DeBERTa first: the models-deberta helper consumes these.
        "deberta_v3": lambda: build(
            "deberta_v3",
            lambda: (
                lambda c: (DebertaV2ForMaskedLM(c), c)
            )(
                DebertaV2Config(
                    **deberta_common(
                        type_vocab_size=0,
                        relative_attention=True,
                        pos_att_type=["p2c", "c2p"],
                        position_buckets=256,
                        max_relative_positions=-1,
                        norm_rel_ebd="layer_norm",
                        share_att_key=True,
                        position_biased_input=False,
                    )
                )
            ),
            lambda m: m.deberta,
            tok_cased,
            vocab_cased,
            with_pair=False,
            with_types=True,
        ),
        "deberta_v2": lambda: build(
            "deberta_v2",
            lambda: (lambda c: (DebertaV2Model(c), c))(
                DebertaV2Config(
                    **deberta_common(
                        type_vocab_size=2,
                        relative_attention=True,
                        pos_att_type=["c2p", "p2c"],
                        # small buckets so the log-bucket branch is hit by these short inputs
                        position_buckets=8,
                        max_relative_positions=16,
                        norm_rel_ebd="none",
                        share_att_key=False,
                        position_biased_input=True,
                        conv_kernel_size=3,
                        conv_act="gelu",
                    )
                )
            ),
            lambda m: m,
            tok_cased,
            vocab_cased,
            with_pair=True,
            with_types=True,
        ),
        "bert": lambda: build(
            "bert",
            lambda: (lambda c: (BertModel(c, add_pooling_layer=True), c))(
                BertConfig(**SMALL, vocab_size=vocab_size, hidden_act="gelu", type_vocab_size=2)
            ),
            lambda m: m,
            tok_cased,
            vocab_cased,
            with_pair=True,
            with_types=True,
            legacy=legacy_bert,
            half=True,
        ),
        "roberta": lambda: build(
            "roberta",
            lambda: (lambda c: (RobertaForMaskedLM(c), c))(
                RobertaConfig(
                    **SMALL,
                    vocab_size=tok_klue.vocab_size,
                    hidden_act="gelu_new",
                    type_vocab_size=1,
                    pad_token_id=1,
                    bos_token_id=0,
                    eos_token_id=2,
                    layer_norm_eps=1e-5,
                )
            ),
            lambda m: m.roberta,
            tok_klue,
            vocab_klue,
            with_pair=False,
            with_types=False,
        ),
        "electra": lambda: build(
            "electra",
            lambda: (lambda c: (ElectraForPreTraining(c), c))(
                ElectraConfig(
                    **SMALL,
                    vocab_size=tok_lower.vocab_size,
                    embedding_size=24,
                    hidden_act="gelu",
                    type_vocab_size=2,
                )
            ),
            lambda m: m.electra,
            tok_lower,
            vocab_lower,
            with_pair=True,
            with_types=True,
        ),
    }
    only = [a for a in sys.argv[1:] if a != "minilm"] if sys.argv[1:] else list(builds)
    for name in only:
        builds[name]()
    shutil.rmtree(work)
    if not sys.argv[1:] or "minilm" in sys.argv[1:]:
        minilm()


def minilm():
    cache = Path(os.environ.get("KRE_CACHE", Path.home() / ".cache" / "kre"))
    model_dir = cache / "all-minilm-l6-v2"
    if not (model_dir / "config.json").exists():
        print(f"skipping MiniLM reference: {model_dir} missing (bash scripts/install-minilm.sh)")
        return
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModel.from_pretrained(str(model_dir)).eval()
    texts = [
        "This is a test sentence.",
        "이순신은 조선 중기의 무신이다.",
        "서울특별시는 대한민국의 수도이다.",
        "KLUE relation extraction: 삼성전자와 이재용의 관계",
    ]
    enc = tok(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    mean = (hidden * mask).sum(1) / mask.sum(1)
    cls = hidden[:, 0]
    items = []
    for i, text in enumerate(texts):
        n = int(enc["attention_mask"][i].sum())
        items.append(
            {
                "text": text,
                "input_ids": enc["input_ids"][i][:n].tolist(),
                "mean": [float(x) for x in mean[i]],
                "cls": [float(x) for x in cls[i]],
            }
        )
    out = ROOT / "tests" / "fixtures" / "minilm"
    out.mkdir(parents=True, exist_ok=True)
    doc = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (from $KRE_CACHE/all-minilm-l6-v2)",
        "pooling": "mean over attention_mask==1 tokens incl. [CLS]/[SEP], no normalisation; cls = hidden[:, 0]",
        "generator": f"tools/make_parity_fixtures.py (torch {torch.__version__})",
        "items": items,
    }
    (out / "reference.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1))
    print(f"minilm reference: {out / 'reference.json'}")


if __name__ == "__main__":
    main()
