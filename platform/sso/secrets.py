"""Each organization's client secret comes from the environment or a file, never the database:
MINTMARK_SSO_CLIENT_SECRET_<SLUG>, or the file named by MINTMARK_SSO_CLIENT_SECRET_<SLUG>_FILE
(slug upper-cased, '-' as '_'), else the file <slug> in MINTMARK_SSO_SECRETS_DIR. Both names are
fixed by the slug, not chosen by an org admin, so no admin can have the provider's token request
carry another organization's secret or any other secret of the installation."""

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from mintmark.env import env_secret


def client_secret_variable(slug: str) -> str:
    return "MINTMARK_SSO_CLIENT_SECRET_" + slug.upper().replace("-", "_")


def client_secret(slug: str) -> str | None:
    """The secret, or None when the operator has not set it (or its file cannot be read)."""
    try:
        secret = env_secret(client_secret_variable(slug))
    except ImproperlyConfigured:
        return None
    if secret is None and settings.SSO_SECRETS_DIR:
        try:
            secret = (Path(settings.SSO_SECRETS_DIR) / slug).read_text().strip() or None
        except OSError:
            return None
    return secret
