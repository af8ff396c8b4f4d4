import structlog
from django.contrib.auth import get_user_model
from django.db import transaction

from audit.services import audit_append
from orgs.models import Membership

log = structlog.get_logger(__name__)


def login_lockout_record(*, username: str, ip_address: str, failures: int, cool_off_s: int):
    """Records a password-login lockout in the audit log of every org of the account. A
    username that names no account has no org to tell; it is logged only."""
    log.warning("login_locked_out", username=username, ip=ip_address, failures=failures)
    user = get_user_model()._default_manager.filter(username=username).first()
    if user is None:
        return
    with transaction.atomic():
        for membership in Membership.objects.filter(user=user).select_related("org"):
            audit_append(
                org=membership.org,
                actor=None,
                action="auth.login_locked_out",
                subject=membership,
                data={
                    "user": username,
                    "ip": ip_address,
                    "failures": failures,
                    "locked_for_s": cool_off_s,
                },
            )
