"""The OpenID Connect relying party, on mozilla-django-oidc (README "Single sign-on"). The
library reads one provider from Django settings; here each request names an organization, and
its provider's endpoints (from the issuer's discovery document), client and secret are set on
the view or backend for that request. Everything else is the library's authorization code flow:
state, nonce and the PKCE (S256) code verifier kept in the session, the code exchanged at the
token endpoint, the ID token's signature checked against the provider's JWKS."""

import socket
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import requests
import structlog
from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.views import LogoutView
from django.core.exceptions import SuspiciousOperation
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.views.generic import View
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from sso.login import sso_login, sso_refusal_record
from sso.models import OrgSso
from sso.secrets import client_secret, client_secret_variable
from webhooks.addresses import address_refusal

log = structlog.get_logger(__name__)

# The library's settings, fixed: PKCE with S256 always, ID tokens signed with RS256 and checked
# against the provider's keys, the client secret sent with HTTP Basic (client_secret_basic,
# every provider's default), the ID token kept for the provider's logout.
LIBRARY_SETTINGS = {
    "OIDC_USE_PKCE": True,
    "OIDC_PKCE_CODE_CHALLENGE_METHOD": "S256",
    "OIDC_USE_NONCE": True,
    "OIDC_RP_SIGN_ALGO": "RS256",
    "OIDC_TOKEN_USE_BASIC_AUTH": True,
    "OIDC_STORE_ID_TOKEN": True,
    "OIDC_AUTHENTICATION_CALLBACK_URL": "sso:callback",
    "OIDC_REDIRECT_FIELD_NAME": "next",
}
PENDING = "sso_pending"  # session: state -> org slug of each login under way
MAX_PENDING = 20
_discovery_cache: dict[str, tuple[float, dict]] = {}


class SsoUnavailable(Exception):
    """The provider cannot be used now (unreachable, a bad discovery document, no secret)."""


def _library_setting(attr, *args):
    if attr in LIBRARY_SETTINGS:
        return LIBRARY_SETTINGS[attr]
    if attr == "OIDC_TIMEOUT":
        return settings.SSO_HTTP_TIMEOUT_S
    return getattr(settings, attr, *args)


def _internal_refusal(url: str) -> str | None:
    """Why Mintmark must not call `url` of a provider (None when it may): an org admin chooses
    the issuer, and its discovery document names the other endpoints, so without this an admin
    could make the web process request the installation's own network (SSRF). The same rule as
    webhooks: public addresses only, unless MINTMARK_SSO_ALLOW_PRIVATE."""
    if settings.SSO_ALLOW_PRIVATE:
        return None
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError, TypeError):
        return f"{parts.hostname} does not resolve"
    for info in infos:
        reason = address_refusal(info[4][0])
        if reason:
            return f"{parts.hostname} resolves to {reason}; providers must be on public addresses"
    return None


def discover(issuer: str) -> dict:
    """The provider's metadata (cached for MINTMARK_SSO_DISCOVERY_CACHE_S), whose issuer must
    be exactly the configured one (OpenID Connect Discovery 1.0, section 4.3). The issuer and
    the endpoints Mintmark itself calls must be on public addresses, and no redirect is
    followed (it could lead anywhere)."""
    cached = _discovery_cache.get(issuer)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    refusal = _internal_refusal(url)
    if refusal:
        raise SsoUnavailable(f"the provider's address is refused: {refusal}")
    try:
        response = requests.get(url, timeout=settings.SSO_HTTP_TIMEOUT_S, allow_redirects=False)
        if response.is_redirect:
            raise SsoUnavailable(f"{url} answers with a redirect, which is not followed")
        response.raise_for_status()
        metadata = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise SsoUnavailable(
            f"the provider's discovery document {url} cannot be read ({exc})"
        ) from None
    if not isinstance(metadata, dict) or metadata.get("issuer") != issuer:
        raise SsoUnavailable(f"{url} names another issuer than {issuer}")
    needed = ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint")
    missing = [key for key in needed if not isinstance(metadata.get(key), str)]
    if missing:
        raise SsoUnavailable(f"{url} lacks {', '.join(missing)}")
    for key in ("token_endpoint", "jwks_uri", "userinfo_endpoint"):
        refusal = _internal_refusal(metadata[key])
        if refusal:
            raise SsoUnavailable(f"the provider's {key} is refused: {refusal}")
    _discovery_cache[issuer] = (time.monotonic() + settings.SSO_DISCOVERY_CACHE_S, metadata)
    return metadata


def enabled_config(slug: str) -> OrgSso | None:
    return (
        OrgSso.objects.select_related("org").filter(org__slug=slug, enabled=True).first()
        if slug
        else None
    )


def _login_page(request, status: int, error: str):
    messages.error(request, error)
    context = {"sso_org": request.GET.get("org", "")}
    return render(request, "portal/login.html", context, status=status)


class SsoLoginView(OIDCAuthenticationRequestView):
    """GET /sso/login/?org=<slug>[&next=...]: redirects to the org's provider."""

    def __init__(self, **kwargs):
        # The library reads its one provider from settings here; ours is chosen per request.
        View.__init__(self, **kwargs)

    def get_settings(self, attr, *args):
        if attr == "OIDC_RP_SCOPES":
            return self.config.scopes
        return _library_setting(attr, *args)

    def get(self, request):
        slug = request.GET.get("org", "").strip().lower()
        self.config = enabled_config(slug)
        if self.config is None:
            return _login_page(
                request, 404, f"No organization {slug!r} signs in with single sign-on here."
            )
        try:
            if client_secret(slug) is None:
                # The variable's name is the operator's business: it goes to the log only.
                log.warning(
                    "sso_client_secret_missing", org=slug, variable=client_secret_variable(slug)
                )
                raise SsoUnavailable("the operator has not set its client secret yet")
            metadata = discover(self.config.issuer)
        except SsoUnavailable as exc:
            log.warning("sso_login_unavailable", org=slug, reason=str(exc))
            return _login_page(
                request, 503, f"Single sign-on for {self.config.org.name} is unavailable: {exc}."
            )
        self.OIDC_OP_AUTH_ENDPOINT = metadata["authorization_endpoint"]
        self.OIDC_RP_CLIENT_ID = self.config.client_id
        response = super().get(request)
        state = parse_qs(urlsplit(response.url).query)["state"][0]
        pending = dict(list(request.session.get(PENDING, {}).items())[-(MAX_PENDING - 1) :])
        pending[state] = slug
        request.session[PENDING] = pending
        return response


class SsoBackend(OIDCAuthenticationBackend):
    """Authenticates the callback of a login begun by SsoLoginView, for the org that login
    named. Password logins never reach it (its signature takes no username or password)."""

    def __init__(self, *args, **kwargs):
        # The library would read one provider's endpoints from settings here.
        self.UserModel = get_user_model()
        self.OIDC_RP_SIGN_ALGO = LIBRARY_SETTINGS["OIDC_RP_SIGN_ALGO"]
        self.OIDC_RP_IDP_SIGN_KEY = None

    @staticmethod
    def get_settings(attr, *args):
        return _library_setting(attr, *args)

    def authenticate(self, request, nonce=None, code_verifier=None):
        if request is None or "state" not in request.GET:
            return None
        slug = request.session.get(PENDING, {}).get(request.GET["state"])
        config = enabled_config(slug)
        if config is None:
            request.sso_refusal = "This sign-in was not started here, or SSO was turned off."
            return None
        request.sso_org = config.org
        self.config = config
        try:
            secret = client_secret(config.org.slug)
            if secret is None:
                raise SsoUnavailable(f"{client_secret_variable(config.org.slug)} is not set")
            metadata = discover(config.issuer)
            self.OIDC_OP_TOKEN_ENDPOINT = metadata["token_endpoint"]
            self.OIDC_OP_USER_ENDPOINT = metadata["userinfo_endpoint"]
            self.OIDC_OP_JWKS_ENDPOINT = metadata["jwks_uri"]
            self.OIDC_RP_CLIENT_ID = config.client_id
            self.OIDC_RP_CLIENT_SECRET = secret
            return super().authenticate(request, nonce=nonce, code_verifier=code_verifier)
        except (
            SsoUnavailable,
            SuspiciousOperation,
            requests.RequestException,
            jwt.PyJWTError,
            ValueError,
            KeyError,
        ) as exc:
            # A provider that answers wrongly is the provider's fault: a refusal, not a 500.
            detail = str(exc)[:500]
            sso_refusal_record(org=config.org, reason="provider_error", detail=detail)
            request.sso_refusal = "Sign-in failed: the identity provider's answer was not accepted."
            log.warning("sso_login_failed", org=config.org.slug, reason=detail)
            return None

    def verify_token(self, token, **kwargs):
        payload = super().verify_token(token, **kwargs)
        # The library checks signature, expiry and nonce; issuer and audience are ours to check.
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if payload.get("iss") != self.config.issuer:
            raise SuspiciousOperation("the ID token's issuer is not the org's provider")
        if self.config.client_id not in audiences:
            raise SuspiciousOperation("the ID token was not issued to this client")
        return payload

    def get_or_create_user(self, access_token, id_token, payload):
        userinfo = self.get_userinfo(access_token, id_token, payload)
        if userinfo.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("userinfo is about another subject than the ID token")
        outcome = sso_login(config=self.config, claims={**payload, **userinfo})
        if outcome.refusal:
            self.request.sso_refusal = outcome.refusal
        return outcome.user

    def get_user(self, user_id):
        return ModelBackend.get_user(self, user_id)


class SsoCallbackView(OIDCAuthenticationCallbackView):
    """GET /sso/callback/: where the provider sends the browser back."""

    @staticmethod
    def get_settings(attr, *args):
        return _library_setting(attr, *args)

    def get(self, request):
        state = request.GET.get("state", "")
        slug = request.session.get(PENDING, {}).get(state)
        if request.GET.get("error") and slug:
            config = enabled_config(slug)
            if config is not None:
                sso_refusal_record(
                    org=config.org,
                    reason="provider_refused",
                    detail=str(request.GET.get("error_description") or request.GET["error"])[:500],
                )
        return super().get(request)

    @property
    def success_url(self):
        next_url = self.request.session.get("oidc_login_next")
        org = getattr(self.request, "sso_org", None)
        return next_url or reverse("portal:org_home", kwargs={"org": org.slug})

    def login_success(self):
        response = super().login_success()
        self.request.session["sso_org"] = self.request.sso_org.slug
        # Groups are read from the provider only at login, so the session they grant is kept
        # short: a user the provider drops loses the portal when it ends.
        self.request.session.set_expiry(settings.SSO_SESSION_MAX_AGE_S)
        return response

    def login_failure(self):
        reason = getattr(self.request, "sso_refusal", None) or (
            "Sign-in did not complete: the identity provider refused it or it was interrupted."
        )
        if self.request.user.is_authenticated:
            # A refused login leaves no earlier session of this browser behind.
            auth.logout(self.request)
        messages.error(self.request, reason)
        return redirect(resolve_url(settings.LOGIN_URL))


class SsoLogoutView(LogoutView):
    """The portal's logout: ends the Mintmark session and, after an SSO login, the session at
    the provider too (RP-initiated logout) when it offers that."""

    def post(self, request, *args, **kwargs):
        slug = request.session.get("sso_org")
        id_token = request.session.get("oidc_id_token")
        response = super().post(request, *args, **kwargs)
        config = enabled_config(slug) if slug else None
        if config is None or not id_token:
            return response
        try:
            end_session = discover(config.issuer).get("end_session_endpoint")
        except SsoUnavailable:
            return response
        if not isinstance(end_session, str):
            return response
        params = {
            "id_token_hint": id_token,
            "client_id": config.client_id,
            "post_logout_redirect_uri": request.build_absolute_uri(resolve_url(settings.LOGIN_URL)),
        }
        return redirect(f"{end_session}?{urlencode(params)}")
