"""The one shape of every trainable method (NeRF, Gaussian splats, DVR, ...) and the one
routine that runs it: :func:`fit` = build or resume → :func:`humanrecon.training.train_loop`
→ the trained model in eval mode.

A method supplies a :class:`Trainer` subclass:

* ``__init__(split, config, *, device, generator, model=None)``: build the model from the
  config and a dataset split (or adopt ``model``, restored from a checkpoint), its
  optimiser and its training data;
* ``step(progress) -> loss``: one training step given the :class:`~humanrecon.training.Progress`;
* ``learning_rate(fraction)``, ``hooks()``, ``postfix()``: the schedule, per-step extras
  (occupancy-grid updates, densification) and progress-bar fields;
* ``state_dict()`` / ``load_state_dict(state)``: whatever else a resumed run needs to
  continue exactly (adaptive ray counts, densification statistics), as plain data.

The model (``trainer.model``) follows :class:`humanrecon.io.checkpoints.Checkpointed`
(``save(path, **extra)``, ``load(path, map_location) -> model`` in eval mode,
``restore(path, map_location) -> (model, checkpoint dict)``), renders a view with
``render_image(camera, background) -> {"rgb", "opacity"}`` and meshes with
``extract_mesh(resolution, ...) -> ExtractionResult``.

**Resume is a continuation**: a checkpoint holds the model, the optimiser (Adam's
moments), the step and elapsed time, the trainer's state and both random generators (the
trainer's and torch's global one), so a run interrupted after a checkpoint and resumed
takes the same steps as one that never stopped (tested to 1e-6 on the CPU).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import ClassVar

import torch

from humanrecon.devices import resolve_device
from humanrecon.training import Budget, Progress, TrainingHistory, TrainingHook, train_loop


def plain(value):
    """A config (dataclass, dict, list, path, ...) as plain data that a checkpoint read with
    ``weights_only=True`` can hold: dataclasses become dicts, paths strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def random_state(generator: torch.Generator) -> dict:
    """The state of ``generator`` and of torch's global CPU generator (and CUDA's, when
    initialised), for :func:`restore_random_state`."""
    state = {"generator": generator.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_random_state(state: dict, generator: torch.Generator) -> None:
    """Undo :func:`random_state`: ``generator`` and torch's global generators continue
    where they were when the state was taken."""
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def optimizer_state(optimizer: torch.optim.Optimizer) -> dict:
    """``optimizer.state_dict()`` without callables (per-group ``"schedule"`` functions),
    so a checkpoint loads with ``weights_only=True``."""
    state = optimizer.state_dict()
    state["param_groups"] = [{k: v for k, v in group.items() if not callable(v)} for group in state["param_groups"]]
    return state


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Load :func:`optimizer_state` into ``optimizer``, keeping its groups' callables
    (schedules are rebuilt from the config, never stored)."""
    callables = [{k: v for k, v in group.items() if callable(v)} for group in optimizer.param_groups]
    optimizer.load_state_dict(state)
    for group, kept in zip(optimizer.param_groups, callables):
        group.update(kept)


class Trainer:
    """Base of every method's trainer (module docstring). Subclasses set ``name`` (for the
    progress bar and messages), ``checkpoint_name`` (the file in a run folder) and
    ``model_class``, and build ``self.model``, ``self.optimizer`` and ``self.history`` in
    ``__init__``."""

    name: ClassVar[str] = "model"
    checkpoint_name: ClassVar[str] = "model.pt"
    model_class: ClassVar[type]

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    history: TrainingHistory

    def step(self, progress: Progress) -> torch.Tensor:
        """One training step: draw a batch, return the scalar loss (with a graph)."""
        raise NotImplementedError

    def learning_rate(self, fraction: float) -> float:
        """The learning rate at ``fraction`` of the budget (groups with their own
        ``"schedule"`` ignore it)."""
        raise NotImplementedError

    def hooks(self) -> list[TrainingHook]:
        """Per-step extras of this method."""
        return []

    def postfix(self) -> dict:
        """Extra progress-bar fields."""
        return {}

    def state_dict(self) -> dict:
        """What a resumed run needs beyond model, optimiser and random state (plain data
        and tensors)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Undo :meth:`state_dict`."""

    def checkpoint_extra(self) -> dict:
        """Further entries written into every checkpoint (e.g. the dataset's path)."""
        return {}


def fit(trainer_class: type[Trainer], split, out_dir: str | Path | None, config, *, resume: bool = False,
        hooks: tuple[TrainingHook, ...] | list[TrainingHook] = (), model: torch.nn.Module | None = None,
        checkpoint_name: str | None = None, **trainer_options):
    """Train ``trainer_class`` on ``split`` with ``config`` (its method's config dataclass:
    ``steps``, ``max_seconds``, ``seed``, ``device``, ``checkpoint_every``, ``progress``)
    and write checkpoints to ``out_dir / trainer_class.checkpoint_name`` (None: no
    checkpoints, the model only in memory).

    Args:
        resume: continue the run whose checkpoint is there (``MissingFileError`` naming it
            when there is none): model, optimiser, step, elapsed time, trainer state and
            random state are restored, so the run goes on as if never stopped.
        hooks: extra per-step hooks after the method's own (a callback that raises stops
            the run, keeping the checkpoints written so far).
        model: train this model (moved to the device) instead of building one (not with
            ``resume``).
        checkpoint_name: the checkpoint's file name in ``out_dir`` (default: the trainer's).
        trainer_options: further keyword arguments of the trainer.
    Returns:
        ``(model in eval mode, history of this call)``.
    Raises:
        TrainingDivergedError: the loss became NaN/inf (names the last good checkpoint).
    """
    from humanrecon.errors import InputError

    checkpoint = None if out_dir is None else Path(out_dir) / (checkpoint_name or trainer_class.checkpoint_name)
    if resume and (checkpoint is None or model is not None):
        raise InputError("resume needs the run folder (out_dir) and builds the model from its checkpoint")
    device = resolve_device(config.device)
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    saved = None
    if resume:
        model, saved = trainer_class.model_class.restore(checkpoint, map_location=device)
    trainer = trainer_class(split, config, device=device, generator=generator, model=model, **trainer_options)
    start_step, elapsed_before = 0, 0.0
    if saved is not None:
        start_step, elapsed_before = int(saved["step"]), float(saved["elapsed"])
        if "optimizer" in saved:
            load_optimizer_state(trainer.optimizer, saved["optimizer"])
        trainer.load_state_dict(saved.get("trainer", {}))
        if "random" in saved:
            restore_random_state(saved["random"], generator)

    def save(step: int, elapsed: float) -> Path:
        return trainer.model.save(checkpoint, optimizer=optimizer_state(trainer.optimizer), step=step,
                                  elapsed=elapsed, trainer=trainer.state_dict(), random=random_state(generator),
                                  config=plain(config), **trainer.checkpoint_extra())

    trainer.model.train()
    history = train_loop(trainer.step, trainer.optimizer, Budget(config.steps, config.max_seconds),
                         trainer.learning_rate, name=trainer_class.name, save=save if checkpoint else None,
                         checkpoint_every=config.checkpoint_every, hooks=[*trainer.hooks(), *hooks],
                         start_step=start_step, elapsed_before=elapsed_before,
                         last_checkpoint=checkpoint if resume else None, history=trainer.history,
                         progress=config.progress, postfix=trainer.postfix)
    return trainer.model.eval(), history
