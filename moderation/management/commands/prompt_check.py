"""`manage.py prompt_check --org SLUG [--json] [TEXT ...]`: the prompt gate's verdict on each
prompt under the organization's active policy, without creating a job, spending quota or
counting towards abuse monitoring. Prompts come from the arguments or, without any, from
standard input, one per line."""

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from mintmark.errors import ApiError
from moderation.screening import prompt_judge
from orgs.models import Organization
from policies.rules import PROMPT_CATEGORIES as _CATEGORIES
from policies.selectors import policy_active, policy_active_rules


class Command(BaseCommand):
    help = (
        "Prints the prompt gate's decision, category and score for each prompt (arguments, or "
        "standard input one per line) under the organization's active policy; creates no job "
        "and records nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("prompts", nargs="*", metavar="TEXT", help="prompts to check")
        parser.add_argument("--org", metavar="SLUG", required=True, help="the organization")
        parser.add_argument("--json", action="store_true", help="one JSON object per line")

    def handle(self, *args, prompts: list[str], org: str, json: bool, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization with slug {org!r}.")
        try:
            policy = policy_active(org=organization)
            rules = policy_active_rules(org=organization)
        except ApiError as exc:
            raise CommandError(exc.detail) from None
        lines = prompts or [line.rstrip("\n") for line in sys.stdin]
        if not json:
            self.stdout.write(f"{organization.slug}: policy v{policy.version}")
        for prompt in lines:
            if not prompt.strip():
                continue
            self.stdout.write(self._line(prompt, rules, as_json=json))

    def _line(self, prompt: str, rules, *, as_json: bool) -> str:
        row = {"prompt": prompt}
        if len(prompt) > rules.prompt.max_length:
            row.update(
                decision="refused",
                detail=f"longer than the policy's {rules.prompt.max_length} characters",
            )
        else:
            try:
                verdict = prompt_judge(prompt=prompt, rules=rules)
            except ApiError as exc:
                raise CommandError(exc.detail) from None
            category_scores = {
                name: value for name, value in verdict.scores.items() if name in _CATEGORIES
            }
            top = max(category_scores, key=category_scores.get)
            score_of = verdict.category if verdict.category in verdict.scores else top
            row.update(
                decision=verdict.verdict,
                category=verdict.category,
                score=round(verdict.scores[score_of], 3),
                scored=score_of,
                matched=verdict.matched,
                normalised=verdict.normalised,
                lookalike_words=verdict.lookalike_words,
                gate_version=verdict.gate_version,
            )
        if as_json:
            return json.dumps(row, ensure_ascii=False)
        if row["decision"] == "refused":
            return f"refused  -  -  {prompt}  ({row['detail']})"
        extras = []
        if row["matched"]:
            extras.append(f"matched: {row['matched']}")
        if row["lookalike_words"]:
            extras.append(f"look-alike letters in: {', '.join(row['lookalike_words'])}")
        if row["normalised"] != prompt:
            extras.append(f"read as: {row['normalised']}")
        tail = f"  ({'; '.join(extras)})" if extras else ""
        return (
            f"{row['decision']}  {row['category'] or '-'}  {row['scored']}={row['score']:.3f}  "
            f"{prompt}{tail}"
        )
