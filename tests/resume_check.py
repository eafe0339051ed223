"""One check for every trainer: a run interrupted after a checkpoint and resumed takes the
same steps as one that never stopped (the same weights and optimiser state to 1e-6)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from humanrecon.training import TrainingHook


class Interrupted(Exception):
    """Raised by :class:`InterruptAt`: the run stops as a killed job would."""


class InterruptAt(TrainingHook):
    """Stop the run just before step ``step`` (after the checkpoint of the step before)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def before_step(self, step: int) -> None:
        if step == self.step:
            raise Interrupted(f"interrupted before step {step}")


def _assert_close_states(a, b, what: str) -> None:
    if torch.is_tensor(a):
        assert torch.is_tensor(b) and a.shape == b.shape, what
        if a.is_floating_point():
            torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6, msg=lambda m: f"{what}: {m}")
        else:
            assert torch.equal(a, b), what
    elif isinstance(a, dict):
        assert set(a) == set(b), f"{what}: keys {sorted(map(str, a))} vs {sorted(map(str, b))}"
        for key in a:
            _assert_close_states(a[key], b[key], f"{what}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), what
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_close_states(x, y, f"{what}[{i}]")
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-6, abs=1e-6), what
    else:
        assert a == b, f"{what}: {a!r} != {b!r}"


def assert_resume_equals_uninterrupted(train, split, config, checkpoint: str, tmp_path: Path, **options) -> None:
    """``train(split, out_dir, config, resume=..., hooks=..., **options) -> (model, history)``
    run for ``config.steps`` steps in one go, and interrupted at half (checkpoint there) then
    resumed, give the same model weights, optimiser state and trainer state."""
    steps = config.steps
    config = dataclasses.replace(config, checkpoint_every=steps // 2)
    whole, _ = train(split, tmp_path / "whole", config, **options)
    with pytest.raises(Interrupted):
        train(split, tmp_path / "cut", config, hooks=[InterruptAt(steps // 2)], **options)
    saved = torch.load(tmp_path / "cut" / checkpoint, weights_only=True)
    assert saved["step"] == steps // 2
    resumed, history = train(split, tmp_path / "cut", config, resume=True, **options)
    assert history.steps == steps - steps // 2
    _assert_close_states(whole.state_dict(), resumed.state_dict(), "weights")
    a = torch.load(tmp_path / "whole" / checkpoint, weights_only=True)
    b = torch.load(tmp_path / "cut" / checkpoint, weights_only=True)
    assert a["step"] == b["step"] == steps
    _assert_close_states(a["optimizer"], b["optimizer"], "optimizer")
    _assert_close_states(a["trainer"], b["trainer"], "trainer state")
