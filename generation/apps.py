from django.apps import AppConfig
from django.db.models.signals import post_migrate


class GenerationConfig(AppConfig):
    name = "generation"

    def ready(self):
        from generation.events import cache_table_create

        post_migrate.connect(cache_table_create, sender=self)
