"""Writes the prompt classifier's training prompts (`moderation/data/prompt_training.jsonl`) from
the bench's sets that have been read (issue #17).

    python bench/prompt_training.py

The heads were fitted on the hand-written exemplars alone (1 260 lines) until round 13; each
outsider set was then measured blind, read, and its lessons written as rules. Fitting on the
read sets themselves (7 841 labelled prompts in the attackers' and the near-misses' own
wording) generalised better to the next unseen set than any round of rules (bench/README,
"Round 13"). The splits named here are training data from then on and are reported as such;
the held-out thirds ("held_out", "fresh") and every later outsider set stay out, and no
prompt that any other split or the labelled set also holds is taken (a prompt written twice
would otherwise be trained on and measured). A prompt that repeats an exemplar, or one already
taken, is taken once.

    python bench/prompt_training.py --measure held_out,fresh,blind9 --through blind8 OUT.json

measures instead (writing nothing into the repository): the gate with heads fitted on the
exemplars and the training splits up to and including --through (none: the exemplars alone),
on the --measure splits; per category the prompts blocked under it, and the harmless prompts
blocked. Round 13 chose the training prompts with it (bench/README.md)."""

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "platform"), str(ROOT / "bench")]

import prompt_gate as bench  # noqa: E402

from moderation import prompt_classifier as pc  # noqa: E402
from moderation.prompt_text import normalise  # noqa: E402

TRAINING_SPLITS = (
    "tune",
    "dev5",
    "dev_lang",
    "dev6",
    "dev8",
    "blind",
    "blind2",
    "blind3",
    "blind4",
    "blind5",
    "blind6",
    "blind7",
    "blind8",
    "blind9",
    "blind10",
    "generic",
)


def training_rows(splits: tuple[str, ...] = TRAINING_SPLITS) -> list[dict]:
    def key(text: str) -> str:
        return normalise(text).strip()

    rows = bench.adversarial_rows()
    measured = {key(row["prompt"]) for row in rows if row["split"] not in splits}
    measured |= {key(row["prompt"]) for row in bench.read_set(bench.DATA)}
    seen = {key(text) for _, text in pc.Exemplars.read().file.labelled()}
    taken = []
    for row in rows:
        text = key(row["prompt"])
        if row["split"] not in splits or text in measured or text in seen:
            continue
        seen.add(text)
        taken.append({"prompt": row["prompt"], "label": row["label"], "split": row["split"]})
    return taken


def _write(rows: list[dict], path: Path) -> None:
    lines = [json.dumps(row, ensure_ascii=False) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def measure(splits: list[str], through: str | None) -> dict:
    """The gate's figures on `splits` with heads fitted on the training splits up to `through`."""
    exemplars = pc.Exemplars.read()
    trained = TRAINING_SPLITS[: TRAINING_SPLITS.index(through) + 1] if through else ()
    if set(splits) & set(trained):
        raise SystemExit(f"measured splits are trained on: {sorted(set(splits) & set(trained))}")
    if trained:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "training.jsonl"
            _write(training_rows(trained), path)
            exemplars = pc.with_training(exemplars, path)
    pc._loaded = pc.build_classifier(exemplars)
    rows = bench.adversarial_rows()
    out = {"through": through, "gate_version": bench.gate_version(), "splits": {}}
    for split in splits:
        mine = [row for row in rows if row["split"] == split]
        verdicts, _ = bench.evaluate(mine)
        right, total = Counter(), Counter()
        for row, verdict in zip(mine, verdicts, strict=True):
            label = row["label"]
            total[label] += 1
            if label == pc.BENIGN:
                right[label] += verdict.verdict == "block"
            else:
                right[label] += verdict.verdict == "block" and (
                    verdict.category == label or label == bench.MANDATORY_CATEGORY
                )
        # For harmless prompts the count is of those blocked.
        out["splits"][split] = {label: [right[label], total[label]] for label in sorted(total)}
        print(split, out["splits"][split], flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", help="with --measure: the JSON file to write")
    parser.add_argument("--measure", help="comma-separated splits to measure")
    parser.add_argument("--through", choices=TRAINING_SPLITS, help="last training split fitted")
    args = parser.parse_args()
    if args.measure:
        result = measure(args.measure.split(","), args.through)
        if args.out:
            Path(args.out).write_text(json.dumps(result, indent=1))
        return
    rows = training_rows()
    _write(rows, pc.TRAINING_PATH)
    print(f"{len(rows)} training prompts written to {pc.TRAINING_PATH.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
