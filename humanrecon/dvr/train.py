"""Train DVR (shape and texture) from posed images and masks (a Blender-format dataset:
the alpha channel is the mask) with the shared training loop.

Each step draws ``rays`` random pixels of the training images, finds where each ray meets
the current surface (:func:`humanrecon.dvr.surface.find_surface`) and applies DVR's losses:

* **RGB** (rays inside the mask that hit): L1 between the texture field at the surface
  point and the pixel; the surface point carries the implicit gradient
  (:func:`~humanrecon.dvr.surface.surface_depth`), so colour errors move the shape too
  (except on grazing rays, cosine < ``GRAZING_SLOPE``, where that gradient blows up).
* **free space** (rays outside the mask): binary cross-entropy pushing the occupancy
  down at the surface point they hit, and at one random point of every such ray.
* **occupancy** (rays inside the mask that miss): pushes the occupancy up at the point of
  the ray the masks most agree is inside (highest soft hull value of 32 samples; rays
  where no sample reaches ``MIN_HULL_AGREEMENT`` are skipped). **Off by default**
  (``occupancy_weight = 0``): on the body views it grew blobs (4-minute runs: Chamfer-L1
  22.5 mm with it at weight 1, 12.5 mm without); the hull term below covers its job.
* **eikonal** ``(|∇f| − 1)²`` at hull and box points, keeping the shape value a distance
  (better secant steps and normals); not in the paper, which used occupancy.
* **hull**: binary cross-entropy of the occupancy against the soft visual hull at 1,024
  points per step (below), ``hull_weight``.

**Visual-hull start** (the first ``hull_fraction`` of the budget): before any rendering,
the shape is fitted in 3D to the soft visual hull of the masks
(:func:`humanrecon.geometry.scene.visual_hull_alpha`: the smallest bilinear mask value over
all views) by binary cross-entropy on points in the box, inside the hull and around its
boundary, plus the eikonal term. It replaces DVR's slow growth from a sphere (from a
sphere, 3 minutes of DVR's losses alone reached a mask IoU of 0.03 here) with a shape that
already has the right silhouettes; the hull term then keeps it while the images refine
shape and texture. The hull is a superset of the object (it misses concavities) and,
read bilinearly at 128², thins parts narrower than about a pixel (fingers).

Rays are drawn half from inside the masks and half from outside (the subject covers a
small part of each frame). DVR's sparse-to-dense schedule: rays per step and samples per
ray grow over the first half of the rendering phase. No depth loss (the synthetic datasets carry no depth maps). Rays are intersected with the
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
from humanrecon.geometry.scene import dataset_bounds, ray_aabb, visual_hull_alpha, visual_hull_points
from humanrecon.training import Budget, TrainingHistory, cosine_decay, train_loop

#: rays meeting the surface at a cosine below this (|∇f · w| of the distance-like shape
#: value) move only the texture: their implicit gradient grows as 1 / cosine
GRAZING_SLOPE = 0.2
#: a missing ray's occupancy point must have at least this soft hull value
MIN_HULL_AGREEMENT = 0.2
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


class HullTargets:
    """Points and soft visual-hull targets for the hull losses: ``seeds (K, 3)`` inside the
    hull and ``boundary (L, 3)`` near its surface (world metres), found once from the
    split's cameras and masks; training points are drawn around both, so thin parts
    (arms, fingers) get as many points near their surface as the trunk."""

    #: hull seed points; candidates tried for the boundary; spreads (metres) around each
    SEEDS, BOUNDARY_CANDIDATES = 4096, 200_000
    SEED_SPREAD, BOUNDARY_SPREADS = 0.06, (0.004, 0.015)

    def __init__(self, split, bounds: torch.Tensor, device: torch.device, generator: torch.Generator) -> None:
        self.cameras = split.cameras.to(device=device)
        self.masks = split.alpha.to(device)
        self.bounds = bounds.to(device)
        self.seeds = visual_hull_points(split.cameras, split.alpha, self.SEEDS, bounds, generator=generator).to(device)
        if len(self.seeds) == 0:
            raise InputError(f"{split.root}: the masks of the '{split.split}' images have no common part inside the "
                             f"scene box {bounds.tolist()} (no visual hull): do the cameras and masks belong together?")
        base = self.seeds[torch.randint(len(self.seeds), (self.BOUNDARY_CANDIDATES,), generator=generator).to(device)]
        candidates = base + 0.03 * torch.randn(base.shape, generator=generator).to(base)
        value = visual_hull_alpha(self.cameras, self.masks, candidates)
        boundary = candidates[(value > 0.1) & (value < 0.9)]
        self.boundary = boundary if len(boundary) else self.seeds

    def sample(self, count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``points (M, 3)``: 1/4 uniform in the box, 1/4 around the hull seeds, 1/2 around
        its boundary; and their soft hull values ``(M,)``."""
        quarter = count // 4
        box = self.bounds

        def around(points: torch.Tensor, spreads: tuple[float, ...], n: int) -> torch.Tensor:
            base = points[torch.randint(len(points), (n * len(spreads),), generator=generator).to(box.device)]
            spread = box.new_tensor(spreads).repeat_interleave(n)[:, None]
            return base + spread * torch.randn(base.shape, generator=generator).to(box)

        uniform = box[0] + (box[1] - box[0]) * torch.rand(quarter, 3, generator=generator).to(box)
        points = torch.cat([uniform, around(self.seeds, (self.SEED_SPREAD,), quarter),
                            around(self.boundary, self.BOUNDARY_SPREADS, quarter)])
        return points, visual_hull_alpha(self.cameras, self.masks, points)


def eikonal_loss(model: DVRModel, points: torch.Tensor) -> torch.Tensor:
    """``mean (|∇f| − 1)²`` of the shape value at ``points (M, 3)``."""
    points = points.detach().requires_grad_(True)
    grad, = torch.autograd.grad(model.sdf(points).sum(), points, create_graph=True)
    return (grad.norm(dim=-1) - 1).square().mean()


def hull_losses(model: DVRModel, hull: HullTargets, count: int, config: DVRConfig,
                generator: torch.Generator) -> tuple[torch.Tensor, dict]:
    """The visual-hull start: BCE of the occupancy against the soft hull value at
    ``count`` points, plus the eikonal term at the box's and the hull's points."""
    points, target = hull.sample(count, generator)
    bce = F.binary_cross_entropy_with_logits(model.occupancy_logits(points), target)
    eikonal = eikonal_loss(model, points[:512])
    loss = bce + config.eikonal_weight * eikonal
    return loss, {"hull": float(bce.detach()), "eikonal": float(eikonal.detach())}


def dvr_losses(model: DVRModel, rays: RayBatch, index: torch.Tensor, samples: int, secant_steps: int,
               config: DVRConfig, generator: torch.Generator,
               hull: HullTargets | None = None) -> tuple[torch.Tensor, dict]:
    """DVR's loss on the rays ``index`` (module docstring), plus the one-sided hull
    constraint when ``hull`` is given; returns ``(loss, parts)``."""
    index = index[rays.in_box[index]]
    o, d = rays.origins[index], rays.directions[index]
    near, far, inside = rays.near[index], rays.far[index], rays.inside[index]
    hits = find_surface(model.sdf, o, d, near, far, samples=samples, secant_steps=secant_steps, surface=SDF)
    zero = o.new_zeros(())
    parts = {"rgb": zero, "freespace": zero, "occupancy": zero, "eikonal": zero, "hull": zero}
    colour_rays = hits.hit & inside
    if colour_rays.any():
        selected = type(hits)(hits.depth[colour_rays], torch.ones_like(hits.depth[colour_rays], dtype=torch.bool),
                              hits.points[colour_rays])
        _, points = surface_depth(model.sdf, o[colour_rays], d[colour_rays], selected, SDF,
                                  min_slope=GRAZING_SLOPE)
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
            if hull is not None:  # the point the masks most agree is inside (none: the ray is skipped)
                agreement, best = visual_hull_alpha(hull.cameras, hull.masks, candidates.reshape(-1, 3)) \
                    .reshape(depths.shape).max(1)
                usable = agreement > MIN_HULL_AGREEMENT
            else:  # the point the shape finds most nearly inside
                best = model.sdf(candidates.reshape(-1, 3)).reshape(depths.shape).argmin(1)
                usable = torch.ones_like(best, dtype=torch.bool)
        points = candidates[torch.arange(len(best)), best][usable]
        if len(points):
            logits = model.occupancy_logits(points)
            parts["occupancy"] = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
    if hull is not None and config.hull_weight:
        points, target = hull.sample(1024, generator)
        parts["hull"] = F.binary_cross_entropy_with_logits(model.occupancy_logits(points), target)
        eikonal_points = points[:256]
    else:
        box = model.bounds
        eikonal_points = box[0] + (box[1] - box[0]) * torch.rand(256, 3, generator=generator).to(o)
    if config.eikonal_weight:
        parts["eikonal"] = eikonal_loss(model, eikonal_points)
    loss = config.rgb_weight * parts["rgb"] + config.freespace_weight * parts["freespace"] \
        + config.occupancy_weight * parts["occupancy"] + config.eikonal_weight * parts["eikonal"] \
        + config.hull_weight * parts["hull"]
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
    inside_rays = (rays.in_box & rays.inside).nonzero()[:, 0]
    outside_rays = (rays.in_box & ~rays.inside).nonzero()[:, 0]
    hull = HullTargets(split, bounds, device, generator) if config.hull_fraction or config.hull_weight else None
    budget = Budget(config.steps, config.max_seconds)
    last: dict = {}
    model.train()

    def step_fn(step: int) -> torch.Tensor:
        done = last.get("done", 0.0)  # set by learning_rate just before (steps or time, whichever runs out)
        if done < config.hull_fraction:
            loss, last["parts"] = hull_losses(model, hull, config.hull_points, config, generator)
            return loss
        done = (done - config.hull_fraction) / (1.0 - config.hull_fraction)
        count = _schedule(config.rays_start, config.rays, done)
        samples = _schedule(config.samples_start, config.samples, done)
        index = torch.cat([pool[torch.randint(len(pool), (count // 2,), generator=generator).to(pool.device)]
                           for pool in (inside_rays, outside_rays) if len(pool)])
        loss, last["parts"] = dvr_losses(model, rays, index, samples, config.secant_steps, config, generator, hull)
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
