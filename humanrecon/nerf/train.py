"""Training a NeRF on a Blender-format dataset (Instant-NGP recipe on any device).

Each step draws random pixels of all training images, renders their rays through the
occupancy grid with jittered samples over a random background colour (so transparent
pixels teach "empty", whatever the colour), and minimises the squared colour error with
Adam. The ray batch adapts so that each step evaluates about ``samples_per_batch`` field
samples; the occupancy grid is refreshed every few steps; checkpoints hold the optimiser
too, so a run can resume.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from humanrecon._schedule import exponential_decay, progress_fraction
from humanrecon.geometry.scene import visible_bounds
from humanrecon.nerf.model import NerfModel

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
    final_lr_fraction: float = 0.03
    weight_decay: float = 1e-6
    grid_update_every: int = 16
    grid_warmup_steps: int = 256
    random_background: bool = True
    checkpoint_every: int = 1000
    seed: int = 0
    device: str = "cpu"
    progress: bool = True
    model: dict = field(default_factory=dict)


@dataclass
class NerfHistory:
    """Per-step ``losses`` (MSE), ``rays`` and ``samples`` per batch, wall ``seconds``."""

    losses: list[float] = field(default_factory=list)
    rays: list[int] = field(default_factory=list)
    samples: list[int] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def steps(self) -> int:
        return len(self.losses)


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


def scene_bounds(split) -> torch.Tensor:
    """The dataset's box when it names one (``split.bounds``), else the box every
    training camera sees (:func:`visible_bounds`)."""
    bounds = getattr(split, "bounds", None)
    return torch.as_tensor(bounds, dtype=torch.float32) if bounds is not None else visible_bounds(split.cameras)


def train_nerf(split, out_dir: str | Path, config: NerfConfig | None = None, *,
               resume: bool = False) -> tuple[NerfModel, NerfHistory]:
    """Train on a :class:`humanrecon.datasets.BlenderSplit`; checkpoints go to
    ``out_dir/model.pt`` (with the optimiser, step and elapsed time; ``resume=True``
    continues from it). Returns the model (eval mode) and the history of this run."""
    config = config or NerfConfig()
    out_dir = Path(out_dir)
    device = torch.device(config.device)
    checkpoint = out_dir / CHECKPOINT
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    start_step, elapsed_before, n_rays = 0, 0.0, float(config.initial_rays)
    if resume and checkpoint.is_file():
        model, saved = NerfModel.load(checkpoint, map_location=device)
        start_step, elapsed_before = saved["step"], saved["elapsed"]
        n_rays = float(saved.get("rays", n_rays))
    else:
        model = NerfModel(scene_bounds(split), **config.model).to(device)
        saved = None
    optimizer = torch.optim.Adam(model.field.parameter_groups(config.lr, config.weight_decay),
                                 betas=(0.9, 0.99), eps=1e-15)
    if saved is not None and "optimizer" in saved:
        optimizer.load_state_dict(saved["optimizer"])
    rays = TrainingRays(split, device)
    history = NerfHistory()
    start = time.perf_counter()

    def save(step: int) -> None:
        model.save(checkpoint, optimizer=optimizer.state_dict(), step=step,
                   elapsed=elapsed_before + time.perf_counter() - start, rays=n_rays, config=asdict(config))

    model.train()
    bar = tqdm(range(start_step, config.steps), desc="train nerf", disable=not config.progress,
               initial=start_step, total=config.steps)
    for step in bar:
        elapsed = elapsed_before + time.perf_counter() - start
        if config.max_seconds is not None and elapsed > config.max_seconds:
            break
        lr = exponential_decay(config.lr, progress_fraction(step, config.steps, elapsed, config.max_seconds),
                               config.final_lr_fraction)
        for group in optimizer.param_groups:
            group["lr"] = lr
        if step % config.grid_update_every == 0:
            model.grid.update(model.field.density, all_cells=step < config.grid_warmup_steps, generator=generator)
        origins, directions, background, target = rays.batch(int(n_rays), generator, config.random_background)
        out, n_samples = model.render_rays(origins, directions, background, jitter=True, generator=generator)
        loss = torch.mean((out.rgb - target) ** 2)
        if not torch.isfinite(loss):
            raise RuntimeError(f"NeRF training: the loss became {loss.item()} at step {step}; "
                               f"the last good checkpoint is {checkpoint if checkpoint.is_file() else 'not written yet'}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history.losses.append(loss.item())
        history.rays.append(int(n_rays))
        history.samples.append(n_samples)
        # steer the ray count towards the sample budget (smoothed, bounded)
        wanted = n_rays * config.samples_per_batch / max(n_samples, 1)
        n_rays = min(max(0.8 * n_rays + 0.2 * wanted, 64.0), float(config.max_rays))
        if step % 25 == 0:
            bar.set_postfix(loss=f"{history.losses[-1]:.4g}", rays=int(n_rays), occ=f"{model.grid.occupied_fraction:.3f}")
        if config.checkpoint_every and (step + 1) % config.checkpoint_every == 0:
            save(step + 1)
    save(start_step + history.steps)
    history.seconds = time.perf_counter() - start
    return model.eval(), history
