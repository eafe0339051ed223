"""Implicit-shape settings: the one home of their defaults (the library and the
``humanrecon implicit`` flags both read them). Imports nothing heavy."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from humanrecon.config_checks import check_count
from humanrecon.errors import InputError
from humanrecon.training import Budget, cosine_decay

#: ground-truth points sampled once from a mesh to train occupancy / DeepSDF on
POOL_POINTS = 300_000
#: the checkpoint file of a run folder (``humanrecon implicit train --out RUN``)
CHECKPOINT = "shape.pt"
#: the kinds of single shape: occupancy network, DeepSDF (from a mesh) / IGR (from points)
KINDS = ("occ", "sdf")


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

    def __post_init__(self) -> None:
        for name in ("hidden", "layers", "blocks"):
            check_count(self, name, 1)
        check_count(self, "frequencies", 0)


@dataclass
class TrainConfig:
    """Training-loop settings. ``checkpoint``: where :func:`humanrecon.implicit.train.optimize`
    saves (None: nowhere; single-shape fits write ``CHECKPOINT`` into their run folder
    instead). ``device``: ``auto`` (CUDA when present), ``cpu``, ``cuda[:N]``."""

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
    device: str = "auto"

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


@dataclass
class ShapeConfig(TrainConfig):
    """A single-shape fit from a mesh or a point cloud (``humanrecon implicit train``,
    ``pipeline.run("implicit", ...)``): the training settings plus

    * ``kind``: ``"occ"`` (occupancy network; needs a watertight mesh) or ``"sdf"``
      (DeepSDF from a mesh, IGR from a point cloud);
    * ``network``: a :class:`NetworkConfig` (or a dict of its fields);
    * ``pool_points``: ground-truth points sampled once from a mesh;
    * ``use_normals``: IGR uses the point cloud's normals; ``repair``: try to close a
      mesh that is not watertight;
    * ``eval_resolution``: cells per axis of the mesh the run is scored with (against
      the source mesh; 0: no evaluation); ``eval_points``: surface samples of each mesh
      for the metrics.
    """

    kind: str = "sdf"
    network: NetworkConfig = field(default_factory=NetworkConfig)
    pool_points: int = POOL_POINTS
    use_normals: bool = False
    repair: bool = False
    eval_resolution: int = 128
    eval_points: int = 100_000

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.kind not in KINDS:
            raise InputError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if isinstance(self.network, dict):
            self.network = NetworkConfig(**self.network)
        check_count(self, "pool_points", 1)
        check_count(self, "eval_resolution", 0)
        check_count(self, "eval_points", 100)
