"""The tests' webhook receiver (receiver.py) as a running process, and the org settings a
callback needs (allowed host, secret) made through the API as an admin would."""

import json
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Receiver:
    folder: Path
    port: int

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def program(self, **paths: list[int]) -> None:
        """Statuses to answer on each path, in order (`flaky=[500]` programs /flaky)."""
        (self.folder / "program.json").write_text(
            json.dumps({f"/{name}": statuses for name, statuses in paths.items()})
        )

    def requests(self, path: str | None = None) -> list[dict]:
        log = self.folder / "requests.jsonl"
        rows = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        return [row for row in rows if path is None or row["path"] == path]

    def wait(self, path: str, count: int, timeout: float = 90) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.requests(path)) < count:
            assert time.monotonic() < deadline, (
                f"{path} got {len(self.requests(path))} of {count} requests in {timeout} s"
            )
            time.sleep(0.1)
        return self.requests(path)


def webhooks_enable(admin, hosts=("127.0.0.1",)) -> str:
    """Allows `hosts` and creates the secret through the API; returns the secret."""
    client = admin.client()
    response = client.put(
        "/api/webhooks/allowed-hosts",
        json.dumps({"hosts": list(hosts)}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    response = client.post("/api/webhooks/secret")
    assert response.status_code == 201, response.content
    return response.json()["secret"]
