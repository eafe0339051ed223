"""Volume rendering on packed samples: ray–box intersection, uniform ray marching with
occupancy culling, and alpha compositing.

Samples of many rays are *packed*: flat tensors of length ``S`` sorted by ray, with
``ray_indices (S,)`` naming each sample's ray (as in nerfacc). Ray parameters ``t`` are
Euclidean distances along unit directions (metres, world frame). For a ray with samples
``i = 0..n-1``, densities ``σ_i`` (1/m) and interval lengths ``δ_i`` (m)::

    α_i = 1 − exp(−σ_i δ_i)           T_i = Π_{j<i} (1 − α_j) = exp(−Σ_{j<i} σ_j δ_j)
    w_i = T_i α_i                      C = Σ_i w_i c_i + (1 − Σ_i w_i) · background
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from humanrecon.geometry.scene import ray_aabb  # also re-exported as humanrecon.nerf.ray_aabb


@dataclass
class PackedSamples:
    """Samples of ``n_rays`` rays: ``ray_indices (S,)`` int64 sorted ascending,
    ``t_starts (S,)`` / ``t_ends (S,)`` interval bounds in metres along each ray."""

    ray_indices: torch.Tensor
    t_starts: torch.Tensor
    t_ends: torch.Tensor
    n_rays: int

    def __len__(self) -> int:
        return len(self.ray_indices)

    @property
    def deltas(self) -> torch.Tensor:
        """Interval lengths ``(S,)`` in metres."""
        return self.t_ends - self.t_starts

    def points(self, origins: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
        """Interval midpoints ``(S, 3)`` in world coordinates for rays ``(R, 3)``."""
        t_mid = 0.5 * (self.t_starts + self.t_ends)
        return origins[self.ray_indices] + t_mid[:, None] * directions[self.ray_indices]

    def select(self, mask: torch.Tensor) -> "PackedSamples":
        """The samples where ``mask (S,)`` is True (order kept)."""
        return PackedSamples(self.ray_indices[mask], self.t_starts[mask], self.t_ends[mask], self.n_rays)


def march_rays(origins: torch.Tensor, directions: torch.Tensor, bounds: torch.Tensor, step: float, *,
               occupied: Callable[[torch.Tensor], torch.Tensor] | None = None,
               spans: Callable[..., tuple[torch.Tensor, torch.Tensor]] | None = None, jitter: bool = False,
               generator: torch.Generator | None = None, near: float = 0.0,
               chunk_samples: int = 1 << 22) -> PackedSamples:
    """Uniform samples of length ``step`` (metres) along unit-direction rays ``(R, 3)``
    inside ``bounds (2, 3)``, keeping only those whose midpoint ``occupied(points (N, 3))
    -> (N,) bool`` accepts (an occupancy grid; None keeps all).

    ``spans(origins, directions, t_near, t_far) -> (t_start, t_end)`` may narrow each
    ray's interval first (the occupancy grid's coarse pre-pass); samples then start at
    ``t_start`` and stop before ``t_end``. ``jitter`` shifts each ray's first sample by U(0, step) (stratified sampling for
    training; deterministic without). Candidates are generated ``chunk_samples`` at a
    time, so memory stays bounded for long rays. Returns :class:`PackedSamples` sorted
    by ray, then ``t``.
    """
    n_rays = len(origins)
    device, dtype = origins.device, origins.dtype
    t_near, t_far, hit = ray_aabb(origins, directions, bounds, near)
    if spans is not None:  # narrow, keeping the samples on the same step lattice
        t_start, t_far = spans(origins, directions, t_near, t_far)
        t_near = t_near + torch.floor((t_start - t_near).clamp_min(0) / step) * step
        hit = t_far > t_near
    rays = torch.nonzero(hit).squeeze(1)
    if jitter:
        offset = torch.rand(n_rays, generator=generator).to(device=device, dtype=dtype) * step
    else:
        offset = torch.zeros(n_rays, dtype=dtype, device=device)
    max_steps = int(torch.ceil(((t_far - t_near)[hit].max() / step)).item()) if len(rays) else 0
    pieces: list[tuple[torch.Tensor, torch.Tensor]] = []
    rays_per_chunk = max(1, chunk_samples // max(max_steps, 1))
    k = torch.arange(max_steps, device=device, dtype=dtype)
    for start in range(0, len(rays), rays_per_chunk):
        r = rays[start:start + rays_per_chunk]
        t0 = t_near[r, None] + offset[r, None] + k[None] * step  # (r, K)
        keep = t0 < t_far[r, None]  # the last interval may overhang the box by < step
        ray_idx = r[:, None].expand_as(t0)[keep]
        t_start = t0[keep]
        if occupied is not None and len(t_start):
            mid = origins[ray_idx] + (t_start + 0.5 * step)[:, None] * directions[ray_idx]
            inside = occupied(mid)
            ray_idx, t_start = ray_idx[inside], t_start[inside]
        pieces.append((ray_idx, t_start))
    if pieces:
        ray_indices = torch.cat([p[0] for p in pieces])
        t_starts = torch.cat([p[1] for p in pieces])
    else:
        ray_indices = torch.zeros(0, dtype=torch.long, device=device)
        t_starts = torch.zeros(0, dtype=dtype, device=device)
    return PackedSamples(ray_indices, t_starts, t_starts + step, n_rays)


def exclusive_segment_cumsum(values: torch.Tensor, ray_indices: torch.Tensor) -> torch.Tensor:
    """``Σ_{j<i, same ray} values_j`` for packed ``values (S,)`` sorted by ``ray_indices``.

    Accumulates in float64 (a float32 running sum over millions of samples would lose
    the small per-ray sums to rounding) and returns ``values``' dtype; differentiable."""
    if len(values) == 0:
        return values.clone()
    v = values.double()
    inclusive = torch.cumsum(v, 0)
    exclusive = inclusive - v
    first = torch.ones_like(ray_indices, dtype=torch.bool)
    first[1:] = ray_indices[1:] != ray_indices[:-1]
    segment = torch.cumsum(first.long(), 0) - 1
    base = exclusive[first][segment]
    return (exclusive - base).to(values.dtype)


def render_weights(sigmas: torch.Tensor, samples: PackedSamples) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Compositing weights of packed samples: ``sigmas (S,)`` ≥ 0 (1/m) →
    ``weights (S,)``, ``transmittance (S,)`` (light reaching each sample's start) and
    ``alphas (S,)``, with the formulas of the module docstring."""
    optical = sigmas * samples.deltas
    transmittance = torch.exp(-exclusive_segment_cumsum(optical, samples.ray_indices))
    alphas = 1.0 - torch.exp(-optical)
    return transmittance * alphas, transmittance, alphas


def accumulate(values: torch.Tensor, weights: torch.Tensor, ray_indices: torch.Tensor, n_rays: int) -> torch.Tensor:
    """Per-ray weighted sums: ``values (S, C)`` or ``(S,)`` → ``(n_rays, C)`` / ``(n_rays,)``."""
    weighted = weights[:, None] * values if values.dim() == 2 else weights * values
    out = torch.zeros((n_rays,) + tuple(values.shape[1:]), dtype=weighted.dtype, device=weighted.device)
    return out.index_add(0, ray_indices, weighted)


@dataclass
class RenderedRays:
    """Per-ray results: ``rgb (R, 3)`` over the background, ``opacity (R,)`` in [0, 1],
    ``depth (R,)`` expected ray distance in metres of the visible surface (0 for empty
    rays; divide by opacity for the conditional depth), ``weights (S,)`` per sample."""

    rgb: torch.Tensor
    opacity: torch.Tensor
    depth: torch.Tensor
    weights: torch.Tensor


def composite(sigmas: torch.Tensor, colors: torch.Tensor, samples: PackedSamples,
              background: torch.Tensor | float = 1.0) -> RenderedRays:
    """Alpha-composite packed samples front to back.

    Args:
        sigmas: ``(S,)`` densities ≥ 0 in 1/m. colors: ``(S, 3)`` RGB in [0, 1].
        samples: the packed intervals (sorted by ray, then ``t``).
        background: ``(3,)``, ``(R, 3)`` or a scalar grey, composited behind each ray
            with its remaining transmittance ``1 − opacity``.
    """
    weights, _, _ = render_weights(sigmas, samples)
    opacity = accumulate(weights, torch.ones_like(weights), samples.ray_indices, samples.n_rays)
    rgb = accumulate(colors, weights, samples.ray_indices, samples.n_rays)
    t_mid = 0.5 * (samples.t_starts + samples.t_ends)
    depth = accumulate(t_mid, weights, samples.ray_indices, samples.n_rays)
    bg = torch.as_tensor(background, dtype=rgb.dtype, device=rgb.device)
    rgb = rgb + (1.0 - opacity)[:, None] * bg
    return RenderedRays(rgb, opacity, depth, weights)
