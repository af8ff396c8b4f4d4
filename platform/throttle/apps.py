from django.apps import AppConfig


class ThrottleConfig(AppConfig):
    name = "throttle"
    verbose_name = "Rate limits and login lockout"

    def ready(self):
        from axes.signals import user_locked_out

        from throttle.limits import rates_check
        from throttle.lockout import lockout_audit

        # A bad rate or proxy network stops every process at start, like any other setting.
        rates_check()
        user_locked_out.connect(lockout_audit, dispatch_uid="throttle.lockout_audit")
