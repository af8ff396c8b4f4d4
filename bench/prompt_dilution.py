"""Prompt gate, long prompts: harmful prompts of the adversarial set's tuning split with a run of
common style tags after them ("tail") or before them ("head"), and harmless ones the same way
and joined three to a prompt, judged with the gate's windows and without them (the whole prompt
and its sentences only, as before #17's windows), in one process on the same lexicons.

    python bench/prompt_dilution.py

No Django, no database; minutes on a busy 2-core machine (the windowed passes judge about five
chunks a prompt)."""

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

from moderation import prompt_gate  # noqa: E402
from policies.rules import PROMPT_CATEGORIES  # noqa: E402

SETS = ROOT / "bench" / "prompt_sets"
TAGS = (
    "masterpiece, best quality, ultra detailed, 8k uhd, sharp focus, golden hour lighting, "
    "cinematic composition, volumetric light, depth of field, bokeh, film grain, "
    "trending on artstation, award winning photo, dslr, 35mm lens, soft pastel palette"
)
WINDOWED = prompt_gate.prompt_chunks


def unwindowed(prompt: str) -> list[str]:
    sentences = [part.strip() for part in prompt_gate._SENTENCE_END.split(prompt) if part.strip()]
    return [prompt.strip(), *sentences] if len(sentences) > 1 else [prompt.strip()]


def tuning(name: str) -> list[str]:
    rows = [json.loads(line) for line in (SETS / name).read_text().splitlines() if line]
    return [row["prompt"] for row in rows if row["split"] == "tune"]


def main() -> None:
    harmful, harmless = tuning("harmful.jsonl"), tuning("benign.jsonl")
    joined = [", ".join(harmless[i : i + 3]) for i in range(0, len(harmless) - 2, 3)]
    cases = {
        "harmful, tags after": [f"{p}, {TAGS}" for p in harmful],
        "harmful, tags before": [f"{TAGS}, {p}" for p in harmful],
        "harmless": harmless,
        "harmless, tags after": [f"{p}, {TAGS}" for p in harmless],
        "harmless x3 joined, tags after": [f"{p}, {TAGS}" for p in joined],
    }
    results = {}
    for name, prompts in cases.items():
        for label, chunks in (("windows", WINDOWED), ("no windows", unwindowed)):
            prompt_gate.prompt_chunks = chunks
            started = time.perf_counter()
            blocked = sum(
                prompt_gate.prompt_check(p, blocked_categories=PROMPT_CATEGORIES).verdict == "block"
                for p in prompts
            )
            seconds = time.perf_counter() - started
            results[f"{name} / {label}"] = {"blocked": blocked, "of": len(prompts)}
            print(f"{name:34} {label:10} blocked {blocked:3}/{len(prompts)}  {seconds:.0f} s")
    prompt_gate.prompt_chunks = WINDOWED
    print(json.dumps({"gate": prompt_gate.gate_version(), "results": results}))


if __name__ == "__main__":
    main()
