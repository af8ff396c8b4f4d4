"""Writes the prompt classifier's training prompts (`moderation/data/prompt_training.jsonl`) from
the bench's sets that have been read (issue #17).

    python bench/prompt_training.py

The heads were fitted on the hand-written exemplars alone (1 260 lines) until round 13; each
outsider set was then measured blind, read, and its lessons written as rules. Fitting on the
read sets themselves (7 841 labelled prompts in the attackers' and the near-misses' own
wording, and 388 plain harmless ones) generalised better to the next unseen set than any round
of rules (bench/README, "Round 13"). Every split of the bench but MEASURED_SPLITS is training
data from then on and is reported as such; no prompt that a measured split or the labelled set
also holds is taken (a prompt written twice would otherwise be trained on and measured). A
prompt that repeats an exemplar, or one already taken, is taken once.

    python bench/prompt_training.py --measure held_out,fresh,blind9 --through blind8 OUT.json

measures instead (writing nothing into the repository): the gate with heads fitted on the
exemplars and the training splits up to and including --through (none: the exemplars alone),
on the --measure splits; per category the prompts blocked under it, and the harmless prompts
blocked. Round 13 chose the training prompts with it (bench/README.md).

    python bench/prompt_training.py --latency blind13

times the classifier fitted with the training prompts against the one fitted on the exemplars
alone, alternately on each prompt of the split (same process, same load): the cost of the
larger n-gram vocabulary."""

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "platform"), str(ROOT / "bench")]

import prompt_gate as bench  # noqa: E402

from moderation import prompt_classifier as pc  # noqa: E402
from moderation.prompt_gate import prompt_chunks  # noqa: E402
from moderation.prompt_text import normalise, readable  # noqa: E402

# Measurements, never trained on: the first sets' held-out third, the second held-out set and
# the outsider set kept unread for the last round (blind11 was round 13's, read by 14; blind12
# round 14's, read by 15; blind13 round 15's and blind14, measured on round 15's gate, both
# read by 16; blind15, round 16's, read by 17; blind16, round 17's, read by 18).
MEASURED_SPLITS = ("held_out", "fresh", "blind17")
TRAINING_SPLITS = tuple(split for split in bench.SPLITS if split not in MEASURED_SPLITS)


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


def latency(split: str) -> None:
    trained = pc.build_classifier(pc.with_training(pc.Exemplars.read()))
    alone = pc.build_classifier(pc.Exemplars.read(), trained.encoder)
    prompts = [row["prompt"] for row in bench.adversarial_rows() if row["split"] == split]
    timings = {"trained": [], "exemplars alone": []}
    for prompt in prompts:
        chunks = prompt_chunks(readable(prompt).text or prompt)
        for name, classifier in (("trained", trained), ("exemplars alone", alone)):
            started = time.perf_counter()
            classifier.classify(chunks)
            timings[name].append((time.perf_counter() - started) * 1000)
    for name, values in timings.items():
        values.sort()
        p95 = values[int(0.95 * (len(values) - 1))]
        print(f"{name}: p50 {statistics.median(values):.1f} ms, p95 {p95:.1f} ms a prompt")
    ratio = statistics.median(timings["trained"]) / statistics.median(timings["exemplars alone"])
    print(f"{len(prompts)} prompts of {split}; trained / exemplars alone, p50: {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", help="with --measure: the JSON file to write")
    parser.add_argument("--measure", help="comma-separated splits to measure")
    parser.add_argument("--through", choices=TRAINING_SPLITS, help="last training split fitted")
    parser.add_argument("--latency", metavar="SPLIT", help="time the classifiers on a split")
    args = parser.parse_args()
    if args.latency:
        latency(args.latency)
        return
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
