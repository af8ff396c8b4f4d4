"""The default model's training loop, at toy sizes on the CPU: the denoiser trains for the
planned steps and, when asked, leaves snapshots of its EMA weights that load as a diffusers
pipeline, without disturbing the weights it goes on training."""

import tarfile
import time

import pytest
import torch
from diffusers import StableDiffusionPipeline
from safetensors.torch import save_file

from defaultmodel import components, train


def _token_ids(texts: list[str]) -> torch.Tensor:
    return components.tokenizer()(
        texts, padding="max_length", max_length=components.MAX_TOKENS, return_tensors="pt"
    ).input_ids


def _unpack(folder, into):
    into.mkdir()
    data = b"".join(part.read_bytes() for part in sorted(folder.glob("bundle.tar.part*")))
    (into / "bundle.tar").write_bytes(data)
    with tarfile.open(into / "bundle.tar") as tar:
        tar.extractall(into, filter="data")
    return into


@pytest.fixture
def toy_run(tmp_path):
    torch.manual_seed(0)
    size = (components.LATENT_CHANNELS, components.LATENT_SIZE, components.LATENT_SIZE)
    mean, std = torch.randn(8, *size), torch.full((8, *size), 0.1)
    ids = _token_ids([f"{n} red circles" for n in ("one", "two", "three", "four")] * 2)
    save_file({"w": torch.zeros(1)}, tmp_path / "classifier.safetensors")
    return tmp_path, (mean, std, 1.0), ids, _token_ids([""])


def _train(toy_run, snapshot_every_s: float, snapshot=None):
    _, latents, ids, empty = toy_run
    cfg = train.Config(steps=3, batch=4, warmup=1, deadline_s=0, snapshot_every_s=snapshot_every_s)
    return train.train_denoiser(cfg, latents, ids, empty, [], time.monotonic(), snapshot=snapshot)


def test_snapshots_hold_the_ema_weights_load_as_a_pipeline_and_leave_training_alone(
    toy_run, tmp_path
):
    work = toy_run[0]
    vae, taken = components.build_vae(), []

    def snapshot(ema, step):
        taken.append(step)
        train._snapshot(work, vae, ema, step, {"unet": []}, time.monotonic())

    unet, text_encoder, steps = _train(toy_run, 1e-9, snapshot)

    assert steps == 3
    assert taken == [1, 2, 3]
    # Packed like the final bundle: parts small enough to come back from a device call.
    parts = sorted((work / "snapshot").iterdir())
    assert [p.name for p in parts] == [f"bundle.tar.part{k:02d}" for k in range(len(parts))]
    assert all(p.stat().st_size <= train.PART_BYTES for p in parts)
    unpacked = _unpack(work / "snapshot", tmp_path / "unpacked")
    assert (unpacked / "classifier.safetensors").exists()
    pipe = StableDiffusionPipeline.from_pretrained(unpacked / "model", local_files_only=True)
    # The returned modules carry the EMA weights; the last step's snapshot holds the same (the
    # UNet stored in float16).
    for saved, trained in zip(pipe.unet.parameters(), unet.parameters(), strict=True):
        torch.testing.assert_close(saved, trained.half().float())
    for saved, trained in zip(
        pipe.text_encoder.parameters(), text_encoder.parameters(), strict=True
    ):
        torch.testing.assert_close(saved, trained)
    # The same run without snapshots ends with the same weights: taking one changes nothing.
    plain_unet, plain_text_encoder, _ = _train(toy_run, 0.0, lambda *a: pytest.fail())
    for module, plain in ((unet, plain_unet), (text_encoder, plain_text_encoder)):
        for a, b in zip(module.parameters(), plain.parameters(), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not (work / "snapshot-staging").exists()


class _Clock:
    """time.monotonic for a stage whose first steps are slow (compiling) and later ones fast."""

    def __init__(self):
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


def test_a_time_budget_is_fitted_on_the_late_warm_up_steps_not_the_first_slow_ones(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(train.time, "monotonic", clock.monotonic)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    plan = train._Plan(
        optimizer, warmup=200, steps=100_000, seconds=1000.0, device=torch.device("cpu")
    )
    rates = []
    for step in range(1, 201):
        clock.now += 2.0 if step <= 60 else 0.125  # 120 s of slow steps, then 0.125 s a step
        plan.schedule.step()
        rates.append(plan.schedule.get_last_lr()[0])
        plan.after(step)
    # 200 steps took 137.5 s; the 862.5 s left hold 6 900 steps at the late rate.
    assert plan.total == 200 + 6900
    # The warm-up ramp is the same whatever the fit: no jump in the learning rate.
    assert rates == pytest.approx([min(1.0, k / 200) for k in range(1, 201)])


def test_without_a_time_budget_the_planned_steps_stand(monkeypatch):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    plan = train._Plan(optimizer, warmup=20, steps=500, seconds=0.0, device=torch.device("cpu"))
    for step in range(1, 100):
        plan.after(step)
    assert plan.total == 500
