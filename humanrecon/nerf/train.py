"""Training a NeRF on a Blender-format dataset (Instant-NGP recipe on any device).

Each step draws random pixels of all training images, renders their rays through the
occupancy grid with jittered samples over a random background colour (so transparent
pixels teach "empty", whatever the colour), and minimises the squared colour error with
Adam. The ray batch adapts so that each step evaluates about ``samples_per_batch`` field
samples; the occupancy grid is refreshed every few steps; checkpoints hold the optimiser
too, so a run can resume.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from humanrecon.geometry.scene import dataset_bounds
from humanrecon.nerf.config import CHECKPOINT, MODEL_PRESETS, NerfConfig  # noqa: F401 (re-exported)
from humanrecon.nerf.model import NerfModel
from humanrecon.render.compositing import background_colors, over_background
from humanrecon.trainer import Trainer, fit
from humanrecon.training import Progress, TrainingHistory, TrainingHook, exponential_decay

@dataclass
class NerfHistory(TrainingHistory):
    """Per-step ``losses`` (MSE), ``rays`` and ``samples`` per batch, wall ``seconds``."""

    rays: list[int] = field(default_factory=list)
    samples: list[int] = field(default_factory=list)


class OccupancyGridUpdate(TrainingHook):
    """Refresh the occupancy grid from the field's density every ``every`` steps (all
    cells during the first ``warmup_steps``, then Instant-NGP's partial updates)."""

    def __init__(self, model: NerfModel, every: int, warmup_steps: int, generator: torch.Generator) -> None:
        self.model, self.every, self.warmup_steps, self.generator = model, every, warmup_steps, generator

    def before_step(self, step: int) -> None:
        if step % self.every == 0:
            self.model.grid.update(self.model.field.density, all_cells=step < self.warmup_steps,
                                   generator=self.generator)


class TrainingRays:
    """Random training pixels of a split and their rays, made per batch: the split's
    images ``(N, H, W, 3)``, alpha ``(N, H, W)`` and cameras stay as they are (no
    per-pixel ray arrays: 100 views at 800×800 would need 2.6 GB more)."""

    def __init__(self, split, device) -> None:
        self.cameras = split.cameras.to(device=device)
        self.rgb = split.images.reshape(-1, 3).to(device)
        self.alpha = split.alpha.reshape(-1).to(device)
        self.pixels_per_image = self.cameras.width * self.cameras.height

    def __len__(self) -> int:
        return len(self.alpha)

    def rays(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """World rays ``(n, 3)`` (origins, unit directions) through the centres of flat
        pixel indices ``idx (n,)`` (image-major, then row, then column)."""
        image, pixel = idx // self.pixels_per_image, idx % self.pixels_per_image
        width = self.cameras.width
        uv = torch.stack([pixel % width, pixel // width], dim=-1).to(self.rgb.dtype) + 0.5
        origins, directions = self.cameras[image].rays(uv[:, None, :])
        return origins[:, 0], directions[:, 0]

    def batch(self, n: int, generator: torch.Generator, random_background: bool):
        """``n`` random pixels: origins, directions, backgrounds ``(n, 3)`` and targets
        ``(n, 3)`` = the pixel composited over its background."""
        idx = torch.randint(len(self), (n,), generator=generator).to(self.rgb.device)
        background = background_colors(n, generator, random_background, self.rgb.device)
        origins, directions = self.rays(idx)
        return origins, directions, background, over_background(self.rgb[idx], self.alpha[idx, None], background)


class AdaptRays(TrainingHook):
    """Steer a trainer's ray count towards its sample budget (smoothed, bounded)."""

    def __init__(self, trainer: "NerfTrainer") -> None:
        self.trainer = trainer

    def after_step(self, step: int, loss: float) -> None:
        t, config = self.trainer, self.trainer.config
        wanted = t.n_rays * config.samples_per_batch / max(t.history.samples[-1], 1)
        t.n_rays = min(max(0.8 * t.n_rays + 0.2 * wanted, 64.0), float(config.max_rays))


class NerfTrainer(Trainer):
    """Instant-NGP's recipe (module docstring) in the shape every trainer shares
    (:class:`humanrecon.trainer.Trainer`)."""

    name, checkpoint_name, model_class = "nerf", CHECKPOINT, NerfModel

    def __init__(self, split, config: NerfConfig, *, device: torch.device, generator: torch.Generator,
                 model: NerfModel | None = None) -> None:
        self.config, self.generator = config, generator
        self.model = model if model is not None else NerfModel(dataset_bounds(split), **config.model_settings(device)).to(device)
        self.optimizer = torch.optim.Adam(self.model.field.parameter_groups(config.lr, config.weight_decay),
                                          betas=(0.9, 0.99), eps=1e-15)
        self.rays = TrainingRays(split, device)
        self.n_rays = float(config.initial_rays)
        self.history = NerfHistory()

    def step(self, progress: Progress) -> torch.Tensor:
        origins, directions, background, target = self.rays.batch(int(self.n_rays), self.generator,
                                                                   self.config.random_background)
        out, n_samples = self.model.render_rays(origins, directions, background, jitter=True,
                                                generator=self.generator)
        self.history.rays.append(int(self.n_rays))
        self.history.samples.append(n_samples)
        return torch.mean((out.rgb - target) ** 2)

    def learning_rate(self, fraction: float) -> float:
        return exponential_decay(self.config.lr, fraction, self.config.lr_final_fraction)

    def hooks(self) -> list[TrainingHook]:
        config = self.config
        return [OccupancyGridUpdate(self.model, config.grid_update_every, config.grid_warmup_steps, self.generator),
                AdaptRays(self)]

    def postfix(self) -> dict:
        return {"rays": int(self.n_rays), "occ": f"{self.model.grid.occupied_fraction:.3f}"}

    def state_dict(self) -> dict:
        return {"rays": self.n_rays}

    def load_state_dict(self, state: dict) -> None:
        self.n_rays = float(state.get("rays", self.n_rays))


def train_nerf(split, out_dir: str | Path, config: NerfConfig | None = None, *,
               resume: bool = False, hooks=()) -> tuple[NerfModel, NerfHistory]:
    """Train on a :class:`humanrecon.datasets.BlenderSplit` (:class:`NerfTrainer` through
    :func:`humanrecon.trainer.fit`); checkpoints go to ``out_dir/model.pt`` (model,
    optimiser, step, elapsed time, ray count, random state; ``resume=True`` continues it
    exactly and needs it: ``MissingFileError`` otherwise). Returns the model (eval mode)
    and the history of this run. A NaN/inf loss raises ``TrainingDivergedError``."""
    return fit(NerfTrainer, split, out_dir, config or NerfConfig(), resume=resume, hooks=hooks)
