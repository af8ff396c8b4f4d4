"""bench/unet_kernels.py runs on the CPU with the tiny pipeline (its --smoke mode), so the script
behind the kernel figures in bench/README.md is itself tested: it finds every attention call,
times each on the backends the machine has, and classifies the kernel time it profiles."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from generation.tiny import tiny_sd_pipeline

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def smoke_run(out: Path) -> dict:
    command = [sys.executable, "bench/unet_kernels.py", "--smoke", "--out", str(out)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads((out / "results.json").read_text())
    assert data["errors"] == {}
    return data["stages"]


# One test, so that the smoke run (seconds alone, much more beside the suite) runs once and not
# on each xdist process.
def test_smoke_run_times_every_attention_call_and_classifies_kernel_time(tmp_path):
    results = smoke_run(tmp_path)
    attention_layers = len(tiny_sd_pipeline(0).unet.attn_processors)
    rows = results["attention_shapes"]
    assert sum(row["calls_per_step"] for row in rows) == attention_layers
    batch = results["setup"]["unet_batch"]
    assert {row["shape"][0] for row in rows} == {batch}
    # A CPU has no cuDNN attention: that backend is recorded as unable, not as a failure.
    assert all(row["cudnn"] is None and row["flash"]["tflops"] > 0 for row in rows)

    assert results["setup"]["unet_tflop_per_call"] > 0
    eager = results["eager"]
    assert set(eager) == {"default", "flash", "cudnn", "efficient", "default, cuDNN autotune"}
    assert all(row["step_s"] > 0 for row in eager.values())
    shares = eager["default"]["kernels"]["share_pct"]
    assert sum(shares.values()) == pytest.approx(100, abs=0.5)
    assert shares["convolution"] > 0 and shares["attention"] > 0 and shares["matmul"] > 0
    assert set(results["vae_decode"]) == {
        "images",
        "fp16_s",
        "fp16, cuDNN autotune_s",
        "fp32 (upcast)_s",
    }
    assert "compiled" not in results  # a smoke run does not compile
