"""The webhook receiver process (receiver.py) each test that needs one gets."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.webhooks.webhook_support import Receiver

RECEIVER = Path(__file__).with_name("receiver.py")


@pytest.fixture
def receiver(tmp_path):
    folder = tmp_path / "receiver"
    folder.mkdir()
    (folder / "program.json").write_text("{}")
    process = subprocess.Popen(
        [sys.executable, str(RECEIVER), str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=(folder / "stderr").open("w"),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (folder / "port").exists():
            assert process.poll() is None, (folder / "stderr").read_text()
            assert time.monotonic() < deadline, "the receiver did not start within 30 s"
            time.sleep(0.05)
        yield Receiver(folder, int((folder / "port").read_text()))
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
