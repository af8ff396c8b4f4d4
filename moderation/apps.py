from django.apps import AppConfig


class ModerationConfig(AppConfig):
    name = "moderation"

    def ready(self):
        from django.conf import settings

        from moderation import prompt_classifier

        # The prompt classifier keeps its exemplars' embeddings and fitted heads there.
        prompt_classifier.EMBEDDING_CACHE_DIR = settings.PROMPT_CACHE_DIR
