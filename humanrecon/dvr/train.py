"""Train DVR (shape and texture) from posed images and masks (a Blender-format dataset:
the alpha channel is the mask) with the shared training loop.

Each step draws rays of the training images and applies DVR's losses:

* **RGB** (rays inside the mask that hit the surface, found by
  :func:`humanrecon.dvr.surface.find_surface`): L1 between the texture field at the surface
  point and the pixel; the surface point carries the implicit gradient
  (:func:`~humanrecon.dvr.surface.surface_depth`), so colour errors move the shape too
  (except on grazing rays, cosine < ``GRAZING_SLOPE``, where that gradient blows up).
* **free space** (rays outside the mask) and **occupancy** (rays inside the mask):
  binary cross-entropy of the occupancy ``sigmoid(−f / T)`` against the mask at the point
  where the ray passes nearest the shape, or deepest inside it
  (:func:`~humanrecon.dvr.surface.closest_approach`). That is where a wrong silhouette
  is fixed: an outside ray that hits is carved where it is deepest, an inside ray that
  misses grows the shape where it passes closest (DVR drew the point at random along
  the ray; that grew blobs here). Rays inside the mask that already hit score ~0 unless
  they graze the surface, which keeps the two sides balanced (with misses only, the
  silhouettes came out a fraction of a pixel too thin). ``T`` anneals from
  ``silhouette_temperature_start`` to ``silhouette_temperature`` (metres) over the first
  half of the rendering phase, as IDR's mask loss does: broad gradients first, then a
  sharp silhouette.
* **eikonal** ``(|∇f| − 1)²`` at hull and box points, keeping the shape value a distance
  (better secant steps, closest approaches and normals); not in the paper, which used
  occupancy.
* **hull guard**: binary cross-entropy pushing the occupancy to 0 at points that some
  view sees more than ``HullTargets.OUTSIDE_DILATION`` pixels outside its mask (catches
  floaters anywhere in the box), ``hull_weight``.

**Visual-hull start** (the first ``hull_fraction`` of the budget): before any rendering,
the shape is fitted in 3D to the soft visual hull of the masks
(:func:`humanrecon.geometry.scene.visual_hull_alpha`: the smallest bilinear mask value over
all views) by binary cross-entropy on points in the box, inside the hull and around its
boundary, plus the eikonal term. It replaces DVR's slow growth from a sphere (from a
sphere, 3 minutes of DVR's losses alone reached a mask IoU of 0.03 here) with a shape that
already has roughly the right silhouettes. The hull is only a start: read bilinearly at
128², it thins parts narrower than about a pixel, which the ray losses then restore.

Rays: half from the band of pixels within ``BAND_PIXELS`` of a mask edge (where
silhouettes are decided), a quarter from the rest of the masks, a quarter from the
rest of the background; each is searched only inside the hull's bounding box grown by
``HullTargets.BOX_MARGIN``. DVR's sparse-to-dense schedule: rays per step and samples per
ray grow over the first half of the rendering phase. No depth loss (the synthetic
datasets carry no depth maps).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from humanrecon.dvr.config import DVRConfig
from humanrecon.dvr.model import CHECKPOINT, DVRModel
from humanrecon.dvr.surface import COARSE_DIVISOR, SDF, closest_approach, find_surface, refine_most_inside, surface_depth
from humanrecon.errors import InputError
from humanrecon.geometry.scene import (cropped_views, dataset_bounds, ray_aabb, uniform_points, visual_hull_alpha,
                                      visual_hull_points)
from humanrecon.trainer import Trainer, fit
from humanrecon.training import Progress, TrainingHistory, cosine_decay

#: rays meeting the surface at a cosine below this (|∇f · w| of the distance-like shape
#: value) move only the texture: their implicit gradient grows as 1 / cosine
GRAZING_SLOPE = 0.2
#: refinement samples of each ray's closest approach (:func:`~humanrecon.dvr.surface.closest_approach`)
CLOSEST_REFINE = 16
#: mask edges: pixels within this many pixels of the other side form the ray pool "band"
BAND_PIXELS = 2


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
    ``rgb (P, 3)``, ``inside (P,)`` mask; ``near, far (P,)`` where the ray is in the search
    box (the scene box ``bounds``, which the cameras must see, until :meth:`search_within`
    narrows it), ``in_box (P,)``; and three disjoint pools of ray indices in the box:
    ``band`` (pixels within :data:`BAND_PIXELS` of their mask's edge, where silhouettes
    are decided), ``inner`` and ``outer`` (the rest inside and outside the masks)."""

    def __init__(self, split, bounds: torch.Tensor, device: torch.device) -> None:
        origins, directions = split.cameras.rays()
        self.origins = origins.reshape(-1, 3).to(device)
        self.directions = directions.reshape(-1, 3).to(device)
        self.rgb = split.images.reshape(-1, 3).to(device)
        masks = (split.alpha > 0.5).float()[:, None]
        self.inside = masks.reshape(-1).bool().to(device)
        size = 2 * BAND_PIXELS + 1
        grown = F.max_pool2d(masks, size, stride=1, padding=BAND_PIXELS)
        shrunk = -F.max_pool2d(-masks, size, stride=1, padding=BAND_PIXELS)
        self.edge = (grown != shrunk).reshape(-1).to(device)
        self.search_within(bounds)
        if not len(self.band) + len(self.inner) + len(self.outer):
            raise InputError(f"{split.root}: no camera ray of the '{split.split}' images passes through the scene "
                             f"box {bounds.tolist()}: the cameras do not see the scene")

    def search_within(self, box: torch.Tensor) -> None:
        """Search every ray only inside ``box (2, 3)`` (world metres) from now on."""
        self.near, self.far, self.in_box = ray_aabb(self.origins, self.directions, box.to(self.origins))
        self.band = (self.in_box & self.edge).nonzero()[:, 0]
        self.inner = (self.in_box & self.inside & ~self.edge).nonzero()[:, 0]
        self.outer = (self.in_box & ~self.inside & ~self.edge).nonzero()[:, 0]

    def draw(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """``count`` random ray indices: half from ``band``, a quarter from each other pool
        (an empty pool's share goes to the others)."""
        pools = [(p, w) for p, w in ((self.band, 2), (self.inner, 1), (self.outer, 1)) if len(p)]
        total = sum(w for _, w in pools)
        return torch.cat([pool[torch.randint(len(pool), (count * w // total,), generator=generator).to(pool.device)]
                          for pool, w in pools])


class HullTargets:
    """Points and soft visual-hull targets for the hull losses: ``seeds (K, 3)`` inside the
    hull and ``boundary (L, 3)`` near its surface (world metres), found once from the
    split's cameras and masks; training points are drawn around both, so thin parts
    (arms, fingers) get as many points near their surface as the trunk."""

    #: hull seed points; candidates tried for the boundary; spreads (metres) around each
    SEEDS, BOUNDARY_CANDIDATES = 4096, 200_000
    SEED_SPREAD, BOUNDARY_SPREADS = 0.06, (0.004, 0.015)
    #: the search box: the seeds' bounding box grown by this (metres)
    BOX_MARGIN = 0.1
    #: masks are grown by this many pixels before deciding a point is certainly outside
    OUTSIDE_DILATION = 2

    def __init__(self, split, bounds: torch.Tensor, device: torch.device, generator: torch.Generator) -> None:
        self.cameras = split.cameras.to(device=device)
        self.masks = split.alpha.to(device)
        self.bounds = bounds.to(device)
        #: views whose masks the frame cuts (the object goes on outside them): they do not
        #: judge points outside their frame (DTU's scenes: chosen on a validation split of
        #: the training views, 0.988 mask IoU at 600 steps against 0.984 with every view judging)
        self.crops = cropped_views(self.masks)
        self.seeds = visual_hull_points(split.cameras, split.alpha, self.SEEDS, bounds, generator=generator,
                                        crops=self.crops.cpu()).to(device)
        if len(self.seeds) == 0:
            raise InputError(f"{split.root}: the masks of the '{split.split}' images have no common part inside the "
                             f"scene box {bounds.tolist()} (no visual hull): do the cameras and masks belong together?")
        base = self.seeds[torch.randint(len(self.seeds), (self.BOUNDARY_CANDIDATES,), generator=generator).to(device)]
        candidates = base + 0.03 * torch.randn(base.shape, generator=generator).to(base)
        value = visual_hull_alpha(self.cameras, self.masks, candidates, crops=self.crops)
        boundary = candidates[(value > 0.1) & (value < 0.9)]
        self.boundary = boundary if len(boundary) else self.seeds
        margin = self.BOX_MARGIN
        self.box = torch.stack([torch.maximum(self.seeds.amin(0) - margin, self.bounds[0]),
                                torch.minimum(self.seeds.amax(0) + margin, self.bounds[1])])
        size = 2 * self.OUTSIDE_DILATION + 1
        self.grown_masks = F.max_pool2d(self.masks[:, None], size, stride=1, padding=self.OUTSIDE_DILATION)[:, 0]

    def certainly_outside(self, count: int, generator: torch.Generator) -> torch.Tensor:
        """Of ``count`` uniform points in the scene box, those ``(M, 3)`` that some view sees
        more than :attr:`OUTSIDE_DILATION` pixels outside its mask (empty for sure, even
        for parts thinner than a pixel that the masks' pixel centres can miss)."""
        box = self.bounds
        points = uniform_points(box, count, generator)
        return points[visual_hull_alpha(self.cameras, self.grown_masks, points, crops=self.crops) == 0]

    def sample(self, count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``points (M, 3)``: 1/4 uniform in the box, 1/4 around the hull seeds, 1/2 around
        its boundary; and their soft hull values ``(M,)``."""
        quarter = count // 4
        box = self.bounds

        def around(points: torch.Tensor, spreads: tuple[float, ...], n: int) -> torch.Tensor:
            base = points[torch.randint(len(points), (n * len(spreads),), generator=generator).to(box.device)]
            spread = box.new_tensor(spreads).repeat_interleave(n)[:, None]
            return base + spread * torch.randn(base.shape, generator=generator).to(box)

        uniform = uniform_points(box, quarter, generator)
        points = torch.cat([uniform, around(self.seeds, (self.SEED_SPREAD,), quarter),
                            around(self.boundary, self.BOUNDARY_SPREADS, quarter)])
        return points, visual_hull_alpha(self.cameras, self.masks, points, crops=self.crops)


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
               config: DVRConfig, generator: torch.Generator, temperature: float,
               hull: HullTargets | None = None) -> tuple[torch.Tensor, dict]:
    """DVR's loss on the rays ``index`` (module docstring) with the silhouette terms at
    ``temperature`` (metres), plus the guard against shape outside the hull when ``hull``
    is given; returns ``(loss, parts)``."""
    index = index[rays.in_box[index]]
    o, d = rays.origins[index], rays.directions[index]
    near, far, inside = rays.near[index], rays.far[index], rays.inside[index]
    zero = o.new_zeros(())
    parts = {"rgb": zero, "freespace": zero, "occupancy": zero, "eikonal": zero, "hull": zero}
    coarse = max(2, samples // COARSE_DIVISOR)
    hits = find_surface(model.sdf, o[inside], d[inside], near[inside], far[inside], samples=samples,
                        secant_steps=secant_steps, surface=SDF, coarse=coarse)
    if hits.hit.any():
        _, points = surface_depth(model.sdf, o[inside], d[inside], hits, SDF, min_slope=GRAZING_SLOPE)
        parts["rgb"] = (model.color(points) - rays.rgb[index][inside][hits.hit]).abs().mean()
    # silhouettes: every ray at the point where it passes nearest the shape (deepest if it crosses);
    # inside rays start from their own march's most-inside sample, outside rays march for it
    depth = torch.empty_like(near)
    if inside.any():
        spacing = (far[inside] - near[inside]) / (coarse - 1)  # the coarse march's (the dense one's is finer)
        depth[inside] = refine_most_inside(model.sdf, o[inside], d[inside], hits.deepest, spacing, near[inside],
                                           far[inside], refine=CLOSEST_REFINE, surface=SDF)
    if (~inside).any():
        depth[~inside] = closest_approach(model.sdf, o[~inside], d[~inside], near[~inside], far[~inside],
                                          samples=samples // 2, refine=CLOSEST_REFINE, surface=SDF,
                                          generator=generator)
    logits = -model.sdf(o + depth[:, None] * d) / temperature
    missed = inside.clone()
    missed[inside] = ~hits.hit
    bce = F.binary_cross_entropy_with_logits(logits, inside.to(logits.dtype), reduction="none")
    parts["freespace"] = bce[~inside].sum() / len(index)
    parts["occupancy"] = bce[inside].sum() / len(index)
    if hull is not None and config.hull_weight:
        points = hull.certainly_outside(1024, generator)
        if len(points):
            logits = model.occupancy_logits(points)
            parts["hull"] = F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))
        eikonal_points = torch.cat([points[:128], hull.sample(128, generator)[0]])
    else:
        box = model.bounds
        eikonal_points = uniform_points(box.to(o), 256, generator)
    if config.eikonal_weight:
        parts["eikonal"] = eikonal_loss(model, eikonal_points)
    loss = config.rgb_weight * parts["rgb"] + config.freespace_weight * parts["freespace"] \
        + config.occupancy_weight * parts["occupancy"] + config.eikonal_weight * parts["eikonal"] \
        + config.hull_weight * parts["hull"]
    return loss, {k: float(v.detach()) for k, v in parts.items()} | {"miss": float(missed.sum()) / max(int(inside.sum()), 1)}


class DVRTrainer(Trainer):
    """DVR's losses on a masked dataset split (module docstring), in the shape every
    trainer shares (:class:`humanrecon.trainer.Trainer`). ``dataset``: the dataset's path,
    recorded in checkpoints (``dvr render`` finds its cameras from it)."""

    name, checkpoint_name, model_class = "DVR", CHECKPOINT, DVRModel

    def __init__(self, split, config: DVRConfig, *, device: torch.device, generator: torch.Generator,
                 model: DVRModel | None = None, dataset: str | None = None) -> None:
        check_masks(split)
        self.config, self.generator, self.dataset = config, generator, dataset
        bounds = dataset_bounds(split)
        self.model = model if model is not None else DVRModel(bounds, **config.model_settings()).to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.rays = RayBatch(split, bounds, device)
        self.hull = HullTargets(split, bounds, device, generator) if config.hull_fraction or config.hull_weight \
            else None
        if self.hull is not None:
            self.rays.search_within(self.hull.box)
        self.history = TrainingHistory()
        self.parts: dict = {}

    def step(self, progress: Progress) -> torch.Tensor:
        config, done = self.config, progress.fraction
        if done < config.hull_fraction:
            loss, self.parts = hull_losses(self.model, self.hull, config.hull_points, config, self.generator)
            return loss
        done = (done - config.hull_fraction) / (1.0 - config.hull_fraction)
        count = _schedule(config.rays_start, config.rays, done)
        samples = _schedule(config.samples_start, config.samples, done)
        start, end = config.silhouette_temperature_start, config.silhouette_temperature
        temperature = start * (end / start) ** min(1.0, 2.0 * done)
        loss, self.parts = dvr_losses(self.model, self.rays, self.rays.draw(count, self.generator), samples,
                                      config.secant_steps, config, self.generator, temperature, self.hull)
        return loss

    def learning_rate(self, fraction: float) -> float:
        return cosine_decay(self.config.lr, fraction, self.config.lr_final_fraction)

    def postfix(self) -> dict:
        return {k: f"{v:.3g}" for k, v in self.parts.items()}

    def state_dict(self) -> dict:
        return {"dataset": str(self.dataset) if self.dataset else ""}

    def load_state_dict(self, state: dict) -> None:
        self.dataset = self.dataset or state.get("dataset") or None  # a resumed run keeps its dataset

    def checkpoint_extra(self) -> dict:
        return {"dataset": str(self.dataset) if self.dataset else ""}


def train_dvr(split, out_dir: str | Path, config: DVRConfig | None = None, *, resume: bool = False,
              dataset: str | None = None, hooks=()) -> tuple[DVRModel, TrainingHistory]:
    """Train on a :class:`~humanrecon.datasets.BlenderSplit` with masks; checkpoints go to
    ``out_dir/dvr.pt`` (weights, optimiser, step, elapsed time, random state, ``dataset``:
    recorded for ``dvr render``); ``resume=True`` continues it exactly
    (:func:`humanrecon.trainer.fit`). Returns ``(model in eval mode, history)``; a NaN/inf
    loss raises ``TrainingDivergedError`` naming the last good checkpoint.

    Raises:
        InputError: images without masks, empty masks, cameras that do not see the box.
    """
    return fit(DVRTrainer, split, out_dir, config or DVRConfig(), resume=resume, hooks=hooks, dataset=dataset)
