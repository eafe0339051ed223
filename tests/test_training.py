"""The shared training loop: budget, schedule, hooks, checkpoints, resume, divergence."""

from __future__ import annotations

import pytest
import torch

from humanrecon.errors import InputError, TrainingDivergedError
from humanrecon.training import Budget, TrainingHook, cosine_decay, exponential_decay, progress_fraction, train_loop


def _problem():
    """Least squares ``min_w |A w - b|²`` with a known answer."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(32, 3, generator=gen)
    w_true = torch.tensor([1.0, -2.0, 0.5])
    weight = torch.zeros(3, requires_grad=True)
    return weight, (lambda step: ((a @ weight - a @ w_true) ** 2).mean()), w_true


class Recorder(TrainingHook):
    def __init__(self):
        self.calls = []

    def before_step(self, step):
        self.calls.append(("before", step))

    def after_step(self, step, loss):
        self.calls.append(("after", step))


def test_runs_the_budget_with_the_schedule_and_hooks():
    weight, step_fn, w_true = _problem()
    opt = torch.optim.SGD([weight], lr=0.0)
    seen_lr, hook = [], Recorder()

    seen_progress = []

    def fn(progress):
        seen_lr.append(opt.param_groups[0]["lr"])
        seen_progress.append(progress)
        return step_fn(progress)
    history = train_loop(fn, opt, Budget(200), lambda p: cosine_decay(0.1, p, 0.1), hooks=[hook], progress=False)
    assert [p.step for p in seen_progress] == list(range(200))
    assert seen_progress[100].fraction == pytest.approx(0.5)
    assert history.steps == 200 and len(history.losses) == 200
    assert seen_lr[0] == pytest.approx(0.1) and seen_lr[100] == pytest.approx(cosine_decay(0.1, 0.5, 0.1))
    torch.testing.assert_close(weight.detach(), w_true, atol=1e-3, rtol=0)  # it optimised
    assert hook.calls[:4] == [("before", 0), ("after", 0), ("before", 1), ("after", 1)]


def test_checkpoints_every_n_and_at_the_end_and_resume_continues():
    weight, step_fn, _ = _problem()
    opt = torch.optim.SGD([weight], lr=0.05)
    saved = []
    history = train_loop(step_fn, opt, Budget(10), lambda p: 0.05, save=lambda s, e: saved.append(s) or f"ck{s}",
                         checkpoint_every=4, progress=False)
    assert saved == [4, 8, 10] and history.steps == 10
    saved.clear()
    resumed = train_loop(step_fn, opt, Budget(15), lambda p: 0.05, save=lambda s, e: saved.append(s) or "ck",
                         checkpoint_every=4, start_step=10, progress=False)
    assert resumed.steps == 5 and saved == [12, 15]


def test_divergence_names_the_last_good_checkpoint_and_keeps_it():
    weight, step_fn, _ = _problem()
    opt = torch.optim.SGD([weight], lr=0.05)
    saved = {}

    def save(step, elapsed):
        saved[step] = weight.detach().clone()
        return f"run/ck_{step}.pt"

    def fn(step):
        return step_fn(step) * (float("nan") if step.step == 7 else 1.0)
    with pytest.raises(TrainingDivergedError, match=r"training toy: loss became nan at step 7; the last good checkpoint "
                                                      r"is run/ck_6\.pt"):
        train_loop(fn, opt, Budget(20), lambda p: 0.05, name="toy", save=save, checkpoint_every=3, progress=False)
    assert sorted(saved) == [3, 6]  # the bad state was never saved
    with pytest.raises(TrainingDivergedError, match="no checkpoint was written yet"):
        train_loop(lambda s: torch.tensor(float("inf"), requires_grad=True), opt, Budget(5), lambda p: 0.1,
                   progress=False)


def test_time_budget_stops_and_drives_the_schedule():
    weight, step_fn, _ = _problem()
    opt = torch.optim.SGD([weight], lr=0.0)
    history = train_loop(step_fn, opt, Budget(10**9, max_seconds=1e-9), lambda p: 0.1, progress=False)
    assert history.steps == 0  # the budget was spent before the first step
    assert progress_fraction(10, 100, elapsed=5.0, max_seconds=10.0) == 0.5
    assert progress_fraction(90, 100, elapsed=5.0, max_seconds=10.0) == 0.9
    assert exponential_decay(1.0, 1.0, 0.03) == pytest.approx(0.03)


@pytest.mark.parametrize("steps, seconds", [(0, None), (-5, None), (10, 0.0), (10, -1.0)])
def test_bad_budgets_are_refused(steps, seconds):
    with pytest.raises(InputError):
        Budget(steps, seconds)


def test_a_parameter_group_may_carry_its_own_schedule():
    weight, step_fn, _ = _problem()
    other = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([{"params": [weight]}, {"params": [other], "schedule": lambda p: 1.0 - p}], lr=0.0)
    seen = []

    def fn(step):
        seen.append((opt.param_groups[0]["lr"], opt.param_groups[1]["lr"]))
        return step_fn(step) + other.sum() * 0
    train_loop(fn, opt, Budget(4), lambda p: 0.01, progress=False)
    assert seen == [(0.01, 1.0), (0.01, 0.75), (0.01, 0.5), (0.01, 0.25)]
