"""The one training loop of humanrecon, shared by every trainer (implicit shapes, NeRF,
and every trainer added later), and its learning-rate schedules.

The contract: a trainer supplies ``step_fn(progress) -> loss`` (draw a batch, run the
model, return a scalar loss tensor; ``progress`` is a :class:`Progress`: the step and the
fraction of the budget spent, so step-dependent schedules need no side channel), an
optimiser, a schedule and optional hooks; the loop owns everything around that, the same
way everywhere:

* a budget of steps and/or wall-clock seconds (checked before each step); the schedule
  follows whichever runs out first, so a time-budgeted run still ends annealed;
* the learning rate of every parameter group set before each step;
* a tqdm progress bar;
* checkpoints every ``checkpoint_every`` steps and at the end, through the trainer's
  ``save(step, elapsed)``; a run can resume from ``start_step``/``elapsed_before``;
* a divergence guard: a NaN/inf loss raises :class:`TrainingDivergedError` naming the
  step and the last good checkpoint (never overwritten by the bad state);
* hooks (:class:`TrainingHook`) for per-step extras: NeRF's occupancy-grid update,
  densification strategies of point-based models, ...

In the spirit of gsplat's strategy objects: the loop knows nothing of the model.

Imports nothing heavy at module level (torch and tqdm load when a loop runs), so config
dataclasses can build on it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from humanrecon.errors import InputError, TrainingDivergedError

if TYPE_CHECKING:
    import torch


# --------------------------------------------------------------------------- schedules
def progress_fraction(step: int, steps: int, elapsed: float = 0.0, max_seconds: float | None = None) -> float:
    """How far training is, in ``[0, 1]``: ``step / steps``, or ``elapsed / max_seconds``
    (seconds) when a time budget is set and that fraction is larger."""
    done = step / max(steps, 1)
    if max_seconds:
        done = max(done, elapsed / max_seconds)
    return min(done, 1.0)


def cosine_decay(base: float, progress: float, final_fraction: float) -> float:
    """Cosine from ``base`` at progress 0 to ``final_fraction · base`` at progress 1."""
    return base * (final_fraction + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * progress)))


def exponential_decay(base: float, progress: float, final_fraction: float) -> float:
    """Geometric from ``base`` at progress 0 to ``final_fraction · base`` at progress 1
    (Instant-NGP / nerfacc style)."""
    return base * final_fraction ** progress


# --------------------------------------------------------------------------- the loop
@dataclass(frozen=True)
class Progress:
    """Where a run is when a step starts: ``step`` (0-based, counting a resumed run's
    earlier steps) and ``fraction`` of the budget spent, in ``[0, 1]`` (steps or wall time,
    whichever runs out first: :meth:`Budget.progress`)."""

    step: int
    fraction: float


class TrainingHook:
    """Per-step extras of a trainer; override what you need (both default to nothing)."""

    def before_step(self, step: int) -> None:
        """Called after the learning rate is set, before ``step_fn(step)``."""

    def after_step(self, step: int, loss: float) -> None:
        """Called after the optimiser step with the step's finite loss."""


@dataclass
class TrainingHistory:
    """What one run of :func:`train_loop` did: per-step ``losses`` and wall ``seconds``
    (this run only, not counting a resumed run's earlier time)."""

    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def steps(self) -> int:
        """Steps run by this call."""
        return len(self.losses)


@dataclass
class Budget:
    """How long to train: up to ``steps`` steps (counted from 0, including a resumed run's
    earlier steps) and, if set, ``max_seconds`` of wall time (ditto)."""

    steps: int
    max_seconds: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.steps, int) or self.steps < 1:
            raise InputError(f"the number of training steps must be a positive integer, got {self.steps!r}")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise InputError(f"the time budget must be > 0 seconds, got {self.max_seconds!r}")

    def progress(self, step: int, elapsed: float) -> float:
        """:func:`progress_fraction` of this budget."""
        return progress_fraction(step, self.steps, elapsed, self.max_seconds)


def train_loop(step_fn: Callable[[Progress], "torch.Tensor"], optimizer, budget: Budget,
               learning_rate: Callable[[float], float], *, name: str = "training",
               save: Callable[[int, float], Path] | None = None, checkpoint_every: int = 0,
               hooks: Sequence[TrainingHook] = (), start_step: int = 0, elapsed_before: float = 0.0,
               last_checkpoint: Path | None = None, history: TrainingHistory | None = None,
               progress: bool = True, postfix: Callable[[], dict] | None = None,
               postfix_every: int = 25) -> TrainingHistory:
    """Run ``step_fn`` from ``start_step`` until the budget is spent.

    Args:
        step_fn: ``progress -> loss`` (a :class:`Progress`; the loss a scalar tensor with
            a graph); the loop zeroes the gradients before and calls ``backward()`` and
            ``optimizer.step()`` after.
        optimizer: any ``torch.optim`` optimiser; every group's ``lr`` is set each step.
        budget: steps and optional wall-time budget.
        learning_rate: ``progress in [0, 1] -> lr`` (see :meth:`Budget.progress`) for every
            parameter group, except groups that carry their own ``"schedule"`` callable
            (same signature; e.g. Gaussian splatting's per-parameter rates).
        name: what is trained, for the progress bar and error messages.
        save: ``(steps done, elapsed seconds) -> checkpoint path``; called every
            ``checkpoint_every`` steps (0: never in between) and once at the end.
        hooks: per-step extras, called in order (an exception a hook raises stops the
            run; the checkpoints written so far stay as they are).
        start_step, elapsed_before: where a resumed run continues (steps, seconds).
        last_checkpoint: a checkpoint already on disk (a resumed run's), named if the
            loss diverges before the first new one is written.
        history: a (subclass of) :class:`TrainingHistory` to append to.
        progress: show a tqdm bar; ``postfix() -> dict`` adds to it every ``postfix_every`` steps.
    Returns:
        the history of this call (``seconds``: its wall time).
    Raises:
        TrainingDivergedError: the loss became NaN/inf; names the step and the last good
            checkpoint, which is left as it was.
    """
    import torch
    from tqdm.auto import tqdm

    history = history if history is not None else TrainingHistory()
    last_good = last_checkpoint
    start = time.perf_counter()
    bar = tqdm(range(start_step, budget.steps), desc=f"train {name}", disable=not progress,
               initial=start_step, total=budget.steps, leave=False)
    for step in bar:
        elapsed = elapsed_before + time.perf_counter() - start
        if budget.max_seconds is not None and elapsed > budget.max_seconds:
            break
        done = budget.progress(step, elapsed)
        lr = learning_rate(done)
        for group in optimizer.param_groups:  # a group may carry its own schedule
            group["lr"] = group["schedule"](done) if "schedule" in group else lr
        for hook in hooks:
            hook.before_step(step)
        optimizer.zero_grad(set_to_none=True)
        loss = step_fn(Progress(step, done))
        if not torch.isfinite(loss):
            where = f"the last good checkpoint is {last_good}" if last_good else "no checkpoint was written yet"
            raise TrainingDivergedError(f"training {name}: loss became {loss.item()} at step {step}; {where}")
        loss.backward()
        optimizer.step()
        value = loss.item()
        history.losses.append(value)
        for hook in hooks:
            hook.after_step(step, value)
        if progress and step % postfix_every == 0:
            bar.set_postfix(loss=f"{value:.4g}", **(postfix() if postfix else {}))
        if save is not None and checkpoint_every and (step + 1) % checkpoint_every == 0:
            last_good = save(step + 1, elapsed_before + time.perf_counter() - start)
    history.seconds = time.perf_counter() - start
    if save is not None:
        save(start_step + history.steps, elapsed_before + history.seconds)
    return history
