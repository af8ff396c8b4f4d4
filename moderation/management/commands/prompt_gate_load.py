"""`manage.py prompt_gate_load`: builds the prompt gate's two readings (the English classifier
and the second reading for other languages) and keeps what can be kept in
MINTMARK_PROMPT_CACHE_DIR, so that later processes load in seconds. For a deployment step
after an upgrade, and for the test run, which starts many processes at once."""

import time

from django.core.management.base import BaseCommand, CommandError

from moderation.prompt_classifier import ClassifierUnavailable, load_classifier
from moderation.prompt_multilingual import load_multilingual


class Command(BaseCommand):
    help = (
        "Builds the prompt gate's classifiers and caches their embeddings and fitted heads in "
        "MINTMARK_PROMPT_CACHE_DIR; prints how long each took."
    )

    def handle(self, *args, **options):
        for name, load in (("classifier", load_classifier), ("second reading", load_multilingual)):
            started = time.perf_counter()
            try:
                loaded = load()
            except ClassifierUnavailable as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(
                f"prompt {name}: {time.perf_counter() - started:.1f} s "
                f"(built in {loaded.load_s:.1f} s)"
            )
