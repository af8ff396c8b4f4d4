from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "sso"
    verbose_name = "Single sign-on"

    def ready(self):
        from django.db.models.signals import pre_save

        from orgs.models import Membership
        from sso.receivers import membership_guard

        pre_save.connect(membership_guard, sender=Membership, dispatch_uid="sso.membership_guard")
