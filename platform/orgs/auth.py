"""API authentication: per-user bearer tokens, or the portal's session cookie (with CSRF)."""

from ninja.security import HttpBearer, SessionAuth

from orgs.services import token_authenticate


class TokenAuth(HttpBearer):
    def authenticate(self, request, token: str):
        return token_authenticate(secret=token)


API_AUTH = [TokenAuth(), SessionAuth()]
