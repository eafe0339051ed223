"""Settings of DVR training (torch-free, so the CLI reads its defaults without importing
torch)."""

from __future__ import annotations

from dataclasses import dataclass

from humanrecon.config_checks import check_count, check_number
from humanrecon.training import Budget

#: the checkpoint a training run writes into its run folder
CHECKPOINT = "dvr.pt"


@dataclass
class DVRConfig:
    """How to train (:func:`humanrecon.dvr.train.train_dvr`).

    Attributes:
        steps, max_seconds: budget (steps; optional wall-time seconds).
        rays, rays_start: rays per step at the end and at the start; samples,
            samples_start: marching samples per ray likewise (DVR's sparse-to-dense
            schedule: both grow linearly over the first half of training).
        secant_steps: secant refinement steps per ray.
        lr, lr_final_fraction: Adam rate, cosine-decayed to this fraction.
        rgb_weight, freespace_weight, occupancy_weight, eikonal_weight: loss weights.
        silhouette_temperature_start, silhouette_temperature: metres; the free-space
            and occupancy losses' occupancy is ``sigmoid(−f / T)``, T annealed
            geometrically from the first to the second over the first half of the
            rendering phase.
        hull_fraction: share of the budget spent fitting the visual hull first (0: start
            from the sphere); hull_points: points per step then; hull_weight: weight of
            the guard against shape where some view's mask is certainly empty (0: off).
        hidden, layers, texture_hidden, texture_layers, frequencies, init_radius,
        temperature: the model (:class:`humanrecon.dvr.model.DVRModel`).
    """

    steps: int = 20_000
    max_seconds: float | None = None
    rays: int = 1024
    rays_start: int = 256
    samples: int = 128
    samples_start: int = 64
    secant_steps: int = 8
    lr: float = 1e-3
    lr_final_fraction: float = 0.05
    rgb_weight: float = 1.0
    freespace_weight: float = 1.0
    occupancy_weight: float = 1.0
    silhouette_temperature_start: float = 0.01
    silhouette_temperature: float = 0.001
    eikonal_weight: float = 0.1
    hull_fraction: float = 0.1
    hull_points: int = 4096
    hull_weight: float = 1.0
    hidden: int = 128
    layers: int = 6
    texture_hidden: int = 128
    texture_layers: int = 4
    frequencies: int = 6
    init_radius: float = 0.5
    temperature: float = 0.01
    checkpoint_every: int = 500
    seed: int = 0
    device: str = "auto"
    progress: bool = True

    def __post_init__(self) -> None:
        Budget(self.steps, self.max_seconds)  # checks steps and max_seconds
        for name in ("rays", "rays_start", "samples", "samples_start", "secant_steps", "hull_points", "hidden",
                     "layers", "texture_hidden", "texture_layers"):
            check_count(self, name, 1)
        for name in ("frequencies", "checkpoint_every"):
            check_count(self, name, 0)
        for name in ("lr", "silhouette_temperature_start", "silhouette_temperature", "temperature", "init_radius"):
            check_number(self, name)
        check_number(self, "lr_final_fraction", 0.0, 1.0)
        check_number(self, "hull_fraction", 0.0, 1.0, low_open=False, high_open=True)
        for name in ("rgb_weight", "freespace_weight", "occupancy_weight", "eikonal_weight", "hull_weight"):
            check_number(self, name, 0.0, low_open=False)

    def model_settings(self) -> dict:
        """Keyword arguments of :class:`~humanrecon.dvr.model.DVRModel` (without bounds)."""
        return {k: getattr(self, k) for k in ("hidden", "layers", "texture_hidden", "texture_layers", "frequencies",
                                              "init_radius", "temperature")}
