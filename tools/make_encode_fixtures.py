#!/usr/bin/env python3
"""Fixtures for re-data's marker/encoding tests (crates/re-data/tests/markers_encode.rs).

Venv:  python3 -m venv .venv-sk && .venv-sk/bin/pip install tokenizers
Run:   .venv-sk/bin/python tools/make_encode_fixtures.py        (from the repository root)

Writes, under crates/re-data/tests/fixtures/encode/:
  korean-wordpiece.json  a small WordPiece tokenizer (BERT-style: BertNormalizer without lower-casing,
                         BertPreTokenizer, [CLS] $A [SEP]) trained here on Korean sentences generated from the
                         templates and word lists below (written for this fixture; no external corpus).
  records.json           hand-written test records (subject after object, adjacent entities, entities at the
                         start/end, 4-byte characters, English, one long sentence for truncation tests).
  reference.json         what Python `tokenizers` produces for every record marked with every scheme, for the
                         Korean tokenizer and for all-MiniLM-L6-v2 ($KRE_CACHE/all-minilm-l6-v2/tokenizer.json,
                         installed by scripts/install-test-deps.sh): marked text, ids, char offsets, tokens,
                         the number of marker tokens added and their ids.

The marking rules below mirror crates/re-data/src/markers.rs (independent re-implementation: the Rust tests check that
both give the same text).
"""
import json
import os
import random
import sys
from pathlib import Path

from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "crates" / "re-data" / "tests" / "fixtures" / "encode"

# ---------------------------------------------------------------- corpus for the Korean tokenizer
PEOPLE = ["김민수", "이서연", "박지훈", "최유진", "정하늘", "강도윤", "조지 해리슨", "봉준호", "베토벤", "이순신",
          "한지민", "윤서준", "장미란", "오세훈", "임하은", "송민호", "김철수", "Bill Gates"]
ORGS = ["비틀즈", "한빛전자", "서울대학교", "한국은행", "대한축구협회", "푸른숲출판사", "미래자동차", "국립중앙박물관",
        "새벽신문", "누리통신", "하나은행", "세종문화회관", "Microsoft", "유엔", "국회"]
PLACES = ["서울", "부산", "대구", "인천", "광주", "대전", "제주도", "뉴욕", "런던", "파리", "본", "대한민국", "종로구",
          "강남구", "Albuquerque"]
DATES = ["1969년", "1998년", "2001년", "2015년 3월", "1770년", "1950년대", "2020년 8월 15일", "어제", "지난해", "1975년"]
TITLES = ["대표", "회장", "교수", "감독", "기자", "총재", "사장", "이사", "연구원", "선수", "작가", "의원"]
NUMBERS = ["2000명", "300명", "열두 명", "50만 권", "3개", "백여 명", "1000억 원"]
WORKS = ["기생충", "Abbey Road", "운명 교향곡", "난중일기", "태백산맥", "별빛 아래"]
TEMPLATES = [
    "{p}은 {o}의 {t}이다.",
    "{p}는 {d}에 {o}에 입사했다.",
    "{o}는 {d} {l}에서 설립되었다.",
    "{o}의 본사는 {l}에 있다.",
    "{p}은 {l}에서 태어나 {o}에서 일했다.",
    "{o}의 {t} {p}는 기자회견에서 새 계획을 밝혔다.",
    "{d}, {p}는 {o}를 떠나 {l}로 이주했다.",
    "{o}에는 {n}의 직원이 근무한다.",
    "{p}가 쓰고 {o}가 부른 노래는 큰 인기를 얻었다.",
    "{p} 감독의 영화 {w}은 {d}에 개봉했다.",
    "{l}에 있는 {o}는 {d}부터 {n}을 고용했다.",
    "{p}의 아버지는 {p2}이며, 두 사람은 {l}에 살았다.",
    "{o}와 {o2}는 {d}에 합병했다.",
    "{p}은 {o} 소속 {t}로 활동하고 있다.",
    "〈{w}〉는 {p}이 {d}에 발표한 작품이다.",
    "{l} 출신의 {p}는 {o}의 {t}을 지냈다.",
    "그는 {d} {o}를 세우고 {n}을 모았다.",
    "{p}와 {p2}는 {o}에서 함께 일한 동료다.",
]
ENGLISH = [
    "Bill Gates founded Microsoft in Albuquerque in 1975.",
    "The Beatles recorded Abbey Road in London in 1969.",
    "Microsoft moved its headquarters to Redmond.",
    "George Harrison wrote the song for the band.",
]
# Marker punctuation and type words must be in the vocabulary.
MARKER_LINES = [
    "@ * 사람 * {p} @ # ^ 단체 ^ {o} #",
    "@ * 단체 * {o} @ & ^ 장소 ^ {l} &",
    "# ^ 날짜 ^ {d} # ^ 수량 ^ {n} ^ 기타 ^ {w} ^ 개체 ^",
    "@ * person * {p} @ # ^ organization ^ {o} # location date other quantity entity",
]


def corpus(n=480, seed=7):
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        fill = dict(p=rng.choice(PEOPLE), p2=rng.choice(PEOPLE), o=rng.choice(ORGS), o2=rng.choice(ORGS),
                    l=rng.choice(PLACES), d=rng.choice(DATES), t=rng.choice(TITLES), n=rng.choice(NUMBERS),
                    w=rng.choice(WORKS))
        lines.append(rng.choice(TEMPLATES).format(**fill))
        if i % 8 == 0:
            lines.append(rng.choice(MARKER_LINES).format(**fill))
    # The test records' own sentences (also written for this fixture) so their words are in the vocabulary.
    own = [r["sentence"] for r in records()] + [LONG_PREFIX]
    return lines + ENGLISH * 5 + own


def train_korean_tokenizer(path):
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=False,
                                                lowercase=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    trainer = trainers.WordPieceTrainer(vocab_size=700, min_frequency=1,
                                        special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
                                        continuing_subword_prefix="##")
    tok.train_from_iterator(corpus(), trainer=trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                       special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tok.save(str(path))


# ---------------------------------------------------------------- test records
def entity(sentence, word, ty, occurrence=0):
    start = -1
    for _ in range(occurrence + 1):
        start = sentence.index(word, start + 1)
    return {"word": word, "start_idx": start, "end_idx": start + len(word) - 1, "type": ty}


LONG_PREFIX = ("한빛전자는 지난해 새 공장을 짓고 많은 사람을 고용했으며, 서울과 부산과 대구와 인천과 광주에서 "
               "여러 차례 설명회를 열었고, 그 자리에서 회장은 앞으로의 계획과 목표를 길게 설명했다. "
               "기자들은 질문을 이어 갔고 행사는 늦게까지 계속되었다. ")


def records():
    rows = []

    def add(guid, sentence, subj, obj, label="no_relation"):
        rows.append({"guid": guid, "sentence": sentence, "subject_entity": subj, "object_entity": obj,
                     "label": label, "source": "hand-written"})

    s = "조지 해리슨이 쓰고 비틀즈가 불렀다."
    add("subject-after-object", s, entity(s, "비틀즈", "ORG"), entity(s, "조지 해리슨", "PER"), "org:members")
    s = "대한민국서울에서 국제 회의가 열렸다."
    add("adjacent-at-start", s, entity(s, "대한민국", "LOC"), entity(s, "서울", "LOC"))
    s = "한빛전자는 2001년에 설립되었고 대표는 박지훈"
    add("start-and-end", s, entity(s, "한빛전자", "ORG"), entity(s, "박지훈", "PER"), "org:top_members/employees")
    s = "🎵 음악가 베토벤은 1770년 본에서 태어났다."
    add("four-byte-chars", s, entity(s, "베토벤", "PER"), entity(s, "1770년", "DAT"), "per:date_of_birth")
    s = "서울대학교의 교수는 2000명이 넘는다."
    add("quantity", s, entity(s, "서울대학교", "ORG"), entity(s, "2000명", "NOH"), "org:number_of_employees/members")
    s = "영화 기생충은 봉준호가 감독했다."
    add("other-type", s, entity(s, "봉준호", "PER"), entity(s, "기생충", "POH"), "per:product")
    s = "Bill Gates founded Microsoft in Albuquerque in 1975."
    add("english", s, entity(s, "Microsoft", "ORG"), entity(s, "Bill Gates", "PER"), "org:founded_by")
    s = LONG_PREFIX * 3 + "마지막으로 김철수는 새벽신문에 입사했다"
    add("long-entities-at-end", s, entity(s, "김철수", "PER"), entity(s, "새벽신문", "ORG"), "per:employee_of")
    return rows


# ---------------------------------------------------------------- marking (mirror of markers.rs)
TYPES = ["PER", "ORG", "LOC", "DAT", "POH", "NOH", "UNK"]
WORDS = {
    "en": {"PER": "person", "ORG": "organization", "LOC": "location", "DAT": "date", "POH": "other",
           "NOH": "quantity", "UNK": "entity"},
    "ko": {"PER": "사람", "ORG": "단체", "LOC": "장소", "DAT": "날짜", "POH": "기타", "NOH": "수량", "UNK": "개체"},
}
SCHEMES = ["none", "entity", "typed", "typed-punct:en", "typed-punct:ko", "typed-punct:ko:object=&", "mask"]


def special_tokens(scheme):
    if scheme == "entity":
        return ["[E1]", "[/E1]", "[E2]", "[/E2]"]
    if scheme == "typed":
        return [f"[{o}E{n}-{t}]" for n in (1, 2) for t in TYPES for o in ("", "/")]
    if scheme == "mask":
        return [f"[{r}-{t}]" for r in ("SUBJ", "OBJ") for t in TYPES]
    return []


def render(scheme, role, word, ty):
    n = 1 if role == "subject" else 2
    if scheme == "none":
        return word
    if scheme == "entity":
        return f"[E{n}] {word} [/E{n}]"
    if scheme == "typed":
        return f"[E{n}-{ty}] {word} [/E{n}-{ty}]"
    if scheme == "mask":
        return f"[{'SUBJ' if role == 'subject' else 'OBJ'}-{ty}]"
    parts = scheme.split(":")[1:]
    lang = "ko" if "ko" in parts else "en"
    obj = next((p.split("=", 1)[1] for p in parts if p.startswith("object=")), "#")
    delim, type_delim = ("@", "*") if role == "subject" else (obj, "^")
    return f"{delim} {type_delim} {WORDS[lang].get(ty, ty.lower())} {type_delim} {word} {delim}"


def mark(record, scheme):
    s = record["sentence"]
    ents = sorted([("subject", record["subject_entity"]), ("object", record["object_entity"])],
                  key=lambda x: x[1]["start_idx"])
    out, cursor = "", 0
    for role, e in ents:
        assert s[e["start_idx"]:e["end_idx"] + 1] == e["word"], (record["guid"], e)
        out += s[cursor:e["start_idx"]] + render(scheme, role, e["word"], e["type"])
        cursor = e["end_idx"] + 1
    return out + s[cursor:]


def vocab_rows(tok):
    return max(tok.get_vocab(with_added_tokens=True).values()) + 1


def reference(tokenizer_path, name, recs):
    out = {"name": name, "schemes": []}
    for scheme in SCHEMES:
        tok = Tokenizer.from_file(str(tokenizer_path))
        tok.no_truncation()
        tok.no_padding()
        before = vocab_rows(tok)
        markers = special_tokens(scheme)
        tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in markers])
        entry = {"scheme": scheme, "n_added": vocab_rows(tok) - before, "vocab_size": vocab_rows(tok),
                 "marker_ids": {t: tok.token_to_id(t) for t in markers}, "examples": []}
        for r in recs:
            text = mark(r, scheme)
            enc = tok.encode(text)  # Python's encode reports character offsets
            entry["examples"].append({"guid": r["guid"], "text": text, "ids": enc.ids,
                                      "offsets": [list(o) for o in enc.offsets], "tokens": enc.tokens})
        out["schemes"].append(entry)
    return out


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    kor = OUT / "korean-wordpiece.json"
    train_korean_tokenizer(kor)
    recs = records()
    (OUT / "records.json").write_text(json.dumps(recs, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    refs = [reference(kor, "korean-wordpiece", recs)]
    cache = Path(os.environ.get("KRE_CACHE") or Path.home() / ".cache" / "kre")
    minilm = cache / "all-minilm-l6-v2" / "tokenizer.json"
    if not minilm.exists():
        sys.exit(f"{minilm} missing: run `bash scripts/install-test-deps.sh` first")
    refs.append(reference(minilm, "all-minilm-l6-v2", recs))
    (OUT / "reference.json").write_text(json.dumps({"tokenizers": refs}, ensure_ascii=False) + "\n",
                                        encoding="utf-8")
    for p in sorted(OUT.iterdir()):
        print(f"{p.relative_to(ROOT)}: {p.stat().st_size} bytes")


if __name__ == "__main__":
    main()
