"""Known, harmless library messages are dropped from the platform's logs (mintmark/logs.py);
everything else those loggers say still comes through."""

import logging
import subprocess
import sys
from pathlib import Path

from django.test import Client

from generation.tiny import save_tiny_pipeline

REPO = Path(__file__).resolve().parent.parent

LOAD = """
import logging, logging.config, sys
sys.path[:0] = ["platform", "."]
if sys.argv[2] == "platform":
    from mintmark.logs import structured_logging
    logging.config.dictConfig(structured_logging(json=False, level="INFO"))
from diffusers import AutoPipelineForText2Image
AutoPipelineForText2Image.from_pretrained(sys.argv[1])
logging.getLogger("diffusers.models.modeling_utils").warning("an unrelated warning")
"""


def _load_output(folder: Path, logging_setup: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", LOAD, str(folder), logging_setup],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return result.stdout + result.stderr


def test_loading_a_model_logs_no_known_noise(tmp_path):
    folder = save_tiny_pipeline(tmp_path / "tiny-sd")
    noisy = _load_output(folder, "library defaults")
    # Without the platform's logging the libraries do say these things here, so the check
    # below is not vacuous.
    assert "requires torchvision (not installed)" in noisy
    quiet = _load_output(folder, "platform")
    assert "requires torchvision" not in quiet
    # accelerate is installed (peft's LoRA loading needs it), so diffusers no longer warns of it.
    assert "accelerate" not in noisy + quiet
    assert "an unrelated warning" in quiet


def test_known_noise_filter_passes_other_records():
    from mintmark.logs import KnownNoiseFilter

    noise = KnownNoiseFilter(["harmless fragment"])
    make = logging.getLogger("x").makeRecord
    assert not noise.filter(make("x", logging.WARNING, "f", 1, "a harmless fragment", (), None))
    assert noise.filter(make("x", logging.WARNING, "f", 1, "something else", (), None))


def test_favicon_is_served(db):
    response = Client().get("/favicon.ico", follow=True)
    assert response.status_code == 200
    assert b"".join(response.streaming_content if response.streaming else [response.content])
