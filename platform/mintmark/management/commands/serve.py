"""`manage.py serve`: the embedded default on one machine. Starts a Celery worker as a child
process (`manage.py worker`, both queues), then the web server in the foreground (gunicorn with
uvicorn workers: Django under ASGI, mintmark/asgi_worker.py), and stops both
together: Ctrl-C or SIGTERM to this process stops the web server and the worker, and if either
child dies the other is stopped too, so no process is left behind.

Production runs gunicorn and the workers as separate services instead (docker-compose.yml)."""

import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mintmark.paths import PLATFORM_DIR, REPO_DIR

MANAGE_PY = REPO_DIR / "manage.py"
STOP_GRACE_S = 20.0
READY_TIMEOUT_S = 60.0


def display_url(host: str, port: int) -> str:
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def gunicorn_argv(*, host: str, port: int, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "mintmark.asgi:application",
        "--worker-class",
        "mintmark.asgi_worker.WebWorker",
        "--chdir",
        str(REPO_DIR),
        "--pythonpath",
        f"{PLATFORM_DIR},{REPO_DIR}",
        "--bind",
        bind_address(host, port),
        "--workers",
        str(workers),
        "--graceful-timeout",
        str(int(STOP_GRACE_S / 2)),
        "--access-logfile",
        "-",
        # gunicorn's control socket lives at one path per user: two servers would collide.
        "--no-control-socket",
    ]


def worker_argv(*, concurrency: int | None) -> list[str]:
    argv = [sys.executable, str(MANAGE_PY), "worker", "--queues", "gpu,gates", "--beat"]
    if concurrency is not None:
        argv += ["--concurrency", str(concurrency)]
    return argv


def _die_with_parent() -> None:
    """Runs in the child before exec: on Linux, the kernel sends it SIGTERM if serve itself dies
    without cleaning up (SIGKILL, OOM), so even then no worker is orphaned."""
    try:
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _port_open(host: str, port: int) -> bool:
    target = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104
    try:
        with socket.create_connection((target, port), timeout=0.5):
            return True
    except OSError:
        return False


class _Stop(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Command(BaseCommand):
    help = (
        "Runs the platform on one machine: a Celery worker (both queues) as a child process and "
        "the web server (gunicorn, uvicorn workers) in the foreground. Ctrl-C stops both."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
        parser.add_argument("--port", type=int, default=8000, help="default: 8000")
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="run the web server only (a worker runs elsewhere: manage.py worker)",
        )
        parser.add_argument(
            "--workers", type=int, default=2, help="web server processes (default 2)"
        )
        parser.add_argument(
            "--worker-concurrency",
            type=int,
            default=None,
            help="Celery worker processes (default: Celery's, the number of CPUs)",
        )

    def handle(self, *args, host, port, no_worker, workers, worker_concurrency, **opts):
        if not 0 < port < 65536:
            raise CommandError(f"--port {port}: use 1 to 65535")
        if workers < 1:
            raise CommandError("--workers must be at least 1")
        if _port_open(host, port):
            raise CommandError(f"{bind_address(host, port)} is already in use: pick --port")
        self.children: dict[str, subprocess.Popen] = {}
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        status = 0
        try:
            status = self._run(host, port, no_worker, workers, worker_concurrency)
        except _Stop as stop:
            self.stdout.write(f"{stop}: stopping")
        finally:
            # A second Ctrl-C while stopping must not leave children behind.
            for sig in previous:
                signal.signal(sig, signal.SIG_IGN)
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if status:
            raise CommandError(status)

    def _on_signal(self, signum, frame):
        raise _Stop(signum)

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        child = subprocess.Popen(  # noqa: S603 - argv is built here, from this interpreter
            argv,
            cwd=REPO_DIR,
            # Its own session: a terminal's Ctrl-C reaches serve only, and serve stops each child
            # in order, gracefully, instead of every process receiving the signal at once.
            start_new_session=True,
            preexec_fn=_die_with_parent,  # serve starts no threads, so preexec_fn is safe
        )
        self.children[name] = child
        return child

    def _run(self, host, port, no_worker, workers, worker_concurrency) -> int | str:
        url = display_url(host, port)
        self.stdout.write(f"Mintmark (embedded default), data in {settings.DATA_DIR}")
        if not no_worker:
            worker = self._spawn("worker", worker_argv(concurrency=worker_concurrency))
            self.stdout.write(f"Started the Celery worker (pid {worker.pid}), queues gpu,gates")
        web = self._spawn("web", gunicorn_argv(host=host, port=port, workers=workers))
        self.stdout.write(f"Started gunicorn (pid {web.pid}) on {bind_address(host, port)}")

        deadline = time.monotonic() + READY_TIMEOUT_S
        announced = False
        while True:
            for name, child in self.children.items():
                code = child.poll()
                if code is not None:
                    return f"the {name} process exited with status {code}"
            if not announced:
                if _port_open(host, port):
                    self.stdout.write(self.style.SUCCESS(f"Mintmark is serving on {url}"))
                    self.stdout.write(f"API docs: {url}api/docs   Stop: Ctrl-C")
                    announced = True
                elif time.monotonic() > deadline:
                    return f"gunicorn did not listen on {bind_address(host, port)} within 60 s"
            time.sleep(0.25)

    def _stop_all(self) -> None:
        # The web server first (no new jobs are queued), then the worker, which finishes the
        # task in hand (warm shutdown) within the grace period or is killed.
        for name in ("web", "worker"):
            child = self.children.get(name)
            if child is None:
                continue
            if child.poll() is None:
                try:
                    child.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
            try:
                child.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.stderr.write(f"the {name} did not stop in {STOP_GRACE_S:.0f} s: killing it")
            # Whatever is left in its session (pool processes of a killed parent) goes too.
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            child.wait()
        self.children.clear()
