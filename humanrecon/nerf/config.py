"""NeRF training settings: the one home of their defaults (the library and the
``humanrecon nerf`` flags both read them). Imports nothing heavy."""

from __future__ import annotations

from dataclasses import dataclass, field

from humanrecon.errors import InputError
from humanrecon.training import Budget

CHECKPOINT = "model.pt"
#: keys of :attr:`NerfConfig.model`: the NeRF model's settings (its field's and marching's)
MODEL_KEYS = frozenset({"levels", "features_per_level", "log2_table_size", "base_resolution", "finest_resolution",
                        "hidden", "geo_features", "sh_degree", "color_layers", "density_bias", "samples_per_diagonal",
                        "grid_resolution", "transmittance_threshold"})

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
    then follows the time); ``device``: ``"auto"`` (CUDA when present), ``"cpu"``,
    ``"cuda[:N]"``; ``preset``: the model size, a key of :data:`MODEL_PRESETS` or
    ``"auto"`` (``cpu`` on the CPU, ``ngp`` on CUDA); ``model``: :class:`NerfModel`
    keyword arguments (field settings, ``samples_per_diagonal``, ``grid_resolution``)
    that override the preset's (:meth:`model_settings`)."""

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
    device: str = "auto"
    progress: bool = True
    preset: str = "auto"
    model: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        Budget(self.steps, self.max_seconds)  # checks steps and max_seconds
        for name in ("samples_per_batch", "initial_rays", "max_rays", "grid_update_every"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise InputError(f"the learning rate must be > 0, got {self.lr}")
        if not 0 < self.lr_final_fraction <= 1:
            raise InputError(f"lr_final_fraction must be in (0, 1], got {self.lr_final_fraction}")
        if self.grid_warmup_steps < 0 or self.checkpoint_every < 0:
            raise InputError(f"grid_warmup_steps and checkpoint_every must be >= 0, got {self.grid_warmup_steps} and "
                             f"{self.checkpoint_every}")
        if self.preset != "auto" and self.preset not in MODEL_PRESETS:
            raise InputError(f"preset must be 'auto' or one of {sorted(MODEL_PRESETS)}, got {self.preset!r}")
        unknown = set(self.model) - MODEL_KEYS
        if unknown:
            raise InputError(f"unknown NeRF model settings {sorted(unknown)} (known: {sorted(MODEL_KEYS)})")

    def model_settings(self, device) -> dict:
        """:class:`NerfModel` keyword arguments on ``device`` (a ``torch.device`` or its
        name): the preset's (``auto``: ``cpu`` on the CPU, ``ngp`` on CUDA) updated by
        :attr:`model`."""
        preset = self.preset
        if preset == "auto":
            preset = "ngp" if str(device).startswith("cuda") else "cpu"
        return {**MODEL_PRESETS[preset], **self.model}
