"""Time to first image, as a new user meets it: the README's first command (`make run`) in a
fresh clone, then one request to the default model through the API until its image is
RELEASED, then a second `make run` on the same clone (the later starts).

    python3 bench/first_run.py --out bench/first_run.json

Each line `make run` prints is stamped with the seconds since the clone began; a step starts at
the line that announces it (make echoes each command before it runs it) and ends where the next
begins. Nothing here is mocked: the clone installs into its own .venv from the package index,
draws and imports the demo dataset, and serves on a free port."""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The commands run are this repository's own (make, git, its venv's python): S603/S607 do not
# apply. (step name, a fragment of the first line of that step), in the order make runs them.
STEPS = (
    ("venv", "-m venv"),
    ("pip install", "pip install -r requirements.txt"),
    ("pip install --no-deps", "pip install --no-deps"),
    ("migrate", "manage.py migrate"),
    ("collectstatic", "manage.py collectstatic"),
    ("seed_demo", "manage.py seed_demo"),
    ("provenance_init", "manage.py provenance_init"),
    ("serve until serving", "manage.py serve"),
)
SERVING = "Mintmark is serving on"


def step_times(lines: list[tuple[float, str]], end: float) -> dict[str, float]:
    """Seconds spent in each step of STEPS that appears in the stamped lines."""
    starts = []
    for name, fragment in STEPS:
        stamp = next((t for t, line in lines if fragment in line), None)
        if stamp is not None:
            starts.append((name, stamp))
    starts.sort(key=lambda item: item[1])
    bounds = [stamp for _, stamp in starts[1:]] + [end]
    pairs = zip(starts, bounds, strict=True)
    return {name: round(stop - start, 1) for (name, start), stop in pairs}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MakeRun:
    """`make run` in the clone, its output stamped line by line."""

    def __init__(self, clone: Path, port: int, started: float) -> None:
        self.lines: list[tuple[float, str]] = []
        self.started = started
        self.process = subprocess.Popen(  # noqa: S603
            ["make", "run", f"PORT={port}"],  # noqa: S607
            cwd=clone,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append((time.monotonic() - self.started, line.rstrip()))

    def wait_for(self, fragment: str, timeout_s: float) -> float:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for stamp, line in self.lines:
                if fragment in line:
                    return stamp
            if self.process.poll() is not None:
                break
            time.sleep(0.5)
        tail = "\n".join(line for _, line in self.lines[-40:])
        raise RuntimeError(f"no {fragment!r} from make run:\n{tail}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.reader.join(timeout=10)


def _api(port: int, method: str, path: str, token: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def first_image(clone: Path, port: int, timeout_s: float) -> float:
    """Seconds from submitting one default-model request to its RELEASED state."""
    command = ["token_create", "--org", "demo", "--user", "staff@demo.local", "--name", "bench"]
    token = subprocess.run(  # noqa: S603
        [".venv/bin/python", "manage.py", *command],
        cwd=clone,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    began = time.monotonic()
    job = _api(
        port,
        "POST",
        "/api/generations",
        token,
        {"prompt": "a red circle on a blue background", "model": "mintmark-shapes:1"},
    )
    while time.monotonic() - began < timeout_s:
        job = _api(port, "GET", f"/api/generations/{job['id']}", token)
        if job["state"] == "RELEASED":
            return time.monotonic() - began
        if job["state"] in {"BLOCKED", "REJECTED", "FAILED", "CANCELLED"}:
            raise RuntimeError(f"the first job ended {job['state']}: {job.get('error')}")
        time.sleep(0.5)
    raise RuntimeError(f"the first job was still {job['state']} after {timeout_s} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    parser.add_argument("--timeout-s", type=float, default=3600, help="per make run")
    args = parser.parse_args()
    results: dict = {"machine": {"cpus": os.cpu_count(), "load": os.getloadavg()}}
    with tempfile.TemporaryDirectory(prefix="mintmark-first-run-") as tmp:
        clone = Path(tmp) / "mintmark"
        started = time.monotonic()
        clone_command = ["git", "clone", "--quiet", str(REPO), str(clone)]
        subprocess.run(clone_command, check=True)  # noqa: S603
        cloned = time.monotonic() - started
        port = _free_port()
        run = MakeRun(clone, port, started)
        try:
            serving = run.wait_for(SERVING, args.timeout_s)
            released = first_image(clone, port, timeout_s=600)
        finally:
            run.stop()
        first = {"clone": round(cloned, 1), **step_times(run.lines, serving)}
        first["first image released"] = round(released, 1)
        results["first make run"] = first
        results["clone to serving s"] = round(serving, 1)
        results["clone to first image s"] = round(serving + released, 1)
        again_started = time.monotonic()
        again = MakeRun(clone, _free_port(), again_started)
        try:
            results["later make run to serving s"] = round(
                again.wait_for(SERVING, args.timeout_s), 1
            )
        finally:
            again.stop()
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    for step, seconds in results["first make run"].items():
        print(f"| {step} | {seconds} |")
    return None


if __name__ == "__main__":
    sys.exit(main())
