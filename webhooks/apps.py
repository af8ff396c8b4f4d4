from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self):
        from generation.transitions import job_state_changed
        from webhooks.receivers import job_ended

        job_state_changed.connect(job_ended, dispatch_uid="webhooks.job_ended")
