import pytest

from sso.config import sso_config_update
from tests.browser.conftest import (  # noqa: F401  (the browser tests' fixtures, reused here)
    browser_context,
    chromium,
    page,
    portal_url,
    screenshots_root,
)
from tests.sso.oidc_support import CLIENT_ID, CLIENT_SECRET, oidc_provider

ROLE_GROUPS = {
    "admin": ["mm-admins"],
    "staff": ["mm-staff"],
    "reviewer": ["mm-reviewers"],
    "auditor": ["mm-auditors"],
}


@pytest.fixture
def sso_env(settings, monkeypatch):
    """The test provider speaks plain http on loopback; the secret comes from the environment
    as in production."""
    settings.SSO_ALLOW_HTTP_ISSUER = True
    settings.SSO_ALLOW_PRIVATE = True
    monkeypatch.setenv("MINTMARK_SSO_CLIENT_SECRET_ACME", CLIENT_SECRET)


@pytest.fixture
def idp(request, tmp_path):
    with oidc_provider(tmp_path / "idp", request.getfixturevalue("portal_url")) as provider:
        yield provider


@pytest.fixture
def acme_sso(live_db, acme, idp, sso_env):
    return sso_config_update(
        org=acme,
        actor=None,
        enabled=True,
        issuer=idp.issuer,
        client_id=CLIENT_ID,
        scopes="openid email groups",
        role_groups=ROLE_GROUPS,
    )
