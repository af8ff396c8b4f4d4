"""Each organization's client secret comes from the environment, never the database:
MINTMARK_SSO_CLIENT_SECRET_<SLUG>, or the file named by MINTMARK_SSO_CLIENT_SECRET_<SLUG>_FILE
(slug upper-cased, '-' as '_'). The name is fixed by the slug, not chosen by an org admin, so no
admin can point the provider's token request at another organization's secret or at any other
secret of the installation."""

from django.core.exceptions import ImproperlyConfigured

from mintmark.env import env_secret


def client_secret_variable(slug: str) -> str:
    return "MINTMARK_SSO_CLIENT_SECRET_" + slug.upper().replace("-", "_")


def client_secret(slug: str) -> str | None:
    """The secret, or None when the operator has not set it (or its file cannot be read)."""
    try:
        return env_secret(client_secret_variable(slug))
    except ImproperlyConfigured:
        return None
