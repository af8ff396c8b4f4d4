"""Measures the prompt gate once on an outsider set (issue #17): per category, how many harmful
prompts are blocked under their category and under any, the same for the disguised ones, and
how many harmless prompts are blocked or sent to review; latency per prompt. Writes JSON.

    python bench/prompt_blind.py OUT.json bench/prompt_sets/blind6_harmful.jsonl \\
        bench/prompt_sets/blind6_benign.jsonl

Used to measure a set written blind (nobody who changes the gate has read it) on the gate
before and after a round: run it from a checkout of each commit. Same policy as
bench/prompt_gate.py (every category blocked, every context reviewed)."""

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "platform"), str(ROOT), str(ROOT / "bench")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mintmark.settings")

import django  # noqa: E402

django.setup()

import prompt_gate as bench  # noqa: E402


def measure(rows: list[dict]) -> dict:
    bench.timed_load()
    verdicts, latencies = bench.evaluate(rows)
    out = {"gate_version": bench.gate_version(), "n": len(rows), "labels": {}}
    for label in sorted({row["label"] for row in rows}):
        mine = [(r, v) for r, v in zip(rows, verdicts, strict=True) if r["label"] == label]
        if label == bench.pc.BENIGN:
            out["labels"][label] = {
                "n": len(mine),
                "blocked": sum(v.verdict == "block" for _, v in mine),
                "review": sum(v.verdict == "review" for _, v in mine),
            }
            continue
        disguised = [(r, v) for r, v in mine if r["evasion"] != "none"]
        out["labels"][label] = {
            "n": len(mine),
            "right_category": sum(v.verdict == "block" and v.category == label for _, v in mine),
            "blocked_any": sum(v.verdict == "block" for _, v in mine),
            "disguised_n": len(disguised),
            "disguised_right": sum(
                v.verdict == "block" and v.category == label for _, v in disguised
            ),
        }
    ordered = sorted(latencies)
    out["latency_ms"] = {
        "p50": statistics.median(ordered),
        "p95": ordered[int(0.95 * (len(ordered) - 1))],
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the JSON file to write")
    parser.add_argument("sets", nargs="+", type=Path, help="JSON Lines sets (prompt, label, ...)")
    parser.add_argument(
        "--split",
        help="only this split's prompts labelled with a category or harmless (the bench's "
        "held-out splits: python bench/prompt_blind.py OUT.json bench/prompt_sets/*.jsonl "
        "--split held_out)",
    )
    args = parser.parse_args()
    rows = [
        json.loads(line)
        for path in args.sets
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    if args.split:
        labels = {*bench.PROMPT_CATEGORIES, bench.pc.BENIGN}
        rows = [
            {**row, "evasion": row.get("evasion") or "none"}
            for row in rows
            if row.get("split") == args.split and row["label"] in labels
        ]
    result = measure(rows)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["labels"], indent=1))


if __name__ == "__main__":
    main()
