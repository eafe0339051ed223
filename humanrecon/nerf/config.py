"""NeRF training settings: the one home of their defaults (the library and the
``humanrecon nerf`` flags both read them). Imports nothing heavy."""

from __future__ import annotations

from dataclasses import dataclass, field

from humanrecon.errors import InputError
from humanrecon.training import Budget

CHECKPOINT = "model.pt"

#: model settings per target: ``ngp`` is Instant-NGP's (2^19-row tables up to 2048³,
#: fine steps: for GPUs and large images); ``cpu`` trades resolution for steps per second
#: (2^17 rows up to 512³, coarser steps) and is what the CPU benchmark measures.
MODEL_PRESETS = {
    "ngp": {"log2_table_size": 19, "finest_resolution": 2048, "samples_per_diagonal": 1024, "grid_resolution": 128},
    "cpu": {"log2_table_size": 17, "finest_resolution": 512, "samples_per_diagonal": 384, "grid_resolution": 64},
}


@dataclass
class NerfConfig:
    """Training settings. ``max_seconds``: wall-time budget (the learning-rate schedule
    then follows the time); ``model``: :class:`NerfModel` keyword arguments (field
    settings, ``samples_per_diagonal``, ``grid_resolution``)."""

    steps: int = 20_000
    max_seconds: float | None = None
    samples_per_batch: int = 1 << 16
    initial_rays: int = 1024
    max_rays: int = 1 << 15
    lr: float = 1e-2
    lr_final_fraction: float = 0.03
    weight_decay: float = 1e-6
    grid_update_every: int = 16
    grid_warmup_steps: int = 256
    random_background: bool = True
    checkpoint_every: int = 1000
    seed: int = 0
    device: str = "cpu"
    progress: bool = True
    model: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        Budget(self.steps, self.max_seconds)  # checks steps and max_seconds
        for name in ("samples_per_batch", "initial_rays", "max_rays", "grid_update_every"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise InputError(f"the learning rate must be > 0, got {self.lr}")
