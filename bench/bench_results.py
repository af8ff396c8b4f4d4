"""What every bench writes: timestamped progress lines, and results.json saved after each stage,
with a failed stage's traceback recorded while the other stages still run. Standard library
only, so a light orchestrator (platform_gpu.py) shares it with the GPU benches."""

import json
import time
import traceback
from contextlib import contextmanager
from pathlib import Path


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class Results:
    def __init__(self, out: Path, env: dict):
        self.out = out
        self.data = {"env": env, "stages": {}, "errors": {}}
        out.mkdir(parents=True, exist_ok=True)

    def put(self, stage: str, value) -> None:
        self.data["stages"][stage] = value
        self.save()

    @contextmanager
    def guarded(self, stage: str):
        """Records a stage that fails and goes on with the next one."""
        try:
            yield
        except Exception:  # noqa: BLE001 - a failed stage is recorded; the others still run
            self.data["errors"][stage] = traceback.format_exc()[-3000:]
            log(f"{stage} failed:\n{self.data['errors'][stage]}")
            self.save()

    def save(self) -> None:
        (self.out / "results.json").write_text(json.dumps(self.data, indent=2, default=str))
