"""Where rays meet an implicit surface, and exact gradients of that point by implicit
differentiation (DVR, Niemeyer et al. CVPR 2020, Sec. 3).

A field ``f(p)`` (``(M, 3) -> (M,)``: occupancy probability, level ``τ = 0.5``, inside above;
or a signed distance, level 0, inside below) is evaluated at ``samples`` depths uniformly
spaced in ``[near, far]`` along each ray ``p(d) = o + d w``; the first sign change from
outside to inside brackets the surface, and ``secant_steps`` secant (regula falsi) steps
refine it to the depth ``d̂`` with ``f(o + d̂ w) = τ``. A ray without such a change (or one
that starts inside) is a miss. The search runs without autograd, in chunks of rays.

Backward (:func:`surface_depth`): ``f(o + d̂ w; θ) = τ`` defines ``d̂(θ, o, w)``, so

    ∂d̂/∂θ = −(∂f/∂p · w)⁻¹ ∂f/∂θ     (and likewise for o and w),

computed without the marching steps by the first-order construction
``d = d̂ − (f(o + d̂ w) − τ) / sg(∂f/∂p · w)`` around the detached ``d̂`` (``sg``: no
gradient). Its value is ``d̂`` (up to the search's residual) and its gradient is the
implicit one; only one field evaluation per ray is kept for backward.
:func:`unrolled_surface_depth` is the same search with autograd through every step: the
reference in the tests and the memory baseline of ``tools/bench_dvr.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from humanrecon.errors import InputError

Field = Callable[[torch.Tensor], torch.Tensor]
#: defaults of DVR: 128 samples per ray in training (more at test time), 8 secant steps
SAMPLES, SECANT_STEPS = 128, 8
CHUNK_RAYS = 4096
#: the slope bound of a distance-like shape value (eikonal-trained: |∇f| ≈ 1, with room)
#: that decides which rays the coarse march of :func:`find_surface` marches again
DISTANCE_LIPSCHITZ = 1.5
#: the coarse march of a distance-like field takes samples // COARSE_DIVISOR samples
COARSE_DIVISOR = 4
#: points per field call: an MLP's activations for 32k points stay in cache; 262k-point
#: calls were 1.6x slower per point on the 2-core CPU (measured 2026-12-04)
FIELD_BATCH = 32768


def _evaluate(field: Field, points: torch.Tensor, batch: int = FIELD_BATCH) -> torch.Tensor:
    """``field`` at ``points (M, 3)``, ``batch`` points per call: ``(M,)``."""
    if len(points) <= batch:
        return field(points)
    return torch.cat([field(points[s:s + batch]) for s in range(0, len(points), batch)])


@dataclass
class SurfaceLevel:
    """Which level set is the surface and which side is inside: ``level`` and
    ``inside = "above"`` (occupancy, ``τ = 0.5``) or ``"below"`` (signed distance, 0)."""

    level: float = 0.5
    inside: str = "above"

    def __post_init__(self) -> None:
        if self.inside not in ("above", "below"):
            raise InputError(f"inside must be 'above' or 'below', got {self.inside!r}")

    def signed(self, values: torch.Tensor) -> torch.Tensor:
        """``> 0`` inside, ``< 0`` outside, 0 on the surface."""
        return values - self.level if self.inside == "above" else self.level - values


OCCUPANCY = SurfaceLevel(0.5, "above")
SDF = SurfaceLevel(0.0, "below")


@dataclass
class RayHits:
    """Result of :func:`find_surface` for ``R`` rays: ``depth (R,)`` ray parameter of the
    surface point (metres along unit directions; ``far`` for misses), ``hit (R,)`` bool,
    ``points (R, 3)`` world surface points (``o + depth · w``; meaningless for misses);
    ``deepest (R,)``: depth of the march's sample most inside the surface (largest
    ``surface.signed``: the closest approach to the shape of a ray that misses, the
    deepest point of one that crosses it), to the sample spacing (:func:`refine_most_inside`
    sharpens it)."""

    depth: torch.Tensor
    hit: torch.Tensor
    points: torch.Tensor
    deepest: torch.Tensor | None = None


def _check_rays(origins: torch.Tensor, directions: torch.Tensor) -> None:
    if origins.ndim != 2 or origins.shape[-1] != 3 or directions.shape != origins.shape:
        raise InputError(f"origins and directions must both be (R, 3), got {tuple(origins.shape)} and "
                         f"{tuple(directions.shape)}")


def _as_per_ray(value, rays: int, like: torch.Tensor) -> torch.Tensor:
    value = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    return value.expand(rays) if value.ndim == 0 else value.reshape(rays)


def _search(field: Field, origins: torch.Tensor, directions: torch.Tensor, near: torch.Tensor, far: torch.Tensor,
            samples: int, secant_steps: int, surface: SurfaceLevel, deepest: bool = False,
            lipschitz: float | None = None) -> tuple[torch.Tensor, ...]:
    """Depth ``(R,)`` and hit ``(R,)`` of one chunk; with ``deepest``, also the depth
    ``(R,)`` of the sample most inside and (``lipschitz`` given, else None) ``doubtful
    (R,)``: rays that start outside where, before the interval ahead of the first crossing
    (anywhere if none), two neighbouring outside samples are so close to the surface that a
    field with ``|∇f| ≤ lipschitz`` could cross it and back between them (``|v_a| + |v_b|
    < lipschitz · spacing``). Differentiable if the caller allows."""
    steps = torch.linspace(0.0, 1.0, samples, dtype=origins.dtype, device=origins.device)
    depths = near[:, None] + (far - near)[:, None] * steps  # (R, S)
    points = origins[:, None] + depths[..., None] * directions[:, None]
    values = surface.signed(_evaluate(field, points.reshape(-1, 3)).reshape(depths.shape))
    crossing = (values[:, :-1] <= 0) & (values[:, 1:] > 0)  # outside -> inside
    starts_outside = values[:, 0] <= 0
    hit = crossing.any(1) & starts_outside
    first = torch.where(crossing.any(1), crossing.float().argmax(1), torch.zeros_like(hit, dtype=torch.long))
    rows = torch.arange(len(depths), device=depths.device)
    d_out, d_in = depths[rows, first], depths[rows, first + 1]
    v_out, v_in = values[rows, first], values[rows, first + 1]
    for _ in range(secant_steps):
        d_mid = d_out - v_out * (d_in - d_out) / (v_in - v_out).where(v_in != v_out, torch.ones_like(v_in))
        v_mid = surface.signed(field(origins + d_mid[:, None] * directions))
        inside = v_mid > 0
        d_in, v_in = torch.where(inside, d_mid, d_in), torch.where(inside, v_mid, v_in)
        d_out, v_out = torch.where(inside, d_out, d_mid), torch.where(inside, v_out, v_mid)
    depth = d_out - v_out * (d_in - d_out) / (v_in - v_out).where(v_in != v_out, torch.ones_like(v_in))
    if not deepest:
        return torch.where(hit, depth, far), hit
    doubtful = None
    if lipschitz is not None:
        spacing = (far - near) / (samples - 1)
        close = (values[:, :-1] <= 0) & (values[:, 1:] <= 0) & \
            (-(values[:, :-1] + values[:, 1:]) < lipschitz * spacing[:, None])
        before = torch.arange(samples - 1, device=depths.device) < torch.where(crossing.any(1), first - 1, samples)[:, None]
        doubtful = (close & before).any(1) & starts_outside
    return torch.where(hit, depth, far), hit, depths.gather(1, values.argmax(1, keepdim=True))[:, 0], doubtful


def find_surface(field: Field, origins: torch.Tensor, directions: torch.Tensor, near, far, *,
                 samples: int = SAMPLES, secant_steps: int = SECANT_STEPS, surface: SurfaceLevel = OCCUPANCY,
                 chunk: int = CHUNK_RAYS, coarse: int | None = None,
                 lipschitz: float = DISTANCE_LIPSCHITZ) -> RayHits:
    """The first surface crossing along each ray, without gradients.

    With ``coarse`` (a distance-like field: ``surface.signed`` is minus a distance to the
    surface that changes by at most ``lipschitz`` per metre), every ray is first marched
    with ``coarse`` samples, and only the rays where that march could have stepped over a
    thin part (two neighbouring samples with ``|v_a| + |v_b| < lipschitz · spacing``
    ahead of the interval before the first crossing) are marched again with ``samples``;
    the others' crossings are bracketed at the dense spacing by a dense march over the
    coarse intervals around them. The same hits and depths as the dense march for such a
    field, at a fraction of the cost.

    Args:
        field: ``points (M, 3) -> values (M,)`` in world units.
        origins, directions: ``(R, 3)`` rays (world frame; directions unit length for depths
            in metres, as :meth:`humanrecon.geometry.Camera.rays` gives them).
        near, far: scalars or ``(R,)`` depth range searched.
        samples: uniform samples per ray (DVR: 128 in training); secant_steps: refinement.
        surface: :data:`OCCUPANCY` (default) or :data:`SDF`, or any :class:`SurfaceLevel`.
        chunk: rays per field batch.
        coarse, lipschitz: the first march's samples (None: one dense march) and the bound
            on the field's slope that decides which rays to march again.
    Returns:
        :class:`RayHits` (with ``deepest``, from the march that decided each ray).
    """
    _check_rays(origins, directions)
    if samples < 2 or secant_steps < 0:
        raise InputError(f"need samples >= 2 and secant_steps >= 0, got {samples}, {secant_steps}")
    if coarse is not None and not (2 <= coarse and lipschitz > 0):
        raise InputError(f"need coarse >= 2 samples and lipschitz > 0, got {coarse}, {lipschitz}")
    if coarse is not None and coarse >= samples:
        coarse = None
    rays = origins.shape[0]
    near, far = _as_per_ray(near, rays, origins), _as_per_ray(far, rays, origins)
    depth = torch.empty(rays, dtype=origins.dtype, device=origins.device)
    hit = torch.empty(rays, dtype=torch.bool, device=origins.device)
    deepest = torch.empty_like(depth)
    with torch.no_grad():
        for s in range(0, rays, chunk):
            e = s + chunk
            o, w, n, f = origins[s:e], directions[s:e], near[s:e], far[s:e]
            if coarse is None:
                depth[s:e], hit[s:e], deepest[s:e], _ = _search(field, o, w, n, f, samples, secant_steps, surface,
                                                                deepest=True)
                continue
            d, h, deep, doubtful = _search(field, o, w, n, f, coarse, secant_steps, surface, deepest=True,
                                           lipschitz=lipschitz)
            again = doubtful.nonzero()[:, 0]
            if len(again):
                d[again], h[again], deep[again], _ = _search(field, o[again], w[again], n[again], f[again], samples,
                                                             secant_steps, surface, deepest=True)
            # the other hits: the dense march's bracket, from a dense march over the coarse
            # intervals around the crossing (the secant's result then matches the dense one)
            settled = (h & ~doubtful).nonzero()[:, 0]
            if len(settled):
                spacing = (f[settled] - n[settled]) / (coarse - 1)
                lo = torch.maximum(d[settled] - 2 * spacing, n[settled])
                hi = torch.minimum(d[settled] + spacing, f[settled])
                fine = 3 * -(-(samples - 1) // (coarse - 1)) + 1
                d2, h2 = _search(field, o[settled], w[settled], lo, hi, fine, secant_steps, surface)
                d[settled] = torch.where(h2, d2, d[settled])
            depth[s:e], hit[s:e], deepest[s:e] = d, h, deep
    return RayHits(depth, hit, origins + depth[:, None] * directions, deepest)


def _most_inside(field: Field, origins: torch.Tensor, directions: torch.Tensor, candidates: torch.Tensor,
                 surface: SurfaceLevel, chunk: int) -> torch.Tensor:
    """Of the candidate depths ``(R, K)`` of each ray, the one ``(R,)`` most inside."""
    best = []
    per_chunk = max(1, chunk * 64 // max(candidates.shape[1], 1))  # about chunk x 64 points per field batch
    for s in range(0, len(candidates), per_chunk):
        d = candidates[s:s + per_chunk]
        points = origins[s:s + per_chunk, None] + d[..., None] * directions[s:s + per_chunk, None]
        values = surface.signed(_evaluate(field, points.reshape(-1, 3))).reshape(d.shape)
        best.append(d.gather(1, values.argmax(1, keepdim=True))[:, 0])
    return torch.cat(best) if best else candidates.new_zeros(0)


def refine_most_inside(field: Field, origins: torch.Tensor, directions: torch.Tensor, depth: torch.Tensor,
                       width, near, far, *, refine: int = 16, surface: SurfaceLevel = OCCUPANCY,
                       chunk: int = CHUNK_RAYS) -> torch.Tensor:
    """Sharpen the most-inside depth ``(R,)`` of rays ``(R, 3)`` found on samples ``width``
    apart (metres; scalar or ``(R,)``): the best of ``refine`` uniform depths within one
    ``width`` either side, kept inside ``[near, far]``. Without gradients; ``(R,)``."""
    rays = origins.shape[0]
    near, far = _as_per_ray(near, rays, origins), _as_per_ray(far, rays, origins)
    width = _as_per_ray(width, rays, origins)
    if refine == 0 or rays == 0:
        return depth.clone()
    spread = torch.linspace(-1.0, 1.0, refine, dtype=origins.dtype, device=origins.device)
    with torch.no_grad():
        candidates = torch.minimum(torch.maximum(depth[:, None] + width[:, None] * spread, near[:, None]), far[:, None])
        return _most_inside(field, origins, directions, candidates, surface, chunk)


def closest_approach(field: Field, origins: torch.Tensor, directions: torch.Tensor, near, far, *,
                     samples: int = 64, refine: int = 16, surface: SurfaceLevel = OCCUPANCY,
                     generator: torch.Generator | None = None, chunk: int = CHUNK_RAYS) -> torch.Tensor:
    """Depth ``(R,)`` (metres along unit directions) of the point of each ray that is most
    inside the surface (largest ``surface.signed``: for a distance, the ray's closest
    approach to the shape; for a ray that crosses it, its deepest point), without gradients.

    ``samples`` stratified depths in ``[near, far]`` (one uniform draw per stratum from
    ``generator``; exactly the stratum centres when ``generator`` is None), then ``refine``
    uniform depths within one stratum either side of the best (:func:`refine_most_inside`).
    This is where DVR's occupancy loss (rays inside a mask that miss) and free-space loss
    (rays outside a mask) act: moving the surface where the ray passes nearest to it, not
    at an arbitrary point of the ray, which would grow or carve a blob there.
    """
    _check_rays(origins, directions)
    if samples < 1 or refine < 0:
        raise InputError(f"need samples >= 1 and refine >= 0, got {samples}, {refine}")
    rays = origins.shape[0]
    near, far = _as_per_ray(near, rays, origins), _as_per_ray(far, rays, origins)
    width = (far - near) / samples
    if generator is None:
        offsets = torch.full((rays, samples), 0.5, dtype=origins.dtype, device=origins.device)
    else:
        offsets = torch.rand(rays, samples, generator=generator).to(origins)
    depth = near[:, None] + width[:, None] * (torch.arange(samples, device=origins.device) + offsets)
    with torch.no_grad():
        best = _most_inside(field, origins, directions, depth, surface, chunk) if rays else near.clone()
    return refine_most_inside(field, origins, directions, best, width, near, far, refine=refine, surface=surface,
                              chunk=chunk)


def surface_depth(field: Field, origins: torch.Tensor, directions: torch.Tensor, hits: RayHits,
                  surface: SurfaceLevel = OCCUPANCY, *, min_slope: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor]:
    """Differentiable depths ``(H,)`` and surface points ``(H, 3)`` of the rays that hit
    (``hits.hit``), with DVR's implicit gradient with respect to the field's parameters,
    the origins and the directions (module docstring). Rays that graze the surface
    (``|∂f/∂p · w| < min_slope``, field units per metre) get no gradient: the implicit
    gradient grows as ``1 / slope`` there."""
    o, w = origins[hits.hit], directions[hits.hit]
    d0 = hits.depth[hits.hit].detach()
    p0 = (o.detach() + d0[:, None] * w.detach()).requires_grad_(True)
    with torch.enable_grad():
        value = surface.signed(field(p0))
        grad_p, = torch.autograd.grad(value.sum(), p0)
    slope = (grad_p * w.detach()).sum(-1)  # ∂f/∂d at the surface: > 0 when entering
    slope = torch.where(slope.abs() >= min_slope, slope, torch.full_like(slope, float("inf")))
    # value(θ) evaluated at the moving point o + d0 w, so o and w get their gradient too
    moving = surface.signed(field(o + d0[:, None] * w))
    depth = d0 - (moving - moving.detach()) / slope.detach() - value.detach() / slope.detach()
    return depth, o + depth[:, None] * w


def unrolled_surface_depth(field: Field, origins: torch.Tensor, directions: torch.Tensor, near, far, *,
                           samples: int = SAMPLES, secant_steps: int = SECANT_STEPS,
                           surface: SurfaceLevel = OCCUPANCY) -> tuple[torch.Tensor, torch.Tensor]:
    """The same search as :func:`find_surface` with autograd through every field
    evaluation and secant step (no chunking): ``(depth (R,), hit (R,))``. The reference
    for :func:`surface_depth` and the memory baseline."""
    _check_rays(origins, directions)
    rays = origins.shape[0]
    return _search(field, origins, directions, _as_per_ray(near, rays, origins), _as_per_ray(far, rays, origins),
                   samples, secant_steps, surface)


def saved_tensor_bytes(fn: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Run ``fn()`` and count the bytes of every tensor autograd saves for backward
    (``torch.autograd.graph.saved_tensors_hooks``; a tensor saved twice counts twice, as
    it may be kept twice). Returns ``(fn's result, bytes)``."""
    total = 0

    def pack(tensor: torch.Tensor):
        nonlocal total
        total += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        out = fn()
    return out, total
