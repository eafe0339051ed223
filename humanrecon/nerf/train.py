"""Training a NeRF on a Blender-format dataset (Instant-NGP recipe on any device).

Each step draws random pixels of all training images, renders their rays through the
occupancy grid with jittered samples over a random background colour (so transparent
pixels teach "empty", whatever the colour), and minimises the squared colour error with
Adam. The ray batch adapts so that each step evaluates about ``samples_per_batch`` field
samples; the occupancy grid is refreshed every few steps; checkpoints hold the optimiser
too, so a run can resume.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from humanrecon.geometry.scene import dataset_bounds
from humanrecon.nerf.config import CHECKPOINT, MODEL_PRESETS, NerfConfig  # noqa: F401 (re-exported)
from humanrecon.nerf.model import NerfModel
from humanrecon.training import Budget, TrainingHistory, TrainingHook, exponential_decay, train_loop

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
        if random_background:
            background = torch.rand(n, 3, generator=generator).to(self.rgb.device)
        else:
            background = torch.ones(n, 3, device=self.rgb.device)
        a = self.alpha[idx, None]
        origins, directions = self.rays(idx)
        return origins, directions, background, self.rgb[idx] * a + background * (1 - a)


def train_nerf(split, out_dir: str | Path, config: NerfConfig | None = None, *,
               resume: bool = False) -> tuple[NerfModel, NerfHistory]:
    """Train on a :class:`humanrecon.datasets.BlenderSplit` with the shared loop
    (:func:`humanrecon.training.train_loop`); checkpoints go to ``out_dir/model.pt``
    (with the optimiser, step and elapsed time; ``resume=True`` continues from it and
    needs it: ``MissingFileError`` otherwise). Returns the model (eval mode) and the
    history of this run. A NaN/inf loss raises ``TrainingDivergedError``."""
    config = config or NerfConfig()
    budget = Budget(config.steps, config.max_seconds)
    out_dir = Path(out_dir)
    device = torch.device(config.device)
    checkpoint = out_dir / CHECKPOINT
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    start_step, elapsed_before, n_rays = 0, 0.0, float(config.initial_rays)
    if resume:
        model, saved = NerfModel.load(checkpoint, map_location=device)
        start_step, elapsed_before = saved["step"], saved["elapsed"]
        n_rays = float(saved.get("rays", n_rays))
    else:
        model = NerfModel(dataset_bounds(split), **config.model).to(device)
        saved = None
    optimizer = torch.optim.Adam(model.field.parameter_groups(config.lr, config.weight_decay),
                                 betas=(0.9, 0.99), eps=1e-15)
    if saved is not None and "optimizer" in saved:
        optimizer.load_state_dict(saved["optimizer"])
    rays = TrainingRays(split, device)
    history = NerfHistory()

    def step_fn(step: int) -> torch.Tensor:
        origins, directions, background, target = rays.batch(int(n_rays), generator, config.random_background)
        out, n_samples = model.render_rays(origins, directions, background, jitter=True, generator=generator)
        history.rays.append(int(n_rays))
        history.samples.append(n_samples)
        return torch.mean((out.rgb - target) ** 2)

    class AdaptRays(TrainingHook):
        """Steer the ray count towards the sample budget (smoothed, bounded)."""

        def after_step(self, step: int, loss: float) -> None:
            nonlocal n_rays
            wanted = n_rays * config.samples_per_batch / max(history.samples[-1], 1)
            n_rays = min(max(0.8 * n_rays + 0.2 * wanted, 64.0), float(config.max_rays))

    def save(step: int, elapsed: float) -> Path:
        return model.save(checkpoint, optimizer=optimizer.state_dict(), step=step, elapsed=elapsed, rays=n_rays,
                          config=asdict(config))

    model.train()
    hooks = [OccupancyGridUpdate(model, config.grid_update_every, config.grid_warmup_steps, generator), AdaptRays()]
    train_loop(step_fn, optimizer, budget, lambda progress: exponential_decay(config.lr, progress, config.final_lr_fraction),
               name="nerf", save=save, checkpoint_every=config.checkpoint_every, hooks=hooks, start_step=start_step,
               elapsed_before=elapsed_before, last_checkpoint=checkpoint if resume else None, history=history,
               progress=config.progress,
               postfix=lambda: {"rays": int(n_rays), "occ": f"{model.grid.occupied_fraction:.3f}"})
    return model.eval(), history
