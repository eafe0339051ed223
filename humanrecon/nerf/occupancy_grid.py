"""Instant-NGP's occupancy grid: a coarse voxel grid of density estimates (exponential
moving average of maxima) whose bitfield tells the ray marcher which space is empty.

The grid covers ``bounds (2, 3)`` (world, metres) with ``resolution³`` cells. A cell is
*occupied* when its density estimate ``σ`` would make a marching step opaque enough to
matter: ``σ · step ≥ alpha_threshold`` (as nerfacc's ``occ_thre``), or when ``σ`` is
above the grid's mean (Instant-NGP's ``min(threshold, mean)`` rule, which keeps early,
low-density fields visible).
"""

from __future__ import annotations

import warnings
from typing import Callable

import torch
from torch import nn

from humanrecon.errors import InputError


class OccupancyGrid(nn.Module):
    """Density EMA + bitfield over a box; call :meth:`update` every few training steps.

    Args:
        bounds: ``(2, 3)`` box ``[min, max]`` in metres (world frame).
        resolution: cells per axis.
        step: the marcher's step length in metres (sets the density threshold).
        alpha_threshold: minimum opacity ``1 − exp(−σ·step)`` for a cell to count.
        decay: EMA factor applied to the old estimate before taking the max with a new one.
    Buffers ``density (res³,)`` and ``occupied (res³,)`` bool are saved with the model;
    the grid starts fully occupied.
    """

    def __init__(self, bounds, resolution: int = 64, step: float = 0.01, alpha_threshold: float = 0.01,
                 decay: float = 0.95) -> None:
        super().__init__()
        if resolution < 4 or resolution % 4:
            raise InputError(f"occupancy-grid resolution must be a multiple of 4 (coarse cells are 4³), got {resolution}")
        self.register_buffer("bounds", torch.as_tensor(bounds, dtype=torch.float32).reshape(2, 3).clone())
        self.resolution = int(resolution)
        self.step = float(step)
        self.alpha_threshold = float(alpha_threshold)
        self.decay = float(decay)
        n = self.resolution ** 3
        self.register_buffer("density", torch.zeros(n))
        self.register_buffer("occupied", torch.ones(n, dtype=torch.bool))
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))
        self._coarse: tuple[int, torch.Tensor] | None = None  # (update count, dilated coarse grid)

    @property
    def density_threshold(self) -> float:
        """``σ`` (1/m) above which a cell counts as occupied: ``−ln(1 − α_thr) / step``."""
        return -torch.log1p(torch.tensor(-self.alpha_threshold)).item() / self.step

    @property
    def occupied_fraction(self) -> float:
        return self.occupied.float().mean().item()

    def cell_indices(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``points (N, 3)`` → flat cell index ``(N,)`` and ``inside (N,)`` bool."""
        lo, hi = self.bounds[0], self.bounds[1]
        u = (points - lo) / (hi - lo)
        inside = ((u >= 0) & (u < 1)).all(dim=-1)
        ijk = (u.clamp(0, 1 - 1e-6) * self.resolution).long()
        r = self.resolution
        return (ijk[:, 0] * r + ijk[:, 1]) * r + ijk[:, 2], inside

    def is_occupied(self, points: torch.Tensor) -> torch.Tensor:
        """``points (N, 3)`` world → ``(N,)`` bool: inside the box and in an occupied cell."""
        index, inside = self.cell_indices(points)
        return self.occupied[index] & inside

    def cell_centres(self, index: torch.Tensor, jitter: bool = False,
                     generator: torch.Generator | None = None) -> torch.Tensor:
        """World positions ``(N, 3)`` of cells ``index (N,)`` (a random point in each cell
        when ``jitter``)."""
        r = self.resolution
        ijk = torch.stack([index // (r * r), (index // r) % r, index % r], dim=-1).float()
        offset = torch.rand(ijk.shape, generator=generator) if jitter else torch.full(ijk.shape, 0.5)
        lo, hi = self.bounds[0], self.bounds[1]
        return lo + (ijk + offset.to(ijk.device)) / r * (hi - lo)

    def coarse_occupied(self, factor: int = 4) -> torch.Tensor:
        """``(r', r', r')`` bool with ``r' = resolution / factor``: a coarse cell is set
        when it or one of its 26 neighbours holds an occupied fine cell (dilated by one
        coarse cell). Cached until the next :meth:`update`."""
        version = int(self.updates)
        if self._coarse is None or self._coarse[0] != version or self._coarse[1].shape[0] != self.resolution // factor:
            c = self.resolution // factor
            fine = self.occupied.reshape(c, factor, c, factor, c, factor).float()
            coarse = fine.amax(dim=(1, 3, 5))
            dilated = torch.nn.functional.max_pool3d(coarse[None, None], 3, stride=1, padding=1)[0, 0] > 0
            self._coarse = (version, dilated)
        return self._coarse[1]

    def ray_spans(self, origins: torch.Tensor, directions: torch.Tensor, t_near: torch.Tensor,
                  t_far: torch.Tensor, factor: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
        """Narrow each ray's ``[t_near, t_far]`` (``(R,)``, metres along unit
        ``directions (R, 3)``) to the part that may meet occupied cells, by marching the
        dilated coarse grid (:meth:`coarse_occupied`) with half-cell steps: the dilation
        is one coarse cell wide, so no ray can cross an occupied fine cell between two
        coarse samples. Returns the new ``(t_start, t_end)``; empty rays get
        ``t_end <= t_start``."""
        coarse = self.coarse_occupied(factor)
        c = coarse.shape[0]
        lo, hi = self.bounds[0], self.bounds[1]
        cell = float((hi - lo).min()) / c
        step = 0.5 * cell
        n = int(torch.ceil((t_far - t_near).clamp_min(0).max() / step).item()) + 1 if len(t_near) else 0
        t = t_near[:, None] + step * torch.arange(n, dtype=t_near.dtype, device=t_near.device)  # (R, n)
        points = origins[:, None] + t[..., None] * directions[:, None]
        ijk = ((points - lo) / (hi - lo) * c).long().clamp(0, c - 1)
        hit = coarse[ijk[..., 0], ijk[..., 1], ijk[..., 2]] & (t < t_far[:, None])
        any_hit = hit.any(dim=1)
        first = torch.where(any_hit, hit.float().argmax(dim=1), torch.zeros_like(t_near, dtype=torch.long))
        last = n - 1 - torch.where(any_hit, hit.flip(1).float().argmax(dim=1), torch.zeros_like(first))
        rows = torch.arange(len(t_near), device=t_near.device)
        t_start = torch.where(any_hit, (t[rows, first] - step).clamp_min(0).maximum(t_near), t_far)
        t_end = torch.where(any_hit, (t[rows, last] + step).minimum(t_far), t_far)
        return t_start, t_end

    @torch.no_grad()
    def update(self, density_fn: Callable[[torch.Tensor], torch.Tensor], *, all_cells: bool = True,
               fraction: float = 0.25, generator: torch.Generator | None = None, chunk: int = 1 << 17) -> None:
        """Refresh the estimates with ``density_fn(points (N, 3)) -> σ (N,)``.

        ``all_cells``: evaluate every cell (warm-up); otherwise a random ``fraction`` of the
        cells plus every occupied one (Instant-NGP's schedule). Each visited cell gets
        ``max(decay · old, σ(random point in the cell))``. If the new bitfield would be
        empty (everything culled: a collapsed or untrained field) the grid is reset to fully
        occupied with a warning rather than leaving nothing to render or train.
        """
        n = self.resolution ** 3
        device = self.density.device
        if all_cells:
            index = torch.arange(n, device=device)
        else:
            pick = torch.rand(n, generator=generator).to(device) < fraction
            index = torch.nonzero(pick | self.occupied).squeeze(1)
        points = self.cell_centres(index, jitter=True, generator=generator).to(device)
        new = torch.cat([density_fn(points[i:i + chunk]).reshape(-1).float() for i in range(0, len(points), chunk)])
        new = torch.nan_to_num(new, nan=0.0, posinf=1e6).clamp_min(0)
        self.density[index] = torch.maximum(self.density[index] * self.decay, new)
        threshold = min(self.density_threshold, self.density.mean().item())
        occupied = self.density > threshold
        self.updates += 1
        if not occupied.any():
            warnings.warn("occupancy grid: every cell is empty (the field has no density anywhere); "
                          "resetting it to fully occupied", RuntimeWarning, stacklevel=2)
            self.occupied.fill_(True)
            return
        self.occupied.copy_(occupied)
