#!/usr/bin/env python3
"""Make the re-data reader/writer fixtures (crates/re-data/tests/fixtures/io/) with Python's own libraries.

Venv (only pyarrow is needed besides the standard library):
    python3 -m venv .venv-sk && .venv-sk/bin/pip install pyarrow
Run from the repository root:
    .venv-sk/bin/python tools/make_data_fixtures.py
Check a CSV written by kre (every entity cell must `ast.literal_eval` to the expected dict):
    .venv-sk/bin/python tools/make_data_fixtures.py --check-csv out.csv

Outputs (all tiny):
- records.jsonl           the reference records in kre's JSONL layout (what every reader must return)
- klue.json               KLUE JSON, string labels (json.dump, ensure_ascii=False, indent=2)
- klue_int.json           KLUE JSON, integer labels in the KLUE relation_list order
- competition.csv         competition CSV written like pandas to_csv(index=False): csv module, QUOTE_MINIMAL,
                          "\\n" line ends, entity cells = str(dict) (Python repr); unlabeled rows have label 100
- klue_re.parquet         HF klue/re layout (entity structs, int32 offsets, int64 label, -1 = unlabeled), snappy
- klue_re_gzip.parquet    same table, gzip codec (kre must refuse it with a clear error)
- klue_re_missing_column.parquet   same table without object_entity
- dict_label_to_num.pkl / dict_num_to_label.pkl   the competition label maps, pickle protocol 4
"""
import ast
import csv
import json
import os
import pickle
import sys

import pyarrow as pa
import pyarrow.parquet as pq

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates", "re-data", "tests", "fixtures", "io")

# KLUE relation_list.json order (= HF klue/re ClassLabel names)
KLUE = [
    "no_relation", "org:dissolved", "org:founded", "org:place_of_headquarters", "org:alternate_names",
    "org:member_of", "org:members", "org:political/religious_affiliation", "org:product", "org:founded_by",
    "org:top_members/employees", "org:number_of_employees/members", "per:date_of_birth", "per:date_of_death",
    "per:place_of_birth", "per:place_of_death", "per:place_of_residence", "per:origin", "per:employee_of",
    "per:schools_attended", "per:alternate_names", "per:parents", "per:children", "per:siblings", "per:spouse",
    "per:other_family", "per:colleagues", "per:product", "per:religion", "per:title",
]
# the competition's dict_label_to_num.pkl order
COMPETITION = [
    "no_relation", "org:top_members/employees", "org:members", "org:product", "per:title", "org:alternate_names",
    "per:employee_of", "org:place_of_headquarters", "per:product", "org:number_of_employees/members", "per:children",
    "per:place_of_residence", "per:alternate_names", "per:other_family", "per:colleagues", "per:origin",
    "per:siblings", "per:spouse", "org:founded", "org:political/religious_affiliation", "org:member_of",
    "per:parents", "org:dissolved", "per:schools_attended", "per:date_of_death", "per:date_of_birth",
    "per:place_of_birth", "per:place_of_death", "org:founded_by", "per:religion",
]

# (sentence, (subject word, nth occurrence, type), (object word, nth occurrence, type), label or None, source)
# Offsets are computed here with str.index (character = code point indices, end inclusive, like KLUE).
CASES = [
    # multi-byte text, subject after object (a real KLUE-style sentence)
    ("〈Something〉는 조지 해리슨이 쓰고 비틀즈가 1969년 앨범 《Abbey Road》에 담은 노래다.",
     ("비틀즈", 0, "ORG"), ("조지 해리슨", 0, "PER"), "no_relation", "wikipedia"),
    # a word with single quotes (Python repr switches to double quotes)
    ("밴드 퀸은 'Bohemian Rhapsody'와 \"We Are the Champions\"를 발표했다.",
     ("퀸", 0, "ORG"), ("'Bohemian Rhapsody'", 0, "POH"), "org:product", "wikitree"),
    # a word with both quote kinds and a comma (repr escapes \')
    ("앨범 《\"Rock 'n' Roll\", Vol. 2》는 존 레논의 1975년 작품이다.",
     ("존 레논", 0, "PER"), ("\"Rock 'n' Roll\", Vol. 2", 0, "POH"), "per:product", "wikipedia"),
    # entities at the very start and the very end of the sentence
    ("이순신은 조선 중기의 무신으로 본관은 덕수",
     ("이순신", 0, "PER"), ("덕수", 0, "LOC"), "per:origin", "wikipedia"),
    # adjacent entities (no character between them)
    ("서울대학교오세정 총장이 취임했다.",
     ("서울대학교", 0, "ORG"), ("오세정", 0, "PER"), "org:top_members/employees", "policy_briefing"),
    # an astral-plane emoji before the entities, a backslash in a word, unlabeled, no source
    ("😀 경로 C:\\Users 를 만든 회사는 마이크로소프트다.",
     ("마이크로소프트", 0, "ORG"), ("C:\\Users", 0, "POH"), None, None),
    # newline and tab in the sentence, a no-break space inside a word (repr writes \xa0)
    ("첫 줄\n둘째 줄의 카카오\u00a0뱅크는 2017년\t설립되었다.",
     ("카카오\u00a0뱅크", 0, "ORG"), ("2017년", 0, "DAT"), "org:founded", "wikitree"),
    # the subject word occurs twice: the second occurrence is the entity
    ("비틀즈의 노래를 부른 밴드는 결국 비틀즈였다, 1962년 데뷔한.",
     ("비틀즈", 1, "ORG"), ("1962년", 0, "DAT"), "org:founded", "wikipedia"),
]


def span(sentence, word, nth):
    start = -1
    for _ in range(nth + 1):
        start = sentence.index(word, start + 1)
    end = start + len(word) - 1
    assert sentence[start:end + 1] == word
    return start, end


def records():
    out = []
    for i, (sentence, (sw, sn, st), (ow, on, ot), label, source) in enumerate(CASES):
        s0, s1 = span(sentence, sw, sn)
        o0, o1 = span(sentence, ow, on)
        out.append({
            "id": f"fx-{i}", "sentence": sentence,
            "subject": {"word": sw, "start": s0, "end": s1, "type": st},
            "object": {"word": ow, "start": o0, "end": o1, "type": ot},
            "label": label, "source": source,
        })
    return out


def entity_dict(e):
    return {"word": e["word"], "start_idx": e["start"], "end_idx": e["end"], "type": e["type"]}


def klue_item(r, int_labels):
    item = {"guid": r["id"], "sentence": r["sentence"],
            "subject_entity": entity_dict(r["subject"]), "object_entity": entity_dict(r["object"])}
    if r["label"] is not None:
        item["label"] = KLUE.index(r["label"]) if int_labels else r["label"]
    elif int_labels:
        item["label"] = 100
    if r["source"] is not None:
        item["source"] = r["source"]
    return item


def write_jsonl(path, recs):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for r in recs:
            row = {k: v for k, v in r.items() if v is not None}
            f.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")


def write_csv(path, recs):
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")  # QUOTE_MINIMAL, like pandas.to_csv
        w.writerow(["id", "sentence", "subject_entity", "object_entity", "label", "source"])
        for r in recs:
            w.writerow([r["id"], r["sentence"], str(entity_dict(r["subject"])), str(entity_dict(r["object"])),
                        r["label"] if r["label"] is not None else 100, r["source"] or ""])


def arrow_table(recs):
    ent = pa.struct([("word", pa.string()), ("start_idx", pa.int32()), ("end_idx", pa.int32()), ("type", pa.string())])
    return pa.table({
        "guid": pa.array([r["id"] for r in recs], pa.string()),
        "sentence": pa.array([r["sentence"] for r in recs], pa.string()),
        "subject_entity": pa.array([entity_dict(r["subject"]) for r in recs], ent),
        "object_entity": pa.array([entity_dict(r["object"]) for r in recs], ent),
        "label": pa.array([KLUE.index(r["label"]) if r["label"] is not None else -1 for r in recs], pa.int64()),
        "source": pa.array([r["source"] for r in recs], pa.string()),
    })


def check_csv(path):
    """Every entity cell of a kre-written CSV must literal_eval to the reference records' dicts."""
    expected = {r["id"]: r for r in records()}
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        r = expected[row["id"]]
        assert row["sentence"] == r["sentence"], row["id"]
        assert ast.literal_eval(row["subject_entity"]) == entity_dict(r["subject"]), row["id"]
        assert ast.literal_eval(row["object_entity"]) == entity_dict(r["object"]), row["id"]
        assert row["subject_entity"] == str(entity_dict(r["subject"])), "not Python repr style: " + row["id"]
    print(f"{path}: {len(rows)} rows OK")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check-csv":
        check_csv(sys.argv[2])
        return
    os.makedirs(OUT, exist_ok=True)
    recs = records()
    write_jsonl(os.path.join(OUT, "records.jsonl"), recs)
    for name, ints in [("klue.json", False), ("klue_int.json", True)]:
        with open(os.path.join(OUT, name), "w", encoding="utf-8", newline="\n") as f:
            json.dump([klue_item(r, ints) for r in recs], f, ensure_ascii=False, indent=2)
            f.write("\n")
    write_csv(os.path.join(OUT, "competition.csv"), recs)
    table = arrow_table(recs)
    pq.write_table(table, os.path.join(OUT, "klue_re.parquet"), compression="snappy")
    pq.write_table(table, os.path.join(OUT, "klue_re_gzip.parquet"), compression="gzip")
    pq.write_table(table.drop(["object_entity"]), os.path.join(OUT, "klue_re_missing_column.parquet"),
                   compression="snappy")
    with open(os.path.join(OUT, "dict_label_to_num.pkl"), "wb") as f:
        pickle.dump({l: i for i, l in enumerate(COMPETITION)}, f, protocol=4)
    with open(os.path.join(OUT, "dict_num_to_label.pkl"), "wb") as f:
        pickle.dump({i: l for i, l in enumerate(COMPETITION)}, f, protocol=4)
    # self-check: the CSV reads back through ast.literal_eval
    check_csv(os.path.join(OUT, "competition.csv"))
    for name in sorted(os.listdir(OUT)):
        print(name, os.path.getsize(os.path.join(OUT, name)))


if __name__ == "__main__":
    main()
