"""The prompt gate under the policy the bench measures (every category blocked, every context
reviewed), for the tests that judge prompts one by one."""

from moderation.prompt_gate import PromptVerdict, prompt_check
from policies.rules import DEPLOYMENT_CONTEXTS, PROMPT_CATEGORIES


def check(prompt: str) -> PromptVerdict:
    return prompt_check(
        prompt, blocked_categories=PROMPT_CATEGORIES, review_contexts=DEPLOYMENT_CONTEXTS
    )
