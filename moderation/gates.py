"""The gate framework (plain module, no Django): what a gate is, how one runs under a time limit,
and how an answer that is not a clean verdict becomes an error instead of a pass.

A gate looks at one quarantined image and says pass, block or review, with scores and details.
Anything else (an exception, no answer in time, a malformed answer) is a `GateError`, which the
decision treats as "not passed": the asset stays quarantined."""

import math
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, Protocol

from PIL import Image

VERDICTS = ("pass", "block", "review")
# Threads outlive a gate that hangs; a small shared pool bounds how many can pile up. It has room
# for every gate of a policy at once: gates_run submits them together, and a gate queued behind
# the others would spend its time limit waiting.
_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="gate")


class GateError(RuntimeError):
    """A gate did not give a usable verdict; the message says why (for admins and the job)."""


@dataclass(frozen=True)
class GateOutcome:
    verdict: str
    reason: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GateContext:
    """What a gate may know about the image besides its pixels."""

    job_id: str
    model_id: str
    dataset_ids: tuple[str, ...]
    rules: Any  # policies.rules.PolicyRules


class Gate(Protocol):
    name: str
    version: str

    def check(self, image: Image.Image, context: GateContext) -> GateOutcome: ...


@dataclass(frozen=True)
class GateRun:
    gate: str
    version: str
    outcome: GateOutcome | None
    error: str
    duration_ms: float

    @property
    def verdict(self) -> str:
        return self.outcome.verdict if self.outcome is not None else "error"


def outcome_validate(outcome: object) -> GateOutcome:
    """Refuses answers a decision could be fooled by: wrong type, unknown verdict, scores that
    are not finite numbers, details that are not a mapping."""
    if not isinstance(outcome, GateOutcome):
        raise GateError(f"answered {type(outcome).__name__}, not a GateOutcome")
    if outcome.verdict not in VERDICTS:
        raise GateError(f"answered the unknown verdict {outcome.verdict!r}")
    if not isinstance(outcome.reason, str):
        raise GateError("answered a reason that is not text")
    if not isinstance(outcome.scores, Mapping) or not isinstance(outcome.details, Mapping):
        raise GateError("answered scores or details that are not mappings")
    for name, value in outcome.scores.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise GateError(f"answered a score {name!r} that is not a finite number: {value!r}")
    if outcome.verdict != "pass" and not outcome.reason:
        raise GateError(f"answered {outcome.verdict} without a reason")
    return outcome


def gate_run(gate: Gate, image: Image.Image, context: GateContext, *, timeout_s: float) -> GateRun:
    """Runs one gate under a time limit; never raises for the gate's own failures."""
    [run] = gates_run([gate], image, context, timeout_s=timeout_s)
    return run


def gates_run(
    gates: list[Gate], image: Image.Image, context: GateContext, *, timeout_s: float
) -> list[GateRun]:
    """Runs the gates at the same time (they read the same image and decide nothing together),
    each under the time limit counted from now; never raises for a gate's own failure. An
    image waits for its slowest gate instead of the sum of them."""
    started = time.perf_counter()
    deadline = started + timeout_s
    futures = [_POOL.submit(gate.check, image, context) for gate in gates]
    return [
        _gate_answer(gate, future, started, deadline, timeout_s)
        for gate, future in zip(gates, futures, strict=True)
    ]


def _gate_answer(gate: Gate, future, started: float, deadline: float, timeout_s: float) -> GateRun:
    outcome, error = None, ""
    try:
        outcome = outcome_validate(future.result(timeout=max(0.0, deadline - time.perf_counter())))
    except FutureTimeout:
        future.cancel()
        error = f"gave no answer within {timeout_s:g} s"
    except GateError as exc:
        error = str(exc)
    except Exception as exc:  # noqa: BLE001 - a gate's own failure is recorded, never a pass
        error = f"raised {type(exc).__name__}: {exc}"
    duration_ms = (time.perf_counter() - started) * 1000
    return GateRun(gate.name, gate.version, outcome, error, duration_ms)
