"""Train DVR (shape and texture) from posed images and masks (a Blender-format dataset:
the alpha channel is the mask) with the shared training loop.

Each step draws ``rays`` random pixels of the training images, finds where each ray meets
the current surface (:func:`humanrecon.dvr.surface.find_surface`) and applies DVR's losses:

* **RGB** (rays inside the mask that hit): L1 between the texture field at the surface
  point and the pixel; the surface point carries the implicit gradient
  (:func:`~humanrecon.dvr.surface.surface_depth`), so colour errors move the shape too.
* **free space** (rays outside the mask): binary cross-entropy pushing the occupancy
  down at the surface point they hit, and at one random point of every such ray.
* **occupancy** (rays inside the mask that miss): pushes the occupancy up at the point
  of the ray most nearly inside (the lowest shape value among 32 samples).
* **eikonal** (random points in the box): ``(|∇f| − 1)²``, keeping the shape value a
  distance (better secant steps and normals); not in the paper, which used occupancy.

DVR's sparse-to-dense schedule: rays per step and samples per ray grow over the first half.
No depth loss (the synthetic datasets carry no depth maps). Rays are intersected with the
scene box (:func:`humanrecon.geometry.scene.dataset_bounds`); the search runs within it.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F

from humanrecon.dvr.config import DVRConfig
from humanrecon.dvr.model import CHECKPOINT, DVRModel
from humanrecon.dvr.surface import SDF, find_surface, surface_depth
from humanrecon.errors import InputError
from humanrecon.geometry.scene import dataset_bounds
from humanrecon.nerf.volume import ray_aabb
from humanrecon.training import Budget, TrainingHistory, cosine_decay, train_loop

#: samples along a missing ray where the occupancy loss looks for its most-inside point
MISS_SAMPLES = 32


def check_masks(split) -> None:
    """DVR needs masks: refuse a split whose alpha is 1 everywhere or 0 everywhere."""
    alpha = split.alpha
    if bool((alpha > 0.5).all()):
        raise InputError(f"{split.root}: the '{split.split}' images have no masks (alpha is 1 everywhere); DVR "
                         "needs RGBA images whose alpha is the object's mask")
    if not bool((alpha > 0.5).any()):
        raise InputError(f"{split.root}: every mask of the '{split.split}' images is empty (alpha is 0 everywhere)")


def _schedule(start: int, end: int, done: float) -> int:
    return int(round(start + (end - start) * min(1.0, 2.0 * done)))


class RayBatch:
    """All training rays in memory: ``origins, directions (P, 3)`` world, unit directions;
    ``rgb (P, 3)``, ``inside (P,)`` mask; ``near, far (P,)`` where the ray is in the box,
    ``in_box (P,)``."""

    def __init__(self, split, bounds: torch.Tensor, device: torch.device) -> None:
        origins, directions = split.cameras.rays()
        self.origins = origins.reshape(-1, 3).to(device)
        self.directions = directions.reshape(-1, 3).to(device)
        self.rgb = split.images.reshape(-1, 3).to(device)
        self.inside = (split.alpha.reshape(-1) > 0.5).to(device)
        self.near, self.far, self.in_box = ray_aabb(self.origins, self.directions, bounds.to(device))
        if not bool(self.in_box.any()):
            raise InputError(f"{split.root}: no camera ray of the '{split.split}' images passes through the scene "
                             f"box {bounds.tolist()}: the cameras do not see the scene")


def dvr_losses(model: DVRModel, rays: RayBatch, index: torch.Tensor, samples: int, secant_steps: int,
               config: DVRConfig, generator: torch.Generator) -> tuple[torch.Tensor, dict]:
    """DVR's loss on the rays ``index`` (module docstring); returns ``(loss, parts)``."""
    index = index[rays.in_box[index]]
    o, d = rays.origins[index], rays.directions[index]
    near, far, inside = rays.near[index], rays.far[index], rays.inside[index]
    hits = find_surface(model.sdf, o, d, near, far, samples=samples, secant_steps=secant_steps, surface=SDF)
    zero = o.new_zeros(())
    parts = {"rgb": zero, "freespace": zero, "occupancy": zero, "eikonal": zero}
    colour_rays = hits.hit & inside
    if colour_rays.any():
        selected = type(hits)(hits.depth[colour_rays], torch.ones_like(hits.depth[colour_rays], dtype=torch.bool),
                              hits.points[colour_rays])
        _, points = surface_depth(model.sdf, o[colour_rays], d[colour_rays], selected, SDF)
        parts["rgb"] = (model.color(points) - rays.rgb[index][colour_rays]).abs().mean()
    outside = ~inside
    free_points = [hits.points[hits.hit & outside]]
    if outside.any():
        t = torch.rand(int(outside.sum()), generator=generator).to(o)
        free_points.append(o[outside] + (near[outside] + t * (far[outside] - near[outside]))[:, None] * d[outside])
    free_points = torch.cat(free_points)
    if len(free_points):
        logits = model.occupancy_logits(free_points.detach())
        parts["freespace"] = F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))
    missed = inside & ~hits.hit
    if missed.any():
        steps = torch.linspace(0, 1, MISS_SAMPLES, dtype=o.dtype, device=o.device)
        depths = near[missed, None] + (far - near)[missed, None] * steps
        candidates = o[missed, None] + depths[..., None] * d[missed, None]
        with torch.no_grad():
            best = model.sdf(candidates.reshape(-1, 3)).reshape(depths.shape).argmin(1)
        points = candidates[torch.arange(len(best)), best]
        logits = model.occupancy_logits(points)
        parts["occupancy"] = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
    if config.eikonal_weight:
        box = model.bounds
        points = (box[0] + (box[1] - box[0]) * torch.rand(256, 3, generator=generator).to(o)).requires_grad_(True)
        grad, = torch.autograd.grad(model.sdf(points).sum(), points, create_graph=True)
        parts["eikonal"] = (grad.norm(dim=-1) - 1).square().mean()
    loss = config.rgb_weight * parts["rgb"] + config.freespace_weight * parts["freespace"] \
        + config.occupancy_weight * parts["occupancy"] + config.eikonal_weight * parts["eikonal"]
    return loss, {k: float(v.detach()) for k, v in parts.items()} | {"hit_share": float(hits.hit.float().mean())}


def train_dvr(split, out_dir: str | Path, config: DVRConfig | None = None, *, resume: bool = False,
              dataset: str | None = None) -> tuple[DVRModel, TrainingHistory]:
    """Train on a :class:`~humanrecon.datasets.BlenderSplit` with masks; checkpoints go to
    ``out_dir/dvr.pt`` (weights, optimiser, step, elapsed time, ``dataset``: recorded for
    ``dvr render``); ``resume=True`` continues it. Returns ``(model, history)``; a NaN/inf
    loss raises ``TrainingDivergedError`` naming the last good checkpoint.

    Raises:
        InputError: images without masks, empty masks, cameras that do not see the box.
    """
    config = config or DVRConfig()
    check_masks(split)
    out_dir = Path(out_dir)
    checkpoint = out_dir / CHECKPOINT
    device = torch.device(config.device)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    bounds = dataset_bounds(split)
    start_step, elapsed = 0, 0.0
    if resume:
        model, saved = DVRModel.load(checkpoint, map_location=device)
        start_step, elapsed = int(saved["step"]), float(saved["elapsed"])
        dataset = dataset or saved.get("dataset")
    else:
        model, saved = DVRModel(bounds, **config.model_settings()).to(device), None
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    if saved is not None and "optimizer" in saved:
        optimizer.load_state_dict(saved["optimizer"])
    rays = RayBatch(split, bounds, device)
    candidates = rays.in_box.nonzero()[:, 0]
    budget = Budget(config.steps, config.max_seconds)
    last: dict = {}
    model.train()

    def step_fn(step: int) -> torch.Tensor:
        done = last.get("done", 0.0)  # set by learning_rate just before (steps or time, whichever runs out)
        count = _schedule(config.rays_start, config.rays, done)
        samples = _schedule(config.samples_start, config.samples, done)
        index = candidates[torch.randint(len(candidates), (count,), generator=generator).to(candidates.device)]
        loss, last["parts"] = dvr_losses(model, rays, index, samples, config.secant_steps, config, generator)
        return loss

    def learning_rate(done: float) -> float:
        last["done"] = done
        return cosine_decay(config.lr, done, config.lr_final_fraction)

    def save(step: int, seconds: float) -> Path:
        return model.save(checkpoint, optimizer=optimizer.state_dict(), step=step, elapsed=seconds,
                          config=asdict(config), dataset=str(dataset) if dataset else "")

    history = train_loop(step_fn, optimizer, budget, learning_rate, name="DVR", save=save,
                         checkpoint_every=config.checkpoint_every, start_step=start_step, elapsed_before=elapsed,
                         last_checkpoint=checkpoint if resume else None, progress=config.progress,
                         postfix=lambda: {k: f"{v:.3g}" for k, v in last.get("parts", {}).items()})
    return model.eval(), history
