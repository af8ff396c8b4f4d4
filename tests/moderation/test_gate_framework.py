"""The gate framework and the decision: no fault of a gate can turn into a release."""

import math
import time

import pytest
from PIL import Image

from moderation.decision import APPROVE, BLOCK, HOLD, REVIEW, decide
from moderation.gates import (
    GateContext,
    GateError,
    GateOutcome,
    gate_run,
    gates_run,
    outcome_validate,
)

IMAGE = Image.new("RGB", (32, 32), "white")
CONTEXT = GateContext(job_id="j", model_id="m", dataset_ids=(), rules=None)


class Answers:
    def __init__(self, name, answer=None, raises=None, sleep=0.0):
        self.name, self.version = name, "1"
        self.answer, self.raises, self.sleep = answer, raises, sleep

    def check(self, image, context):
        if self.sleep:
            time.sleep(self.sleep)
        if self.raises:
            raise self.raises
        return self.answer


def run(gate, timeout_s=5.0):
    return gate_run(gate, IMAGE, CONTEXT, timeout_s=timeout_s)


def test_a_clean_pass_is_kept():
    result = run(Answers("a", GateOutcome("pass", scores={"x": 0.1})))
    assert result.verdict == "pass" and result.error == "" and result.duration_ms >= 0


@pytest.mark.parametrize(
    "answer, says",
    [
        (None, "NoneType"),
        ({"verdict": "pass"}, "dict"),
        (GateOutcome("maybe"), "unknown verdict"),
        (GateOutcome("PASS"), "unknown verdict"),
        (GateOutcome("pass", scores={"nudity": math.nan}), "finite"),
        (GateOutcome("pass", scores={"nudity": math.inf}), "finite"),
        (GateOutcome("pass", scores={"nudity": "0.1"}), "finite"),
        (GateOutcome("pass", scores={"nudity": True}), "finite"),
        (GateOutcome("pass", scores=[0.1]), "mappings"),
        (GateOutcome("block"), "without a reason"),
        (GateOutcome("pass", reason=3), "not text"),
    ],
)
def test_garbage_is_an_error_not_a_verdict(answer, says):
    result = run(Answers("a", answer))
    assert result.verdict == "error"
    assert says in result.error


def test_an_exception_is_an_error():
    result = run(Answers("a", raises=KeyError("boom")))
    assert result.verdict == "error" and "KeyError" in result.error


def test_a_gate_that_hangs_times_out():
    started = time.perf_counter()
    result = run(Answers("a", GateOutcome("pass"), sleep=2.0), timeout_s=0.2)
    assert result.verdict == "error" and "no answer within 0.2 s" in result.error
    assert time.perf_counter() - started < 1.5


def test_outcome_validate_accepts_ints():
    assert outcome_validate(GateOutcome("pass", scores={"n": 3})).scores == {"n": 3}
    with pytest.raises(GateError):
        outcome_validate(object())


def _runs(**verdicts):
    answers = {
        "pass": GateOutcome("pass"),
        "block": GateOutcome("block", "bad"),
        "review": GateOutcome("review", "look"),
    }
    out = []
    for name, verdict in verdicts.items():
        if verdict == "error":
            out.append(run(Answers(name, raises=RuntimeError("x"))))
        else:
            out.append(run(Answers(name, answers[verdict])))
    return out


@pytest.mark.parametrize(
    "verdicts, review_reasons, action",
    [
        ({"a": "pass", "b": "pass"}, (), APPROVE),
        ({"a": "pass", "b": "block"}, (), BLOCK),
        ({"a": "error", "b": "block"}, (), BLOCK),
        ({"a": "error", "b": "pass"}, (), HOLD),
        ({"a": "review", "b": "error"}, (), HOLD),
        ({"a": "review", "b": "pass"}, (), REVIEW),
        ({"a": "pass", "b": "pass"}, ("context",), REVIEW),
        ({"a": "block", "b": "review"}, ("context",), BLOCK),
    ],
)
def test_decision(verdicts, review_reasons, action):
    decision = decide(_runs(**verdicts), required=["a", "b"], review_reasons=review_reasons)
    assert decision.action == action
    if action != APPROVE:
        assert decision.reasons


def test_a_required_gate_that_did_not_run_holds():
    decision = decide(_runs(a="pass"), required=["a", "b"])
    assert decision.action == HOLD and decision.reasons == ("b: did not run",)


def test_no_gates_required_and_none_ran_approves_only_then():
    assert decide([], required=[]).action == APPROVE
    assert decide([], required=["memorization"]).action == HOLD


def test_gates_run_together_each_under_its_own_limit():
    """Two slow gates answer in about the time of one (they run at once), a hanging one is an
    error at the limit, and every run keeps its own gate's name in order."""
    slow = [Answers(name, GateOutcome("pass"), sleep=1.5) for name in ("a", "b")]
    hangs = Answers("c", GateOutcome("pass"), sleep=30)
    started = time.perf_counter()
    runs = gates_run([*slow, hangs], IMAGE, CONTEXT, timeout_s=6.0)
    elapsed = time.perf_counter() - started
    assert [run.gate for run in runs] == ["a", "b", "c"]
    assert [run.verdict for run in runs] == ["pass", "pass", "error"]
    assert "within 6 s" in runs[2].error
    # Run one after the other, the two slow gates alone would take 3 s and the hanging one
    # would time out at 6 s on top: the whole call would take over 9 s.
    assert elapsed < 9.0
