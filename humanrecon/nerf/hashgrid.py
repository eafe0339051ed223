"""Instant-NGP's multiresolution hash-grid encoding (Müller et al. 2022, "Instant Neural
Graphics Primitives with a Multiresolution Hash Encoding"), in pure PyTorch.

Conventions
-----------
* Inputs are points in world coordinates (metres), ``(N, 3)`` or ``(…, 3)``. An
  axis-aligned box ``bounds (2, 3)`` (``[min, max]`` corners, metres) maps them to the unit
  cube, ``u = (x - min) / (max - min)``. Points outside the box are **clamped** onto it
  (so they read the features of the nearest box face, and get zero gradient w.r.t. the
  clamped coordinate).
* Level ``l`` has resolution ``N_l = floor(base · b^l)`` with growth factor
  ``b = exp((ln finest - ln base) / (levels - 1))``, so the first level is ``base`` and the
  last ``finest``. Its grid vertex coordinates are ``u · N_l``: a level has **N_l + 1
  vertices per axis** (integer coordinates ``0 … N_l``), cell ``i`` spans ``[i, i + 1]``.
* A level whose dense grid fits the table, ``(N_l + 1)^3 <= T`` with ``T = 2^log2_table_size``,
  is indexed one-to-one, ``row = x + (N_l+1)·y + (N_l+1)²·z``, in a table of exactly
  ``(N_l + 1)^3`` rows. Finer levels use the spatial hash of the paper / tiny-cuda-nn,
  ``row = (x·1 ⊕ y·2654435761 ⊕ z·805459861) mod T`` (see :func:`spatial_hash`), in a table
  of ``T`` rows.
* Each point's feature at a level is the trilinear interpolation of the 8 surrounding
  vertices' feature vectors; the encoding concatenates the levels, coarsest first:
  ``(N, levels · features_per_level)``.
* All levels' tables live in one ``nn.Parameter`` ``table (rows, features_per_level)``,
  initialised U(-1e-4, 1e-4), so the tables can get their own optimizer parameter group.
  Level ``l`` owns rows ``offsets[l] : offsets[l] + table_sizes[l]``. The hashed levels are
  stored first (so their offsets are multiples of ``T`` and can be OR-ed into the hash),
  then the dense ones.

The encoding is differentiable w.r.t. the table and the input points (the trilinear weights
are differentiable in ``x``: normals, eikonal losses), to any order. It works in float32
(default) and float64 (``.double()``); the output follows the table's dtype and device.

Speed on CPU
------------
Without a compiler the cost is memory traffic: computing ``8 · levels · N`` corner rows
and weights, gathering those rows and, backward, accumulating their gradients into the
table. Choices, each measured on CPU (``N = 2^18`` points, 16 levels, ``T = 2^19``):

* Rows are gathered and scattered as **one element per row**: with two features the
  table is viewed as complex numbers (two float32 → one complex64) and moved by a 1-D
  ``index_select`` forward and ``scatter_add_`` backward (:class:`_GatherRows`). The
  generic paths are 1.3-4x slower end to end (``table[idx]`` → ``index_put_``,
  ``F.embedding`` → ``embedding_backward``, 2-D ``index_select`` → ``index_add_``,
  ``gather`` on the flat table).
* One loop over levels (each level's table stays in cache) rather than one broadcast over
  all levels (about 2x slower), with all levels' gradients scattered into one zero-filled
  buffer.
* Points on the last axis (``(3, N)``, corners ``(8, N)``): long contiguous loops, and
  the sum over corners is a reduction over the leading axis (3x faster than ``bmm``).
"""

from __future__ import annotations

import math
from typing import Sequence, Union

import numpy as np
import torch
from torch import nn

from humanrecon._validation import box_tensor
from humanrecon.errors import InputError

ArrayLike = Union[torch.Tensor, np.ndarray, Sequence[Sequence[float]]]

#: Instant-NGP / tiny-cuda-nn hash primes for x, y, z.
HASH_PRIMES = (1, 2654435761, 805459861)


# --------------------------------------------------------------------------- pure functions
def grid_resolutions(levels: int, base_resolution: int, finest_resolution: int) -> list[int]:
    """Per-level grid resolutions ``N_l = floor(base · b^l)``, ``l = 0 … levels-1``, with
    ``b = exp((ln finest - ln base) / (levels - 1))`` (``b = 1`` for one level).

    A relative tolerance of 1e-9 guards the floor against round-off, so the last level is
    exactly ``finest_resolution``."""
    if levels < 1 or base_resolution < 1 or finest_resolution < base_resolution:
        raise InputError(f"need levels >= 1 and 1 <= base <= finest, got levels={levels}, "
                         f"base={base_resolution}, finest={finest_resolution}")
    if levels == 1:
        return [int(base_resolution)]
    growth = math.exp((math.log(finest_resolution) - math.log(base_resolution)) / (levels - 1))
    return [int(math.floor(base_resolution * growth ** level * (1.0 + 1e-9))) for level in range(levels)]


def spatial_hash(coords: torch.Tensor, table_size: int) -> torch.Tensor:
    """Instant-NGP's spatial hash of integer vertex coordinates: ``(…, 3)`` int -> ``(…,)`` int64,
    ``(x·1 ⊕ y·2654435761 ⊕ z·805459861) mod table_size``.

    ``table_size`` must be a power of two. Computed in int64: products that overflow wrap
    modulo 2^64, which leaves the low bits (all that the mask ``table_size - 1`` keeps)
    exact, so the result equals the arbitrary-precision (and tiny-cuda-nn's uint32) value
    for any coordinates, negative ones included (two's complement)."""
    _check_power_of_two(table_size)
    c = coords.long()
    h = (c[..., 0] * HASH_PRIMES[0]) ^ (c[..., 1] * HASH_PRIMES[1]) ^ (c[..., 2] * HASH_PRIMES[2])
    return h & (table_size - 1)


def dense_index(coords: torch.Tensor, resolution: int) -> torch.Tensor:
    """Row of integer vertex coordinates ``(…, 3)`` in a dense grid of ``resolution + 1``
    vertices per axis, x fastest: ``x + (R+1)·y + (R+1)²·z`` -> ``(…,)`` int64."""
    c = coords.long()
    n = resolution + 1
    return c[..., 0] + n * c[..., 1] + n * n * c[..., 2]


def _check_power_of_two(n: int) -> None:
    if n < 1 or n & (n - 1):
        raise InputError(f"table size must be a power of two, got {n}")


# --------------------------------------------------------------------------- row gather
def _as_complex_rows(t: torch.Tensor) -> torch.Tensor:
    """``(M, F)`` real (F even) -> complex view, one element per 2 features: ``(M,)`` for
    F = 2 (the 1-D ``index_select`` / ``scatter_add_`` kernels are much faster than the
    2-D ones), ``(M, F/2)`` otherwise."""
    c = torch.view_as_complex(t.contiguous().view(t.shape[0], -1, 2))
    return c[:, 0] if c.shape[1] == 1 else c


class _GatherRows(torch.autograd.Function):
    """``table (R, F)``, indices ``(M_k,)`` -> one ``table[index_k] (M_k, F)`` per index (F even).

    Rows are moved as complex numbers (F/2 elements per row): ``index_select`` forward,
    ``scatter_add_`` into a single zero-filled gradient backward — several times faster on
    CPU than the 2-D paths. The backward is :class:`_ScatterRows`, whose backward is this
    gather, so any order of differentiation works."""

    @staticmethod
    def forward(ctx, table: torch.Tensor, *indices: torch.Tensor) -> tuple[torch.Tensor, ...]:
        ctx.save_for_backward(*indices)
        ctx.rows = table.shape[0]
        ctx.set_materialize_grads(False)
        src = _as_complex_rows(table)
        return tuple(torch.view_as_real(src.index_select(0, i)).view(i.shape[0], table.shape[1]) for i in indices)

    @staticmethod
    def backward(ctx, *grads: torch.Tensor | None):
        pairs = [(g, i) for g, i in zip(grads, ctx.saved_tensors) if g is not None]
        if not pairs:
            return (None,) * (1 + len(grads))
        flat = [t for pair in pairs for t in pair]
        return (_ScatterRows.apply(ctx.rows, *flat),) + (None,) * len(grads)


class _ScatterRows(torch.autograd.Function):
    """``rows``, pairs ``values_k (M_k, F), index_k (M_k,)`` -> ``out (rows, F)`` with
    ``out[index_k[i]] += values_k[i]`` (F even; complex-view ``scatter_add_``)."""

    @staticmethod
    def forward(ctx, rows: int, *values_and_indices: torch.Tensor) -> torch.Tensor:
        values, indices = values_and_indices[0::2], values_and_indices[1::2]
        ctx.save_for_backward(*indices)
        features = values[0].shape[1]
        shape = (rows,) if features == 2 else (rows, features // 2)
        out = values[0].new_zeros(shape, dtype=_complex_dtype(values[0].dtype))
        for v, i in zip(values, indices):
            src = _as_complex_rows(v)
            out.scatter_add_(0, i if src.dim() == 1 else i[:, None].expand_as(src), src)
        return torch.view_as_real(out).view(rows, features)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        indices = ctx.saved_tensors
        gathered = _GatherRows.apply(grad, *indices)
        return (None,) + tuple(t for g in gathered for t in (g, None))


def _complex_dtype(dtype: torch.dtype) -> torch.dtype:
    return {torch.float32: torch.complex64, torch.float64: torch.complex128}[dtype]


def gather_rows(table: torch.Tensor, indices: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Gather rows of ``table (R, F)`` for each integer index tensor ``(…)`` in ``indices``:
    -> ``[table[index] (…, F)]``, differentiable w.r.t. ``table`` to any order (fast
    complex-view path on the CPU for even F and float32/64, plain ``index_select``
    otherwise)."""
    flat = [i.reshape(-1) for i in indices]
    # the complex-view trick pays off on the CPU; elsewhere plain index_select (whose
    # index_add_ backward is fast on GPUs) avoids relying on complex atomics
    if table.device.type == "cpu" and table.shape[1] % 2 == 0 and table.dtype in (torch.float32, torch.float64):
        rows = _GatherRows.apply(table, *flat)
    else:
        rows = [table.index_select(0, i) for i in flat]
    return [r.view(*i.shape, table.shape[1]) for r, i in zip(rows, indices)]


# --------------------------------------------------------------------------- module
class HashGridEncoding(nn.Module):
    """Multiresolution hash encoding: points ``(N, 3)`` (metres) -> features
    ``(N, levels · features_per_level)``. See the module docstring for the conventions.

    Args:
        levels: number of resolution levels L (paper: 16).
        features_per_level: feature vector size F per level (paper: 2).
        log2_table_size: log2 of the hash table size T per level (paper: 14-24, here 19).
        base_resolution: coarsest grid resolution N_min (cells per axis).
        finest_resolution: finest grid resolution N_max.
        bounds: ``(2, 3)`` box ``[min, max]`` in metres mapped to the unit cube
            (default ``[[0, 0, 0], [1, 1, 1]]``); points outside are clamped onto it.

    Attributes:
        table: ``(rows, F)`` parameter, all levels' tables concatenated.
        offsets: ``(L,)`` int64 buffer, level ``l``'s rows are
            ``offsets[l] : offsets[l] + table_sizes[l]`` (hashed levels first, then dense).
        table_sizes: list of the L per-level row counts, ``(N_l + 1)^3`` or ``T``.
        resolutions: list of the L grid resolutions; ``num_dense_levels`` of them (the
            coarsest) are indexed densely, the rest hashed.
    """

    def __init__(self, levels: int = 16, features_per_level: int = 2, log2_table_size: int = 19,
                 base_resolution: int = 16, finest_resolution: int = 2048,
                 bounds: ArrayLike | None = None) -> None:
        super().__init__()
        if features_per_level < 1:
            raise InputError(f"features_per_level must be >= 1, got {features_per_level}")
        if not 1 <= log2_table_size <= 40:
            raise InputError(f"log2_table_size must be in [1, 40], got {log2_table_size}")
        self.levels = int(levels)
        self.features_per_level = int(features_per_level)
        self.log2_table_size = int(log2_table_size)
        self.base_resolution = int(base_resolution)
        self.finest_resolution = int(finest_resolution)
        self.resolutions = grid_resolutions(self.levels, self.base_resolution, self.finest_resolution)
        table_size = 2 ** self.log2_table_size
        self.num_dense_levels = sum((r + 1) ** 3 <= table_size for r in self.resolutions)
        d = self.num_dense_levels
        self.table_sizes = [(r + 1) ** 3 for r in self.resolutions[:d]] + [table_size] * (self.levels - d)
        # Storage order: hashed levels (offsets k·T), then dense levels.
        starts = np.cumsum([0] + self.table_sizes[d:] + self.table_sizes[:d]).tolist()
        self._offsets = starts[self.levels - d:self.levels] + starts[:self.levels - d]

        self.register_buffer("bounds", _as_bounds(bounds))
        self.register_buffer("offsets", torch.tensor(self._offsets, dtype=torch.int64))
        # Per-level, per-axis multipliers of the vertex coordinates: dense strides (summed)
        # or hash primes (xor-ed).
        coef = [[1, r + 1, (r + 1) ** 2] if level < self.num_dense_levels else list(HASH_PRIMES)
                for level, r in enumerate(self.resolutions)]
        self.register_buffer("_coef", torch.tensor(coef, dtype=torch.int64), persistent=False)
        self.register_buffer("_bit", torch.tensor([[0], [1]], dtype=torch.int64), persistent=False)
        self.table = nn.Parameter(torch.empty(starts[-1], self.features_per_level))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Instant-NGP's initialisation: every table entry ~ U(-1e-4, 1e-4)."""
        nn.init.uniform_(self.table, -1e-4, 1e-4)

    @property
    def output_dim(self) -> int:
        """Size of the encoding, ``levels · features_per_level``."""
        return self.levels * self.features_per_level

    @property
    def out_dim(self) -> int:
        """Alias of :attr:`output_dim` (the name :class:`~humanrecon.implicit.networks.FourierFeatures` uses)."""
        return self.output_dim

    def extra_repr(self) -> str:
        return (f"levels={self.levels}, features_per_level={self.features_per_level}, "
                f"log2_table_size={self.log2_table_size}, resolutions={self.resolutions[0]}..{self.resolutions[-1]}, "
                f"dense_levels={self.num_dense_levels}, rows={self.table.shape[0]}")

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """World points ``(…, 3)`` (metres) -> unit-cube coordinates ``(…, 3)`` in [0, 1], clamped."""
        lo, hi = self.bounds[0], self.bounds[1]
        return ((x - lo) / (hi - lo)).clamp(0.0, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (N, 3)`` or ``(…, 3)`` world points (metres) -> ``(…, levels · features_per_level)``.

        ``x`` is cast to the table's dtype; it must be on the module's device."""
        if x.shape[-1] != 3:
            raise InputError(f"x must have shape (N, 3), got {tuple(x.shape)}")
        batch_shape = x.shape[:-1]
        u = self.normalize(x.reshape(-1, 3).to(self.table.dtype)).t()       # (3, N)
        corners = [self._level_corners(u, level) for level in range(self.levels)]
        feats = gather_rows(self.table, [index for index, _ in corners])  # L x (8, N, F)
        out = torch.cat([(w[..., None] * f).sum(0) for (_, w), f in zip(corners, feats)], dim=1)
        return out.reshape(*batch_shape, self.output_dim)

    def _level_corners(self, u: torch.Tensor, level: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Table rows and trilinear weights of the 8 cell corners around unit-cube points
        ``u (3, N)`` at one level: -> ``index (8, N)`` int64, ``weights (8, N)``.

        Corner ``c = 4·dx + 2·dy + dz`` is the vertex ``cell + (dx, dy, dz)``. The point
        axis is last throughout (long contiguous loops; the corner sum is then a fast
        reduction over the leading axis)."""
        res = float(self.resolutions[level])
        pos = u * res                                                       # (3, N) vertex coords
        cell = pos.detach().floor().clamp_(max=res - 1.0)                   # lower corner, 0 … N_l - 1
        frac = pos - cell                                                   # (3, N) in [0, 1]
        corner = (cell.long()[:, None, :] + self._bit) * self._coef[level, :, None, None]  # (3, 2, N)
        cx, cy, cz = corner[0][:, None, None], corner[1][None, :, None], corner[2][None, None, :]
        if level < self.num_dense_levels:
            index = (cx + self._offsets[level]) + cy + cz                   # (2, 2, 2, N)
        else:  # mask each axis term (xor commutes with the mask), then OR the k·T offset in
            mask = 2 ** self.log2_table_size - 1
            index = ((cx & mask) | self._offsets[level]) ^ (cy & mask) ^ (cz & mask)
        w = torch.stack([1.0 - frac, frac], dim=1)                          # (3, 2, N)
        weights = w[0][:, None, None] * w[1][None, :, None] * w[2][None, None, :]
        n = u.shape[1]
        return index.view(8, n), weights.view(8, n)

def _as_bounds(bounds: ArrayLike | None) -> torch.Tensor:
    """``(2, 3)`` float32 box ``[min, max]`` (default: the unit cube)."""
    if bounds is None:
        return torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    return box_tensor(bounds)
