"""bench/first_run.py splits `make run`'s stamped output into the README's steps."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "first_run.py"
spec = importlib.util.spec_from_file_location("first_run", SCRIPT)
first_run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(first_run)


def test_each_step_runs_until_the_next_begins():
    lines = [
        (1.0, "python3.11 -m venv .venv"),
        (3.0, ".venv/bin/python -m pip install -r requirements.txt"),
        (50.0, "Collecting Django==5.2.19"),
        (200.0, ".venv/bin/python -m pip install --no-deps -r requirements-nodeps.txt"),
        (210.0, ".venv/bin/python manage.py migrate --noinput"),
        (220.0, ".venv/bin/python manage.py seed_demo --url http://127.0.0.1:8000/"),
        (400.0, ".venv/bin/python manage.py provenance_init"),
        (405.0, ".venv/bin/python manage.py serve --host 127.0.0.1 --port 8000"),
    ]
    assert first_run.step_times(lines, end=430.0) == {
        "venv": 2.0,
        "pip install": 197.0,
        "pip install --no-deps": 10.0,
        "migrate": 10.0,
        "seed_demo": 180.0,
        "provenance_init": 5.0,
        "serve until serving": 25.0,
    }


def test_a_skipped_step_is_left_out():
    lines = [(0.0, ".venv/bin/python manage.py migrate --noinput"), (2.0, "manage.py serve")]
    assert first_run.step_times(lines, end=5.0) == {"migrate": 2.0, "serve until serving": 3.0}
