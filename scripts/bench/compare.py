#!/usr/bin/env python3
"""Prints the side-by-side table of the performance harness from the JSON files of torch_rows.py and perf_rows.rs.

Run:  python3 scripts/bench/compare.py target/bench-results/pytorch.json target/bench-results/kre-*.json
      (any order; each file says which side it is from. Standard library only.)

One markdown table: per row the PyTorch median time and items/s, then per kre backend its median, items/s and the
speed-up = PyTorch median / kre median (> 1 means kre is faster, < 1 means PyTorch is faster). ONNX Runtime files
(ort_rows.py, side "onnxruntime") are columns of the same kind, their speed-up also against PyTorch. Below the table, one
line per input file (backend, threads, machine, date) and a warning when the files disagree on threads or machine.
"""
import argparse
import json
import sys
from pathlib import Path

ROW_ORDER = [
    "encoder_minilm_b32_s128",
    "encoder_roberta_base_b32_s128",
    "train_step_roberta_base_b16_s128",
    "tokenize_markers_32470",
    "evaluate_7765x30",
]


def fmt_time(s):
    if s is None:
        return "—"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.0f} µs"


def fmt_rate(r):
    if r is None:
        return "—"
    if r >= 100:
        return f"{r:,.0f}"
    return f"{r:.2f}" if r < 10 else f"{r:.1f}"


def fmt_ratio(pt, kre):
    if pt is None or kre is None or kre <= 0:
        return "—"
    r = pt / kre
    text = f"{r:.2f}×" if r < 10 else f"{r:.1f}×" if r < 100 else f"{r:.0f}×"
    return f"**{text}**" if r >= 1 else text


def load(path):
    data = json.loads(Path(path).read_text())
    rows = {}
    for r in data.get("rows", []):
        rows[r["row"]] = r
    return data, rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="+", type=Path, help="pytorch.json and one or more kre-*.json")
    args = p.parse_args()

    torch_side = None
    kre_sides = []
    for f in args.files:
        data, rows = load(f)
        if data.get("side") == "pytorch":
            if torch_side is not None:
                sys.exit(f"{f}: a second PyTorch file (already have {torch_side[2]}); pass one")
            torch_side = (data, rows, f)
        else:
            kre_sides.append((data, rows, f))
    if not kre_sides and torch_side is None:
        sys.exit("no input")

    # Column labels: the backend, plus the file name when two kre files report the same backend.
    # Column labels: the backend's short name (`burn-ndarray`), the full name when two short names clash, plus the
    # file name when two kre files report the same backend.
    full = [d.get("backend", "?") for d, _, _ in kre_sides]
    short = [b.split(" (")[0] for b in full]
    labels = [sh if short.count(sh) == 1 else fu for sh, fu in zip(short, full)]
    labels = [f"{lab} ({f.stem})" if labels.count(lab) > 1 else lab for lab, (_, _, f) in zip(labels, kre_sides)]
    # ONNX Runtime files (ort_rows.py) are columns too, named as such rather than as a kre backend.
    sides_named = ["ONNX Runtime" if d.get("side") == "onnxruntime" else "kre" for d, _, _ in kre_sides]

    present = set()
    for _, rows, _ in ([torch_side] if torch_side else []) + kre_sides:
        present.update(rows)
    order = [r for r in ROW_ORDER if r in present] + sorted(present - set(ROW_ORDER))

    header = ["row"]
    if torch_side:
        header += ["PyTorch median", "PyTorch items/s"]
    for lab, side in zip(labels, sides_named):
        if side != "kre":
            lab = lab.replace("onnxruntime ", "")
        header += [f"{side} {lab} median", f"{side} {lab} items/s"]
        if torch_side and side == "kre":
            header += [f"{lab} speed-up: PyTorch time / kre time (>1 = kre faster)"]
        elif torch_side:
            header += [f"{side} {lab} speed-up: PyTorch time / its time"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" + "---:|" * (len(header) - 1)]

    def get(rows, row, key):
        r = rows.get(row)
        return None if r is None or "error" in r else r.get(key)

    for row in order:
        cells = [f"`{row}`"]
        pt = None
        if torch_side:
            pt = get(torch_side[1], row, "median_s")
            cells += [fmt_time(pt), fmt_rate(get(torch_side[1], row, "items_per_s"))]
        for _, rows, _ in kre_sides:
            k = get(rows, row, "median_s")
            cells += [fmt_time(k), fmt_rate(get(rows, row, "items_per_s"))]
            if torch_side:
                cells.append(fmt_ratio(pt, k))
        lines.append("| " + " | ".join(cells) + " |")
    print("\n".join(lines))

    # kre against each ONNX Runtime column (what a user deploying on CPU would otherwise run).
    ort_sides = [(lab, rows) for lab, side, (_, rows, _) in zip(labels, sides_named, kre_sides) if side != "kre"]
    kre_only = [(lab, rows) for lab, side, (_, rows, _) in zip(labels, sides_named, kre_sides) if side == "kre"]
    if ort_sides and kre_only:
        print()
        head = ["row"] + [f"kre {k} vs ONNX Runtime {o.replace('onnxruntime ', '')}: its time / kre time"
                          for k, _ in kre_only for o, _ in ort_sides]
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" + "---:|" * (len(head) - 1))
        for row in order:
            cells = [f"`{row}`"]
            for _, krows in kre_only:
                for _, orows in ort_sides:
                    cells.append(fmt_ratio(get(orows, row, "median_s"), get(krows, row, "median_s")))
            if any(c != "—" for c in cells[1:]):
                print("| " + " | ".join(cells) + " |")

    # Where a training step's time goes, where the files report it (medians of each phase).
    split = [(lab, r) for lab, (_, rows, _) in
             ([("PyTorch", torch_side)] if torch_side else []) + list(zip(labels, kre_sides))
             for r in rows.values() if r.get("phases_median_s")]
    if split:
        print()
        print("| row | side | forward (with the loss) | backward | clip | optimizer |")
        print("|---|---|---:|---:|---:|---:|")
        for lab, r in split:
            ph = r["phases_median_s"]
            cells = [fmt_time(ph.get(k)) for k in ("forward", "backward", "clip", "optimizer")]
            print(f"| `{r['row']}` | {lab} | " + " | ".join(cells) + " |")

    # Sources and consistency checks (below the table).
    print()
    sides = ([torch_side] if torch_side else []) + kre_sides
    for data, rows, f in sides:
        versions = ", ".join(f"{k} {v}" for k, v in data.get("versions", {}).items())
        print(f"- `{f.name}`: {data.get('side', '?')} — {data.get('backend', '?')}, {data.get('threads', '?')} "
              f"threads, {data.get('machine', '?')}, {data.get('date', '?')}; {versions}")
    threads = {d.get("threads") for d, _, _ in sides}
    machines = {d.get("machine") for d, _, _ in sides}
    if len(threads) > 1:
        print(f"- **warning**: the files were run with different thread counts {sorted(map(str, threads))}")
    if len(machines) > 1:
        print(f"- **warning**: the files come from different machines: {sorted(map(str, machines))}")
    for data, rows, f in sides:
        for r in rows.values():
            if "error" in r:
                print(f"- {f.name} `{r['row']}` failed: {r['error']}")


if __name__ == "__main__":
    main()
