"""The prompt gate under the policy the bench measures (every category blocked, every context
reviewed), for the tests that judge prompts one by one."""

import json
from functools import cache

import pytest

from moderation.prompt_classifier import TRAINING_PATH
from moderation.prompt_gate import PromptVerdict, prompt_check
from policies.rules import DEPLOYMENT_CONTEXTS, PROMPT_CATEGORIES


def check(prompt: str) -> PromptVerdict:
    return prompt_check(
        prompt, blocked_categories=PROMPT_CATEGORIES, review_contexts=DEPLOYMENT_CONTEXTS
    )


@cache
def trained_prompts() -> frozenset[str]:
    """The training file's prompts, read once a test process: a test of a prompt the heads
    must judge unseen first checks it is not among them."""
    lines = TRAINING_PATH.read_bytes().splitlines()
    return frozenset(json.loads(line)["prompt"] for line in lines if line.strip())


def round13_false_block(prompt: str):
    """A harmless prompt of an earlier round that the heads fitted on the training prompts
    (round 13) block: kept as a strict expected failure, so it is seen, and the day it passes
    again the test says so (issue #17)."""
    return _fitted(prompt, "blocked", 13)


def round14_false_block(prompt: str):
    """The same for a harmless prompt the heads block since round 14 trained on blind11."""
    return _fitted(prompt, "blocked", 14)


def round15_false_block(prompt: str):
    """The same since round 15 trained on blind12."""
    return _fitted(prompt, "blocked", 15)


def round16_false_block(prompt: str):
    """The same since round 16 trained on blind13 and blind14."""
    return _fitted(prompt, "blocked", 16)


def round17_false_block(prompt: str):
    """The same since round 17 trained on blind15 and dev17."""
    return _fitted(prompt, "blocked", 17)


def round18_false_block(prompt: str):
    """The same since round 18 trained on blind16."""
    return _fitted(prompt, "blocked", 18)


def _fitted(prompt: str, what: str, round_: int):
    reason = (
        f"issue #17: {what} since the heads are fitted on the training prompts (round {round_})"
    )
    return pytest.param(prompt, marks=pytest.mark.xfail(strict=True, reason=reason))
