"""The deployment files and the README agree with the code: docker-compose.yml sets only settings
that settings.py reads, the README starts with its two commands, and documents every setting and
every management command that exists (and none that does not). There is no Docker engine in the
test environment, so the compose file is checked by reading it."""

import ast
import json
import os
import re
import secrets
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.core.management import BaseCommand, get_commands, load_command_class

REPO = Path(__file__).resolve().parent.parent
SETTINGS = REPO / "platform" / "mintmark" / "settings.py"
README = REPO / "README.md"
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"

ENV_HELPERS = {"env_str", "env_bool", "env_int", "env_list", "env_secret", "env_paths"}
OUR_APPS = {
    "mintmark",
    "orgs",
    "policies",
    "licensing",
    "audit",
    "portal",
    "generation",
    "moderation",
    "provenance",
}
DOCUMENTED_COMMANDS = {
    "create_org",
    "seed_demo",
    "import_dataset",
    "register_model",
    "audit_verify",
    "audit_export",
    "worker",
    "serve",
}
BUCKETS = ("default", "quarantine", "release", "datasets")
FIRST_LINES = (
    "make run    # sets up and runs the platform on the embedded default: SQLite, "
    "filesystem broker, a real worker, demo org",
    "make test   # sets up and runs the tests",
)


class SettingsEnv:
    """The environment variables settings.py reads, found in its source: names given to the
    env_* helpers (or os.environ), which of them are secrets (NAME or NAME_FILE), and the
    prefixes of names built at run time (f"MINTMARK_S3_BUCKET_{name.upper()}")."""

    def __init__(self, source: str) -> None:
        self.names: set[str] = set()
        self.secrets: set[str] = set()
        self.prefixes: set[str] = set()
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            helper = func.id if isinstance(func, ast.Name) else None
            from_os = isinstance(func, ast.Attribute) and func.attr in {"get", "getenv"}
            if helper not in ENV_HELPERS and not from_os:
                continue
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                if from_os and not arg.value.isupper():
                    continue
                self.names.add(arg.value)
                if helper == "env_secret":
                    self.secrets.add(arg.value)
            elif isinstance(arg, ast.JoinedStr) and helper:
                head = arg.values[0]
                assert isinstance(head, ast.Constant), ast.unparse(arg)
                self.prefixes.add(head.value)

    def reads(self, name: str) -> bool:
        if name in self.names:
            return True
        if name.endswith("_FILE") and name.removesuffix("_FILE") in self.secrets:
            return True
        return any(name.startswith(prefix) for prefix in self.prefixes)


@pytest.fixture(scope="module")
def settings_env() -> SettingsEnv:
    return SettingsEnv(SETTINGS.read_text())


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def readme() -> str:
    return README.read_text()


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: str(value) for key, value in env.items()}


def _command(service: dict) -> list[str]:
    command = service.get("command") or []
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def _app_services(compose: dict) -> dict[str, dict]:
    """The services that run Mintmark's own image."""
    return {name: svc for name, svc in compose["services"].items() if "build" in svc}


def test_settings_env_finds_the_names_settings_reads(settings_env):
    # Guards the parser above: if it found nothing, every test below would pass vacuously.
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "MINTMARK_DATA_DIR", "MINTMARK_STORAGE"):
        assert name in settings_env.names
    assert "MINTMARK_SECRET_KEY" in settings_env.secrets
    assert settings_env.reads("MINTMARK_SECRET_KEY_FILE")
    assert settings_env.reads("MINTMARK_S3_BUCKET_RELEASE")
    assert not settings_env.reads("MINTMARK_NO_SUCH_SETTING")


# docker-compose.yml


def test_compose_has_the_production_services(compose):
    services = compose["services"]
    for name in ("web", "worker-gates", "worker-gpu", "postgres", "redis", "minio"):
        assert name in services, name
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["redis"]["image"].startswith("redis:7")
    assert services["minio"]["image"].startswith("minio/minio")


def test_the_web_server_is_asgi_everywhere(compose):
    """compose's web, the image's default command and `manage.py serve` run one server: gunicorn
    with Mintmark's uvicorn worker class and the ASGI application (an event stream holds no
    thread), and compose's web keeps no database connection between requests (Django's advice
    under ASGI: each request's sync code runs in a thread of its own)."""
    from mintmark.management.commands.serve import gunicorn_argv

    def app_and_worker(argv: list[str]) -> tuple[str, str]:
        assert "gunicorn" in argv, argv
        app = next(part for part in argv if part.endswith(":application"))
        return app, argv[argv.index("--worker-class") + 1]

    served = app_and_worker(gunicorn_argv(host="127.0.0.1", port=8000, workers=2))
    assert served == ("mintmark.asgi:application", "mintmark.asgi_worker.WebWorker")
    web = compose["services"]["web"]
    assert app_and_worker(_command(web)) == served
    cmd = re.search(r"^CMD (\[.*\])$", DOCKERFILE.read_text(), re.MULTILINE)
    assert app_and_worker(json.loads(cmd.group(1))) == served
    assert _environment(web)["MINTMARK_DB_CONN_MAX_AGE"] == "0"
    assert "--threads" not in _command(web)


def test_compose_workers_run_the_worker_command_on_their_queues(compose):
    from mintmark.management.commands.worker import Command

    parser = Command().create_parser("manage.py", "worker")
    expected = {"worker-gates": ("gates", None), "worker-gpu": ("gpu", 1)}
    for name, (queues, concurrency) in expected.items():
        argv = _command(compose["services"][name])
        assert argv[:3] == ["python", "manage.py", "worker"], argv
        options = parser.parse_args(argv[3:])
        assert options.queues == queues
        if concurrency is not None:
            assert options.concurrency == concurrency


def test_compose_gpu_worker_reserves_one_nvidia_gpu(compose):
    devices = compose["services"]["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    # Only the GPU worker holds a GPU.
    for name, service in compose["services"].items():
        if name != "worker-gpu":
            assert "devices" not in str(service.get("deploy", {})), name


def test_compose_migrates_and_creates_buckets_before_the_platform_starts(compose):
    services = compose["services"]
    migrate = services["migrate"]
    assert "migrate" in _command(migrate) or "migrate" in " ".join(_command(migrate))
    # The prompt classifier is built once into the shared volume's cache, before the web and
    # worker processes start (each would otherwise fit it at once after an upgrade).
    assert "manage.py prompt_gate_load" in " ".join(_command(migrate))
    buckets = [name for name, svc in services.items() if "minio/mc" in str(svc.get("image"))]
    assert len(buckets) == 1, "one one-shot minio/mc service creates the buckets"
    script = " ".join(_command(services[buckets[0]])) + str(services[buckets[0]].get("entrypoint"))
    for bucket in BUCKETS:
        assert f"mintmark-{bucket}" in script, bucket
    for name in ("web", "worker-gates", "worker-gpu"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends[buckets[0]]["condition"] == "service_completed_successfully", name


def test_compose_bucket_names_are_the_settings_defaults(settings_env):
    source = SETTINGS.read_text()
    assert 'f"mintmark-{name}"' in source
    assert "MINTMARK_S3_BUCKET_" in settings_env.prefixes
    for bucket in BUCKETS:
        assert f'"{bucket}"' in source


def test_compose_long_running_services_have_healthchecks(compose):
    for name, service in compose["services"].items():
        if service.get("restart") == "no":
            continue  # one-shot steps
        assert "healthcheck" in service, name
        assert service["healthcheck"]["test"], name


def test_compose_app_services_set_only_settings_that_exist(compose, settings_env):
    apps = _app_services(compose)
    assert {"web", "worker-gates", "worker-gpu", "migrate"} <= set(apps)
    for name, service in apps.items():
        env = _environment(service)
        unknown = sorted(key for key in env if not settings_env.reads(key))
        assert unknown == [], f"{name} sets variables settings.py never reads: {unknown}"
        assert env["MINTMARK_STORAGE"] == "s3", name
        assert env["DATABASE_URL"].startswith("postgres://"), name
        assert "@postgres:5432/" in env["DATABASE_URL"], name
        assert env["CELERY_BROKER_URL"].startswith("redis://redis:6379/"), name
        assert env["MINTMARK_S3_ENDPOINT_URL"] == "http://minio:9000", name
        assert "MINTMARK_ALLOWED_HOSTS" in env, name


def test_compose_secrets_are_files_the_services_mount(compose):
    declared = set(compose.get("secrets", {}))
    for name, service in _app_services(compose).items():
        mounted = {s if isinstance(s, str) else s["source"] for s in service.get("secrets", [])}
        assert mounted <= declared, name
        for key, value in _environment(service).items():
            if key.endswith("_FILE"):
                assert value.startswith("/run/secrets/"), (name, key)
                assert value.removeprefix("/run/secrets/") in mounted, (name, key)
        assert "MINTMARK_SECRET_KEY_FILE" in _environment(service) or (
            "MINTMARK_SECRET_KEY" in _environment(service)
        ), name


def _interpolated(value: str) -> str:
    """A compose value as `docker compose` reads it with an empty .env: ${NAME:-default} is
    the default, ${NAME} is empty."""
    return re.sub(r"\$\{(\w+)(?::?-([^}]*))?\}", lambda m: m[2] or "", value)


def test_deploy_check_is_clean_with_the_compose_environment(compose, tmp_path):
    """`manage.py check --deploy` warns about nothing (HTTPS cookies, redirect, HSTS, secret
    key, DEBUG, hosts) when run with the web service's environment. The secrets become files
    of this test and the data folder a temporary one; the check connects to no database."""
    env = {
        key: _interpolated(value) for key, value in _environment(compose["services"]["web"]).items()
    }
    for key, value in env.items():
        if value.startswith("/run/secrets/"):
            secret = tmp_path / value.removeprefix("/run/secrets/")
            secret.write_text(secrets.token_urlsafe(50))
            env[key] = str(secret)
    env["MINTMARK_DATA_DIR"] = str(tmp_path / "data")
    assert env["MINTMARK_HTTPS"] == "true"
    base = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output


def test_dockerfile_installs_the_pinned_requirements():
    text = DOCKERFILE.read_text()
    assert "requirements.txt" in text
    assert "--no-deps -r requirements-nodeps.txt" in text
    assert re.search(r"^FROM python:3\.11", text, re.MULTILINE)
    ignored = (REPO / ".dockerignore").read_text().split()
    assert ".venv" in ignored and "var" in ignored


# README.md


def test_readme_starts_with_the_two_commands(readme):
    lines = [line.rstrip() for line in readme.splitlines() if line.strip()]
    assert tuple(lines[:2]) == FIRST_LINES


def test_readme_documents_every_setting(readme, settings_env):
    missing = sorted(name for name in settings_env.names if name not in readme)
    assert missing == [], f"settings.py reads these, README.md does not document them: {missing}"
    for name in settings_env.secrets:
        assert f"{name}_FILE" in readme or f"{name}(_FILE)" in readme, name
    for prefix in settings_env.prefixes:
        assert prefix in readme, prefix


def _readme_commands(readme: str) -> set[str]:
    return set(re.findall(r"manage\.py ([a-z][a-z0-9_]*)", readme))


def test_every_command_the_readme_shows_exists(readme):
    shown = _readme_commands(readme)
    assert shown >= DOCUMENTED_COMMANDS, sorted(DOCUMENTED_COMMANDS - shown)
    missing = sorted(shown - set(get_commands()))
    assert missing == [], f"README.md shows commands that do not exist: {missing}"


def test_every_command_of_ours_is_in_the_readme(readme):
    ours = {name for name, app in get_commands().items() if app.split(".")[-1] in OUR_APPS}
    undocumented = sorted(ours - _readme_commands(readme))
    assert undocumented == [], f"document these in README.md: {undocumented}"


def _long_options(command) -> set[str]:
    parser = command.create_parser("manage.py", "x")
    return {opt for action in parser._actions for opt in action.option_strings if opt[:2] == "--"}


def test_the_readme_names_each_commands_options(readme):
    """Each documented command's own options appear in the README (a renamed option must be
    renamed in the docs too)."""
    commands = get_commands()
    common = _long_options(BaseCommand())
    for name in sorted(DOCUMENTED_COMMANDS & set(commands)):
        own = _long_options(load_command_class(commands[name], name)) - common
        missing = sorted(option for option in own if option not in readme)
        assert missing == [], f"README.md does not mention {name} {missing}"


# Metrics: deploy/ (Prometheus, Grafana) and the compose services that use it


DEPLOY = REPO / "deploy"


def _exported_samples() -> set[str]:
    """The sample names GET /metrics serves: the recorded metrics by type, and the gauges read
    at scrape time."""
    from mintmark import metrics
    from mintmark.metrics_view import StateCollector

    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    names = {
        family.name + suffix
        for metric in metrics.RECORDED
        for family in metric.describe()
        for suffix in suffixes[family.type]
    }
    return names | {family.name for family in StateCollector().collect()}


def test_the_dashboard_charts_every_metric_the_app_exports(db, compose):
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "mintmark.json").read_text())
    exported = _exported_samples()
    assert {"mintmark_jobs_entered_total", "mintmark_queue_depth", "mintmark_jobs"} <= exported
    source = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"][0]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    charted = set()
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == source["uid"], panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = set(re.findall(r"\bmintmark_[a-z0-9_]+", target["expr"]))
            assert names, target["expr"]
            assert names <= exported, (panel["title"], sorted(names - exported))
            charted |= names
    families = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in exported}
    missing = {f for f in families if not any(name.startswith(f) for name in charted)}
    assert missing == set(), f"no panel charts {sorted(missing)}"
    # Compose's Grafana mounts the provisioning and the folder its dashboard provider reads.
    grafana = compose["services"]["grafana"]
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "mintmark.yml").read_text()
    )["providers"][0]
    mounts = dict(volume.rsplit(":", 2)[:2] for volume in grafana["volumes"] if ":ro" in volume)
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]


def test_prometheus_scrapes_the_web_services_metrics_with_the_token(compose):
    from django.urls import resolve

    from mintmark.metrics_view import metrics_endpoint

    services = compose["services"]
    prometheus = services["prometheus"]
    config_path = next(
        arg.split("=", 1)[1] for arg in prometheus["command"] if arg.startswith("--config.file=")
    )
    mounted = dict(volume.split(":")[:2] for volume in prometheus["volumes"])
    assert mounted["./deploy/prometheus/prometheus.yml"] == config_path
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "mintmark"]
    assert resolve(job["metrics_path"]).func is metrics_endpoint
    (target,) = job["static_configs"][0]["targets"]
    host, port = target.split(":")
    web = services[host]
    argv = _command(web)
    assert argv[argv.index("--bind") + 1] == f"0.0.0.0:{port}"
    env = {key: _interpolated(value) for key, value in _environment(web).items()}
    assert host in env["MINTMARK_ALLOWED_HOSTS"].split(","), "Django would refuse the scraper"
    # The scraper sends the token every app service reads, from the same Docker secret.
    auth = job["authorization"]
    assert auth["type"] == "Bearer" and job.get("scheme", "http") == "http"
    secret = auth["credentials_file"].removeprefix("/run/secrets/")
    assert secret in prometheus["secrets"] and secret in compose["secrets"]
    for name, service in _app_services(compose).items():
        env = _environment(service)
        assert env["MINTMARK_METRICS_TOKEN_FILE"] == f"/run/secrets/{secret}", name
        # One metrics folder for all of them, on the volume they share.
        assert env["MINTMARK_METRICS_DIR"].startswith(env["MINTMARK_DATA_DIR"] + "/"), name
        assert f"mintmark-data:{env['MINTMARK_DATA_DIR']}" in service["volumes"], name


def test_compose_runs_flower_from_the_pinned_requirements(compose):
    flower = compose["services"]["flower"]
    script = " ".join(_command(flower))
    assert "celery --workdir /app/platform --app mintmark flower" in script
    assert "--basic-auth=" in script and "/run/secrets/flower_password" in script
    assert "flower_password" in flower["secrets"]
    assert flower["ports"] == ["127.0.0.1:5555:5555"]
    pins = (REPO / "requirements.txt").read_text().splitlines()
    for package in ("flower", "prometheus-client"):
        assert any(re.fullmatch(rf"{package}==[\d.]+", line) for line in pins), package
    for name in ("prometheus", "grafana"):
        assert all(port.startswith("127.0.0.1:") for port in compose["services"][name]["ports"])
