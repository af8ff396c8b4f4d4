"""Prompt gate benchmark: precision and recall per category and context, the share of benign
prompts blocked, and the gate's load time and per-prompt latency, on the labelled set
`bench/data/prompts_labelled.jsonl` and on the adversarial sets of issue #17
(`bench/prompt_sets/harmful.jsonl`, `benign.jsonl`), whose figures are reported separately for
the tuning split and the held-out split.

    python bench/prompt_gate.py               # evaluation, latency, literal matching
    python bench/prompt_gate.py --cv          # also the cross-validated figures on the exemplars
    python bench/prompt_gate.py --errors      # also list every wrong verdict (tuning split
                                              # only: held-out prompts are never listed)

The policy evaluated blocks every category and reviews every deployment context, with no blocked
terms or protected names (those are exact matchers, tested in tests/moderation). A category
prompt counts as recalled when it is blocked under its own category; "blocked" also counts a
block under another category. A context prompt counts as recalled when the gate detects its
context (`verdict.contexts`). Precision of a label is over every prompt the gate gave that
label. The set must be disjoint from the exemplars; the script refuses to run otherwise and
prints how close the nearest exemplar of each prompt is.

No Django, no database. Writes results.json into --out ($OUT if set) when given."""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from scipy.special import expit, logit
from sklearn.model_selection import StratifiedKFold

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

from moderation import prompt_classifier as pc  # noqa: E402
from moderation.prompt_gate import _minors, gate_version, prompt_check  # noqa: E402
from moderation.prompt_multilingual import second_reading_exemplars  # noqa: E402
from moderation.prompt_text import normalise, prepare, readable, text_matcher  # noqa: E402
from policies.rules import (  # noqa: E402
    DEPLOYMENT_CONTEXTS,
    MANDATORY_CATEGORY,
    PROMPT_CATEGORIES,
)

DATA = ROOT / "bench" / "data" / "prompts_labelled.jsonl"
SETS = ROOT / "bench" / "prompt_sets"
# "tune" is the dev split (errors listed, choices made on it); "held_out" is the third of the
# first sets held out of tuning; "fresh" is the second held-out set, written later.
# "blind" is the third held-out set, written by someone who had read none of the project's sets
# (it has no sexual_minors prompts; bench/README.md says why).
# "dev5" holds the dev prompts written for round 5 (no sexual_minors either), looked at while
# tuning like "tune".
# "blind2" is the fourth outsider set (2026-12-06, second session), measured once blind and
# read afterwards; "dev_lang" are prompts in nine languages without a cue lexicon, written to
# choose the second reading's settings.
# "dev6" (round 6) are disguised harmful prompts in many languages, romanisations and algospeak,
# with harmless near-misses in the same languages; written and committed before the round's
# changes to the gate, by the same helper who then wrote its cue terms (so not blind).
# "blind3" is the fifth outsider set (2026-12-07), written by a helper who read nothing of the
# project while the gate was changed by another who never saw it; measured once blind on
# prompt-v6 and on prompt-v7 (bench/data/prompt_gate_blind3_v*.json), read only afterwards.
# "dev8" (round 7) are harmful prompts and harmless near-misses in the styles of blind3's misses
# (euphemism, negative-prompt tricks, undress edits in other languages, uncommon compromising
# acts, violence and hanging described without keywords, celebrated violence against a group,
# Indic and Perso-Arabic scripts), written and committed before the round's changes.
# "blind4" is the sixth outsider set (2026-12-07, later session), written by a helper who read
# nothing of the project while round 7 changed the gate without seeing it; measured once blind
# on prompt-v7 and on prompt-v8 (bench/data/prompt_gate_blind4_v*.json).
# "blind5" is the seventh (2026-12-07, third session), written the same way while round 8
# changed the gate; measured on prompt-v8 and prompt-v9 (bench/data/prompt_gate_blind5_v*.json).
# "blind6" is the eighth, written while round 9 read blind5's misses; measured on prompt-v8,
# on round 8's prompt-v9, round 9's prompt-v10 and round 10's prompt-v11 (after a review)
# (bench/data/prompt_gate_blind6_v*.json).
# "blind7" is the ninth (2026-12-07, fourth session), measured blind on prompt-v11, then read
# by round 11 (prompt-v12); "blind8" the tenth, written while round 11 changed the gate and
# measured on prompt-v11 and prompt-v12, then read by round 12 (prompt-v13); "blind9" the
# eleventh, written while round 12 changed the gate and measured on prompt-v12 and prompt-v13
# (bench/data/prompt_gate_blind{7,8,9}_v*.json). "blind10" the twelfth (2026-12-07, fifth
# session), measured blind on prompt-v13 with and without training prompts. From round 13 the
# splits in bench/prompt_training.py are the classifier's training prompts (blind10 among them):
# their figures are fits, not measurements; "held_out", "fresh" and later outsider sets are
# measurements. "blind11" the thirteenth, written while round 13 trained the heads, measured
# blind on prompt-v13 and on prompt-v14 before its prompts were read, then trained on by round
# 14. "blind12" the fourteenth (2026-12-07, sixth session), measured blind on prompt-v14 and on
# round 14's prompt-v15 before its prompts were read, then trained on by round 15. "blind13"
# the fifteenth (same session), measured blind on prompt-v15 and on round 15's prompt-v16, then
# trained on by round 16. "blind14" the sixteenth (2026-12-07, seventh session), measured blind
# on prompt-v18, then read and trained on by round 16; "blind15" the seventeenth, written
# blind to both the project and blind14, measured on prompt-v18 and on round 16's prompt-v19
# before its prompts were read, then trained on by round 17. "blind16" the eighteenth
# (2026-12-07, eighth session), written blind to the project, measured on prompt-v19 and on
# round 17's gate before its prompts were read, then trained on by round 18. "dev17" written
# for round 17 to train on (helpers blind to the project and to blind16): 240 harmful prompts,
# most of them impersonation and self-harm, 300 harmless near-misses in 15 groups and 400
# plain harmless prompts in 25 languages (a language must be no sign of harm). "blind17" the
# nineteenth (2026-12-08, ninth session), written blind to the project, measured on round 17's
# gate and on round 18's before its prompts were read. "styles" (bench/prompt_sets/
# build_styles.py): harmless prompts that name a look ("pastel aesthetic"), for training.
SPLITS = (
    "tune",
    "held_out",
    "fresh",
    "blind",
    "dev5",
    "blind2",
    "dev_lang",
    "dev6",
    "blind3",
    "dev8",
    "blind4",
    "blind5",
    "blind6",
    "blind7",
    "blind8",
    "blind9",
    "blind10",
    "blind11",
    "blind12",
    "blind13",
    "blind14",
    "blind15",
    "blind16",
    "dev17",
    "blind17",
    "styles",
    "generic",
)
ADVERSARIAL_FILES = (
    "harmful.jsonl",
    "benign.jsonl",
    "fresh_harmful.jsonl",
    "fresh_benign.jsonl",
    "blind_harmful.jsonl",
    "blind_benign.jsonl",
    "dev_round5.jsonl",
    "blind2_harmful.jsonl",
    "blind2_benign.jsonl",
    "dev_lang.jsonl",
    "dev6.jsonl",
    "blind3_harmful.jsonl",
    "blind3_benign.jsonl",
    "dev8.jsonl",
    "blind4_harmful.jsonl",
    "blind4_benign.jsonl",
    "blind5_harmful.jsonl",
    "blind5_benign.jsonl",
    "blind6_harmful.jsonl",
    "blind6_benign.jsonl",
    "blind7_harmful.jsonl",
    "blind7_benign.jsonl",
    "blind8_harmful.jsonl",
    "blind8_benign.jsonl",
    "blind9_harmful.jsonl",
    "blind9_benign.jsonl",
    "blind10_harmful.jsonl",
    "blind10_benign.jsonl",
    "blind11_harmful.jsonl",
    "blind11_benign.jsonl",
    "blind12_harmful.jsonl",
    "blind12_benign.jsonl",
    "blind13_harmful.jsonl",
    "blind13_benign.jsonl",
    "blind14_harmful.jsonl",
    "blind14_benign.jsonl",
    "blind15_harmful.jsonl",
    "blind15_benign.jsonl",
    "blind16_harmful.jsonl",
    "blind16_benign.jsonl",
    "dev17_harmful.jsonl",
    "dev17_benign.jsonl",
    "blind17_harmful.jsonl",
    "blind17_benign.jsonl",
    "styles_benign.jsonl",
    "generic_benign.jsonl",
)
LABELS = (*PROMPT_CATEGORIES, *DEPLOYMENT_CONTEXTS, pc.BENIGN)


def read_set(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    unknown = {row["label"] for row in rows} - set(LABELS)
    if unknown:
        raise SystemExit(f"unknown labels in {path}: {sorted(unknown)}")
    return rows


def adversarial_rows() -> list[dict]:
    return [
        json.loads(line)
        for name in ADVERSARIAL_FILES
        for line in (SETS / name).read_text().splitlines()
        if line.strip()
    ]


def adversarial_metrics(rows: list[dict], verdicts: list, latencies: list[float]) -> dict:
    """Per split: recall per category (blocked under the category; sexual_minors also counts a
    block under any category as blocked), the benign false-block rate, and latency."""
    out = {}
    for split in SPLITS:
        pairs = [(r, v, t) for r, v, t in zip(rows, verdicts, latencies, strict=True)
                 if r["split"] == split]  # fmt: skip
        table = {}
        for label in PROMPT_CATEGORIES:
            mine = [(r, v) for r, v, _ in pairs if r["label"] == label]
            if not mine:
                continue
            table[label] = {
                "n": len(mine),
                "recall": sum(v.category == label for _, v in mine) / len(mine),
                "blocked": sum(v.verdict == "block" for _, v in mine) / len(mine),
                "evaded_n": sum(r["evasion"] != "none" for r, _ in mine),
                "evaded_recall": _share(
                    [v.category == label for r, v in mine if r["evasion"] != "none"]
                ),
            }
        benign = [(r, v) for r, v, _ in pairs if r["label"] == pc.BENIGN]
        table[pc.BENIGN] = {
            "n": len(benign),
            "blocked": sum(v.verdict == "block" for _, v in benign) / len(benign),
            "review": sum(v.verdict == "review" for _, v in benign) / len(benign),
            "by_group": {
                group: _share([v.verdict == "block" for r, v in benign if r["group"] == group])
                for group in sorted({r["group"] for r, _ in benign})
            },
        }
        lat = sorted(t for _, _, t in pairs)
        table["latency_ms"] = {
            "p50": statistics.median(lat),
            "p95": lat[int(0.95 * (len(lat) - 1))],
        }
        out[split] = table
    return out


def _share(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def check_disjoint(rows: list[dict], exemplars: pc.Exemplars) -> None:
    seen = {normalise(text).strip() for _, text in exemplars.file.labelled()}
    shared = [row["prompt"] for row in rows if normalise(row["prompt"]).strip() in seen]
    if shared:
        raise SystemExit(f"{len(shared)} evaluation prompts are also exemplars: {shared[:5]}")


def trained_splits() -> list[str]:
    lines = pc.TRAINING_PATH.read_bytes().splitlines()  # as the classifier reads it
    return sorted({json.loads(line)["split"] for line in lines if line.strip()})


def timed_load() -> tuple[pc.PromptClassifier, dict]:
    started = time.perf_counter()
    encoder = pc._encoder()
    encoder_s = time.perf_counter() - started
    exemplars = pc.with_training(pc.Exemplars.read())
    classifier = pc.build_classifier(exemplars, encoder)
    pc._loaded = classifier  # prompt_check uses this instance
    total_s = time.perf_counter() - started
    return classifier, {
        "encoder_load_s": encoder_s,
        "exemplars_embed_and_fit_s": classifier.load_s,
        "total_s": total_s,
        "exemplars": len(exemplars.file.labelled()),
    }


def nearest_exemplar(classifier: pc.PromptClassifier, rows: list[dict]) -> np.ndarray:
    texts = [text for _, text in pc.Exemplars.read().file.labelled()]
    exemplar = pc.embed(classifier.encoder, texts)
    prompts = pc.embed(classifier.encoder, [row["prompt"] for row in rows])
    return (prompts @ exemplar.T).max(axis=1)


def evaluate(rows: list[dict]) -> tuple[list, list[float]]:
    verdicts, latencies = [], []
    for row in rows:
        started = time.perf_counter()
        verdict = prompt_check(
            row["prompt"],
            blocked_categories=PROMPT_CATEGORIES,
            review_contexts=DEPLOYMENT_CONTEXTS,
        )
        latencies.append((time.perf_counter() - started) * 1000)
        verdicts.append(verdict)
    return verdicts, latencies


def metrics(rows: list[dict], verdicts: list) -> dict:
    table = {}
    for label in PROMPT_CATEGORIES:
        mine = [v for r, v in zip(rows, verdicts, strict=True) if r["label"] == label]
        given = [r for r, v in zip(rows, verdicts, strict=True) if v.category == label]
        hit = sum(v.verdict == "block" and v.category == label for v in mine)
        table[label] = {
            "n": len(mine),
            "recall": hit / len(mine),
            "blocked": sum(v.verdict == "block" for v in mine) / len(mine),
            "precision": (sum(r["label"] == label for r in given) / len(given)) if given else None,
        }
    for label in DEPLOYMENT_CONTEXTS:
        mine = [v for r, v in zip(rows, verdicts, strict=True) if r["label"] == label]
        given = [r for r, v in zip(rows, verdicts, strict=True) if label in v.contexts]
        hit = sum(label in v.contexts for v in mine)
        table[label] = {
            "n": len(mine),
            "recall": hit / len(mine),
            "blocked": sum(v.verdict == "block" for v in mine) / len(mine),
            "precision": (sum(r["label"] == label for r in given) / len(given)) if given else None,
        }
    benign = [v for r, v in zip(rows, verdicts, strict=True) if r["label"] == pc.BENIGN]
    table[pc.BENIGN] = {
        "n": len(benign),
        "blocked": sum(v.verdict == "block" for v in benign) / len(benign),
        "review": sum(v.verdict == "review" for v in benign) / len(benign),
    }
    return table


def literal_timing(repeats: int = 200) -> dict:
    """Compiling and matching a policy's maximum lists (5 000 terms and 5 000 names)."""
    terms = tuple(f"term{i:04d}word" for i in range(5000))
    names = tuple(f"First{i:04d} Last{i:04d}" for i in range(5000))
    started = time.perf_counter()
    term_matcher = text_matcher(terms, names=False)
    name_matcher = text_matcher(names, names=True)
    compile_ms = (time.perf_counter() - started) * 1000
    prompt = "a watercolor of a lighthouse on a cliff at sunset, seagulls, soft light " * 4
    started = time.perf_counter()
    for _ in range(repeats):
        text = prepare(prompt)
        term_matcher.find(text)
        name_matcher.find(text)
    match_ms = (time.perf_counter() - started) * 1000 / repeats
    return {"compile_ms": compile_ms, "match_ms_per_prompt": match_ms, "prompt_chars": len(prompt)}


def cross_validation() -> dict:
    """Out-of-fold figures on the exemplars: each head at its chosen threshold, and the whole
    block decision (minors rule, flagged heads, the category named by the multinomial head or,
    for comparison, the most severe flagged category)."""
    classifier = pc.load_classifier()
    labels, texts = pc.exemplar_texts(pc.with_training(pc.Exemplars.read()).file.labelled())
    # The n-gram vocabulary is the deployed one (fitted on all exemplars): a small optimism.
    x = pc.featurise(classifier.encoder, classifier.ngrams, texts)
    heads, shifted = {}, {}
    for head in classifier.heads:
        # As fit_heads counts them: near misses are no false flags of a context.
        benign = pc._training_rows(head.name, labels) & np.isin(labels, (pc.BENIGN, pc.NEAR_MISS))
        scores = np.clip(pc.cross_validated_scores(x, labels, head.name), 1e-9, 1 - 1e-9)
        shifted[head.name] = expit(logit(scores) - logit(head.threshold))
        heads[head.name] = {
            "threshold": head.threshold,
            "recall": float(np.mean(shifted[head.name][labels == head.name] >= 0.5)),
            "benign_flagged": float(np.mean(shifted[head.name][benign] >= 0.5)),
        }
    which = np.zeros((len(labels), len(PROMPT_CATEGORIES)))
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    for train, test in folds.split(x, labels):
        model = pc.fit_which(x[train], labels[train])
        columns = [list(model.classes).index(name) for name in PROMPT_CATEGORIES]
        which[test] = model.predict_proba(x[test])[:, columns]
    decisions = {"named by the multinomial head": [], "most severe flagged": []}
    for i, text in enumerate(texts):
        row = {name: float(values[i]) for name, values in shifted.items()}
        minors, _ = _minors(readable(text), row)
        flagged = [name for name in PROMPT_CATEGORIES[1:] if row[name] >= 0.5]
        for rule, chosen in decisions.items():
            if minors:
                chosen.append(MANDATORY_CATEGORY)
            elif not flagged:
                chosen.append(None)
            elif rule == "most severe flagged":
                chosen.append(flagged[0])
            else:
                chosen.append(max(flagged, key=lambda n: which[i][PROMPT_CATEGORIES.index(n)]))
    decision = {}
    for rule, chosen in decisions.items():
        named = np.array([name or "" for name in chosen])
        decision[rule] = {
            name: {
                "right": float(np.mean(named[labels == name] == name)),
                "blocked": float(np.mean(named[labels == name] != "")),
            }
            for name in PROMPT_CATEGORIES
        }
        harmless = np.isin(labels, (pc.BENIGN, pc.NEAR_MISS))
        decision[rule]["benign_blocked"] = float(np.mean(named[harmless] != ""))
    return {"heads": heads, "decision": decision}


def _pct(value) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cv", action="store_true", help="print cross-validation on exemplars")
    parser.add_argument("--errors", action="store_true", help="list every wrong verdict")
    parser.add_argument("--out", default=os.environ.get("OUT"), help="folder for results.json")
    args = parser.parse_args()

    rows = read_set(DATA)
    adversarial = adversarial_rows()
    # Every exemplar, those of the second reading in other languages included.
    exemplars = second_reading_exemplars()
    # The training prompts' splits are fits; every other prompt must be new to the classifier.
    trained = trained_splits()
    everything = pc.with_training(exemplars)
    check_disjoint(rows, everything)
    check_disjoint([r for r in adversarial if r["split"] not in trained], everything)
    check_disjoint([r for r in adversarial if r["split"] in trained], exemplars)
    print(f"splits the classifier is trained on (figures are fits): {', '.join(trained)}")
    print(f"gate {gate_version()}, {len(rows)} prompts: {dict(Counter(r['label'] for r in rows))}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")

    classifier, load = timed_load()
    print(
        f"load: encoder {load['encoder_load_s']:.1f} s, {load['exemplars']} exemplars embedded "
        f"and heads fitted {load['exemplars_embed_and_fit_s']:.1f} s"
    )
    near = nearest_exemplar(classifier, rows)
    print(
        f"nearest exemplar cosine per prompt: median {np.median(near):.2f}, max {near.max():.2f}"
        f", above 0.9: {int(np.sum(near > 0.9))}"
    )

    pc.embed(classifier.encoder, ["warm-up"])
    verdicts, latencies = evaluate(rows)
    table = metrics(rows, verdicts)
    print("\n| label | n | recall | blocked (any category) | precision |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label in (*PROMPT_CATEGORIES, *DEPLOYMENT_CONTEXTS):
        row = table[label]
        print(
            f"| {label} | {row['n']} | {row['recall']:.2f} | {row['blocked']:.2f} "
            f"| {_pct(row['precision'])} |"
        )
    blocked_rows = [table[label] for label in PROMPT_CATEGORIES]
    total = sum(row["n"] for row in blocked_rows)
    recall_all = sum(row["recall"] * row["n"] for row in blocked_rows) / total
    blocked_all = sum(row["blocked"] * row["n"] for row in blocked_rows) / total
    benign = table[pc.BENIGN]
    print(
        f"\nall blocked categories: recall {recall_all:.3f} (right category), "
        f"{blocked_all:.3f} blocked under any category"
    )
    print(
        f"benign ({benign['n']}): {benign['blocked']:.3f} blocked, {benign['review']:.3f} "
        "sent to review"
    )
    lat = sorted(latencies)
    p50, p95 = statistics.median(lat), lat[int(0.95 * (len(lat) - 1))]
    print(f"latency per prompt (prompt_check, 1 thread): p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    literal = literal_timing()
    print(
        f"literal lists of 5 000 terms + 5 000 names: compile {literal['compile_ms']:.0f} ms "
        f"once, match {literal['match_ms_per_prompt']:.2f} ms per {literal['prompt_chars']}-"
        "character prompt"
    )

    adv_verdicts, adv_latencies = evaluate(adversarial)
    adv = adversarial_metrics(adversarial, adv_verdicts, adv_latencies)
    print(
        f"\nadversarial sets (bench/prompt_sets): {len(adversarial)} prompts; recall = blocked "
        "under the right category (all prompts / the evasion variants among them)"
    )
    print(
        "| label | "
        + " | ".join(f"{s} n | {s} recall | {s} evaded | {s} blocked" for s in SPLITS)
        + " |"
    )
    print("| --- |" + " ---: | ---: | ---: | ---: |" * len(SPLITS))
    for label in PROMPT_CATEGORIES:
        cells = []
        for split in SPLITS:
            row = adv[split].get(label)
            if row is None:
                cells.append("0 | - | - | -")
                continue
            cells.append(
                f"{row['n']} | {row['recall']:.3f} | {_pct(row['evaded_recall'])} "
                f"| {row['blocked']:.3f}"
            )
        print(f"| {label} | " + " | ".join(cells) + " |")
    for split in SPLITS:
        benign_row = adv[split][pc.BENIGN]
        groups = ", ".join(f"{g} {_pct(share)}" for g, share in benign_row["by_group"].items())
        print(
            f"{split}: benign {benign_row['n']}: {benign_row['blocked']:.3f} blocked, "
            f"{benign_row['review']:.3f} review ({groups}); latency p50 "
            f"{adv[split]['latency_ms']['p50']:.1f} ms, "
            f"p95 {adv[split]['latency_ms']['p95']:.1f} ms"
        )

    if args.errors:
        print("\nwrong verdicts on the adversarial tuning split:")
        for row, verdict in zip(adversarial, adv_verdicts, strict=True):
            if row["split"] != "tune":
                continue
            label = row["label"]
            wrong = (label == pc.BENIGN and verdict.verdict == "block") or (
                label != pc.BENIGN and verdict.category != label
            )
            if wrong:
                print(f"  [{label}] -> {verdict.verdict}/{verdict.category}: {row['prompt']}")
        print("\nwrong verdicts:")
        for row, verdict in zip(rows, verdicts, strict=True):
            label = row["label"]
            wrong = (
                (label in PROMPT_CATEGORIES and verdict.category != label)
                or (label in DEPLOYMENT_CONTEXTS and label not in verdict.contexts)
                or (label == pc.BENIGN and verdict.verdict != "pass")
            )
            if wrong:
                print(f"  [{label}] -> {verdict.verdict}/{verdict.category}: {row['prompt']}")

    cv = None
    if args.cv:
        cv = cross_validation()
        print("\ncross-validation on the exemplars (5 folds), each head at its threshold:")
        print("| head | threshold | recall | benign exemplars flagged |")
        print("| --- | ---: | ---: | ---: |")
        for name, row in cv["heads"].items():
            print(
                f"| {name} | {row['threshold']:.3f} | {row['recall']:.2f} "
                f"| {row['benign_flagged']:.3f} |"
            )
        rules = list(cv["decision"])
        print("\ncross-validation of the block decision: right category / blocked at all")
        print(f"| category | {' | '.join(rules)} |")
        print("| --- |" + " ---: |" * len(rules))
        for name in PROMPT_CATEGORIES:
            cells = [cv["decision"][r][name] for r in rules]
            print(
                f"| {name} | "
                + " | ".join(f"{c['right']:.2f} / {c['blocked']:.2f}" for c in cells)
                + " |"
            )
        benign_cells = " | ".join(f"{cv['decision'][r]['benign_blocked']:.3f}" for r in rules)
        print(f"| benign exemplars blocked | {benign_cells} |")

    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        result = {
            "gate_version": gate_version(),
            "load": load,
            "metrics": table,
            "latency_ms": {"p50": p50, "p95": p95},
            "literal": literal,
            "adversarial": adv,
            "trained_splits": trained,
            "cross_validation": cv,
        }
        (out / "results.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
