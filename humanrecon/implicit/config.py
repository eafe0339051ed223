"""Implicit-shape settings: the one home of their defaults (the library and the
``humanrecon implicit`` flags both read them). Imports nothing heavy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from humanrecon.errors import InputError
from humanrecon.training import Budget, cosine_decay

#: ground-truth points sampled once from a mesh to train occupancy / DeepSDF on
POOL_POINTS = 300_000


@dataclass
class NetworkConfig:
    """Network size of a single-shape fit (the keys :func:`humanrecon.implicit.train.build_shape`
    reads from its settings dict)."""

    #: hidden width of every network
    hidden: int = 256
    #: hidden layers of the DeepSDF / IGR MLP
    layers: int = 6
    #: ResNet blocks of the occupancy network
    blocks: int = 3
    #: Fourier-feature frequencies (0: raw xyz)
    frequencies: int = 0


@dataclass
class TrainConfig:
    """Training-loop settings. ``checkpoint``: where to save (None: nowhere)."""

    steps: int = 3000
    batch_points: int = 8192
    lr: float = 1e-3
    lr_final_fraction: float = 0.05
    seed: int = 0
    checkpoint: Path | None = None
    checkpoint_every: int = 500
    progress: bool = True
    #: wall-time budget: stop (before the next step) once spent; the cosine schedule then
    #: follows the larger of the step and the time fraction, so it still ends annealed
    max_seconds: float | None = None

    def __post_init__(self) -> None:
        self.budget  # checks steps and max_seconds
        if self.batch_points < 1 or self.checkpoint_every < 1:
            raise InputError(f"batch_points and checkpoint_every must be >= 1, got {self.batch_points} "
                             f"and {self.checkpoint_every}")
        if not self.lr > 0:
            raise InputError(f"the learning rate must be > 0, got {self.lr}")

    @property
    def budget(self) -> Budget:
        """The steps / wall-time budget of the run."""
        return Budget(self.steps, self.max_seconds)

    def learning_rate(self, progress: float) -> float:
        """Cosine decay from ``lr`` to ``lr_final_fraction · lr`` as training ``progress``
        goes from 0 to 1 (:meth:`humanrecon.training.Budget.progress`: steps or time,
        whichever runs out first)."""
        return cosine_decay(self.lr, progress, self.lr_final_fraction)
