"""Writes the prompt classifier's training prompts (`moderation/data/prompt_training.jsonl`) from
the bench's sets that have been read (issue #17).

    python bench/prompt_training.py

The heads were fitted on the hand-written exemplars alone (1 260 lines) until round 13; each
outsider set was then measured blind, read, and its lessons written as rules. Fitting on the
read sets themselves (about 6 500 labelled prompts in the attackers' and the near-misses' own
wording) generalised better to the next unseen set than any round of rules (bench/README,
"Round 13"). The splits named here are training data from then on and are reported as such;
the held-out thirds ("held_out", "fresh") and every later outsider set stay out, and no
prompt that any other split or the labelled set also holds is taken (a prompt written twice
would otherwise be trained on and measured). A prompt that repeats an exemplar, or one already
taken, is taken once."""

import json
import sys
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
)


def training_rows() -> list[dict]:
    def key(text: str) -> str:
        return normalise(text).strip()

    rows = bench.adversarial_rows()
    measured = {key(row["prompt"]) for row in rows if row["split"] not in TRAINING_SPLITS}
    measured |= {key(row["prompt"]) for row in bench.read_set(bench.DATA)}
    seen = {key(text) for _, text in pc.Exemplars.read().file.labelled()}
    taken = []
    for row in rows:
        text = key(row["prompt"])
        if row["split"] not in TRAINING_SPLITS or text in measured or text in seen:
            continue
        seen.add(text)
        taken.append({"prompt": row["prompt"], "label": row["label"], "split": row["split"]})
    return taken


def main() -> None:
    rows = training_rows()
    lines = [json.dumps(row, ensure_ascii=False) for row in rows]
    pc.TRAINING_PATH.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(rows)} training prompts written to {pc.TRAINING_PATH.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
