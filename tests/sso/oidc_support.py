"""A real OpenID Connect provider for the SSO tests: tests/oidc_provider/provider.mjs (the
`oidc-provider` package from npm) run by the machine's Node. Its node_modules are installed
from the committed package-lock.json with `npm ci` the first time a test needs them (a fresh
clone, CI), once even when several pytest-xdist processes ask together."""

import fcntl
import json
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

PROVIDER_DIR = Path(__file__).resolve().parent.parent / "oidc_provider"
CLIENT_ID = "mintmark-portal"
CLIENT_SECRET = "test-client-secret-0f3a9"


def npm_ci() -> None:
    with open(Path(tempfile.gettempdir()) / "mintmark-npm-ci.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (PROVIDER_DIR / "node_modules" / "oidc-provider" / "package.json").exists():
            return
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is missing: the SSO tests run oidc-provider under Node 20+")
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=PROVIDER_DIR, check=True, timeout=300
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Provider:
    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.issuer = f"http://127.0.0.1:{port}"

    def set_account(self, login: str, email: str, groups: list[str]) -> None:
        path = self.folder / "accounts.json"
        accounts = json.loads(path.read_text()) if path.exists() else {}
        accounts[login] = {"email": email, "groups": groups}
        path.write_text(json.dumps(accounts))


@contextmanager
def oidc_provider(folder: Path, portal_url: str):
    """Runs the provider with one confidential client whose redirect and post-logout URIs are
    the live portal's."""
    npm_ci()
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: the SSO tests run oidc-provider under Node 20+")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    provider = Provider(folder, port)
    provider.set_account("nobody", "nobody@example.test", [])
    config = {
        "port": port,
        "accounts": "accounts.json",
        "clients": [
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [f"{portal_url}/sso/callback/"],
                "post_logout_redirect_uris": [f"{portal_url}/login/"],
            }
        ],
    }
    (folder / "config.json").write_text(json.dumps(config))
    log = (folder / "provider.log").open("w")
    process = subprocess.Popen(
        [node, str(PROVIDER_DIR / "provider.mjs"), str(folder / "config.json")],
        cwd=PROVIDER_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"oidc-provider exited: {(folder / 'provider.log').read_text()}")
            try:
                requests.get(f"{provider.issuer}/.well-known/openid-configuration", timeout=2)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    pytest.fail("oidc-provider did not answer within 60 s")
                time.sleep(0.1)
        yield provider
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
