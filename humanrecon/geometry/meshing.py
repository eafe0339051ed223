"""Surface extraction from implicit functions: dense and hierarchical marching cubes.

Frames, units and grid convention
---------------------------------
* ``fn`` maps world points ``(N, 3)`` float32 (metres) to values ``(N,)`` (an SDF, an
  occupancy probability or logit, a NeRF density). ``level`` is the iso-value of the
  surface; ``inside="negative"`` means ``value < level`` is inside (SDFs),
  ``inside="positive"`` means ``value > level`` is inside (occupancy, density).
* ``bounds = ((xmin, ymin, zmin), (xmax, ymax, zmax))`` in metres. ``resolution`` is the
  number of grid **cells** per axis, so the grid has ``resolution + 1`` samples per axis
  and sample ``(i, j, k)`` lies exactly at ``min + (i, j, k) * (max - min) / resolution``
  (computed in float64, then cast to float32). Both ends of each axis are sampled.
  Voxels are anisotropic when the bounds are not a cube.
* The returned mesh is in world coordinates with faces wound so that normals point
  outwards (from inside to outside), whatever ``inside`` is. It is closed when the
  surface does not touch the bounds: leave a margin of at least one voxel.

Hierarchical mode (Occupancy Networks' MISE)
--------------------------------------------
Levels have ``initial_resolution * 2**l`` cells per axis, ``l = 0..k``, and
``resolution`` must equal ``initial_resolution * 2**k``. Level 0 is evaluated densely.
At each level the cells whose corners lie on both sides of the level are marked,
dilated by one cell (26-neighbourhood) so thin features near the surface are not lost,
and split in 8; only the sample points of split cells not evaluated before are passed
to ``fn``. Every other point of the finer grid gets the trilinear interpolation of the
coarser level: a convex combination of corners of one sign keeps that sign, so regions
never refined are correctly inside or outside. One marching cubes runs on the final
dense ``(resolution + 1)**3`` float32 volume (67 MB at 256). Like MISE, a feature that
falls entirely between samples of the initial grid is missed.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
from tqdm.auto import tqdm
import torch

from humanrecon._validation import box_array
from humanrecon.errors import InputError

if TYPE_CHECKING:
    import trimesh

__all__ = ["ExtractionResult", "extract_mesh"]

_INSIDE = ("negative", "positive")


@dataclass
class ExtractionResult:
    """Outcome of :func:`extract_mesh`.

    Attributes:
        mesh: ``trimesh.Trimesh`` (``process=False``), vertices in world metres, faces
            wound so normals point outwards.
        num_evaluations: number of points passed to ``fn``.
        dense_equivalent: ``(resolution + 1)**3``, the evaluations of a dense grid.
        seconds: wall-clock time of the whole extraction.
        voxel_size: ``(3,)`` final cell size along x, y, z in metres.
        vertex_colors: ``(V, 3)`` float32 RGB in ``[0, 1]`` per vertex when the caller
            coloured the mesh (e.g. a DVR texture field), else None; :meth:`save` writes them.
    """

    mesh: "trimesh.Trimesh"
    num_evaluations: int
    dense_equivalent: int
    seconds: float
    voxel_size: tuple[float, float, float]
    vertex_colors: np.ndarray | None = None

    @property
    def ratio(self) -> float:
        """``num_evaluations / dense_equivalent`` (1.0 for dense extraction)."""
        return self.num_evaluations / self.dense_equivalent

    def save(self, path):
        """Write the mesh with :func:`humanrecon.io.meshes.save_mesh` (.obj, .ply,
        .stl, .glb, .off; vertices and faces as they are, and :attr:`vertex_colors` when
        set). Returns the path."""
        from humanrecon.io.meshes import save_mesh

        return save_mesh(path, self.mesh.vertices, self.mesh.faces, vertex_colors=self.vertex_colors)


# --------------------------------------------------------------------------- arguments
def _parse_bounds(bounds) -> tuple[np.ndarray, np.ndarray]:
    """``bounds`` (2, 3) array-like -> ``(lo (3,), hi (3,))`` float64 metres, checked."""
    b = box_array(bounds)
    return b[0], b[1]


def _level_resolutions(resolution: int, initial_resolution: int, hierarchical: bool) -> list[int]:
    """Cells per axis of each level: ``[resolution]`` for dense, else
    ``[initial, 2*initial, ..., resolution]``; raises for an invalid combination."""
    for name, value in (("resolution", resolution), ("initial_resolution", initial_resolution)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InputError(f"{name} must be a positive integer (cells per axis), got {value!r}")
    if not hierarchical:
        return [int(resolution)]
    levels = [int(initial_resolution)]
    while levels[-1] < resolution:
        levels.append(2 * levels[-1])
    if levels[-1] != resolution:
        raise InputError(
            f"hierarchical extraction needs resolution = initial_resolution * 2**k (k >= 0), got "
            f"resolution={resolution}, initial_resolution={initial_resolution}; e.g. use "
            f"initial_resolution={_suggest_initial(resolution, initial_resolution)} "
            f"(--initial-resolution {_suggest_initial(resolution, initial_resolution)} on the command line) "
            "or hierarchical=False (--dense)")
    return levels


def _suggest_initial(resolution: int, initial_resolution: int) -> int:
    """Largest ``resolution / 2**k`` not above ``initial_resolution`` (at least the odd part)."""
    r = resolution
    while r % 2 == 0 and r > initial_resolution:
        r //= 2
    return r


def _default_device(fn: Callable, device) -> torch.device:
    """``device`` if given, else the device of ``fn``'s first parameter or buffer when
    ``fn`` is an ``nn.Module``, else CPU."""
    if device is not None:
        return torch.device(device)
    if isinstance(fn, torch.nn.Module):
        for tensor in (*fn.parameters(), *fn.buffers()):
            return tensor.device
    return torch.device("cpu")


# --------------------------------------------------------------------------- evaluation
class _GridEvaluator:
    """Evaluates ``fn`` at integer sample indices of the final grid and counts them.

    Index ``(i, j, k)`` maps to the world point ``lo + (i, j, k) * (hi - lo) / resolution``.
    """

    def __init__(self, fn: Callable, lo: np.ndarray, hi: np.ndarray, resolution: int,
                 device: torch.device, batch_points: int):
        if isinstance(batch_points, bool) or not isinstance(batch_points, (int, np.integer)) or batch_points < 1:
            raise InputError(f"batch_points must be a positive integer, got {batch_points!r}")
        self.fn, self.lo, self.device, self.batch_points = fn, lo, device, int(batch_points)
        self.scale = (hi - lo) / resolution
        self.count = 0

    def points(self, idx: np.ndarray) -> np.ndarray:
        """Integer indices ``(M, 3)`` -> world points ``(M, 3)`` float32 metres."""
        return (self.lo + idx * self.scale).astype(np.float32)

    def __call__(self, idx: np.ndarray) -> np.ndarray:
        """Values ``(M,)`` float32 of ``fn`` at grid indices ``idx (M, 3)``, in chunks of
        ``batch_points`` under ``torch.no_grad()``."""
        out = np.empty(len(idx), dtype=np.float32)
        for start in range(0, len(idx), self.batch_points):
            stop = min(start + self.batch_points, len(idx))
            out[start:stop] = self._evaluate(self.points(idx[start:stop]))
        return out

    def _evaluate(self, points: np.ndarray) -> np.ndarray:
        """``fn`` at ``points (n, 3)`` float32 -> ``(n,)`` float32, shape and NaN checked."""
        with torch.no_grad():
            values = self.fn(torch.from_numpy(points).to(self.device))
        self.count += len(points)
        values = torch.as_tensor(values)
        if values.shape not in ((len(points),), (len(points), 1)):
            raise InputError(f"fn must map points (N, 3) to values (N,) (or (N, 1)); got shape "
                             f"{tuple(values.shape)} for N={len(points)}")
        values = values.detach().reshape(-1).to(device="cpu", dtype=torch.float32).numpy()
        bad = ~np.isfinite(values)
        if bad.any():
            first = np.flatnonzero(bad)[0]
            kind = "NaN" if np.isnan(values[first]) else "inf"
            raise InputError(f"fn returned non-finite values ({kind}) at {int(bad.sum())} of {len(points)} "
                             f"points, first at {points[first].tolist()} m")
        return values


def _evaluate_grid(evaluator: _GridEvaluator, cells: int, step: int) -> np.ndarray:
    """All ``(cells + 1)**3`` samples of a level whose points are every ``step``-th final
    index -> values ``(cells+1, cells+1, cells+1)`` float32, evaluated in chunks."""
    shape = (cells + 1,) * 3
    total = int(np.prod(shape))
    values = np.empty(total, dtype=np.float32)
    for start in range(0, total, evaluator.batch_points):
        flat = np.arange(start, min(start + evaluator.batch_points, total))
        idx = np.stack(np.unravel_index(flat, shape), axis=-1) * step
        values[start:start + len(flat)] = evaluator(idx)
    return values.reshape(shape)


# --------------------------------------------------------------------------- grid ops
def _inside(values: np.ndarray, level: float, inside: str) -> np.ndarray:
    """Boolean mask, same shape as ``values``: sample is inside the surface."""
    return values < level if inside == "negative" else values > level


def _shifted_pair(a: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """``(a[..., :-1, ...], a[..., 1:, ...])`` along ``axis``."""
    lo = [slice(None)] * a.ndim
    hi = [slice(None)] * a.ndim
    lo[axis], hi[axis] = slice(None, -1), slice(1, None)
    return a[tuple(lo)], a[tuple(hi)]


def _straddling_cells(inside: np.ndarray) -> np.ndarray:
    """Point mask ``(n+1,)*3`` -> cell mask ``(n,)*3``: corners on both sides."""
    any_in, all_in = inside, inside
    for axis in range(3):
        any_in = np.logical_or(*_shifted_pair(any_in, axis))
        all_in = np.logical_and(*_shifted_pair(all_in, axis))
    return any_in & ~all_in


def _dilate(cells: np.ndarray) -> np.ndarray:
    """One-cell dilation of a boolean ``(n,)*3`` mask by the 3x3x3 cube (separable)."""
    out = cells
    for axis in range(3):
        lo, hi = _shifted_pair(out, axis)
        grown = out.copy()
        a, b = _shifted_pair(grown, axis)
        a |= hi
        b |= lo
        out = grown
    return out


def _cells_to_points(cells: np.ndarray) -> np.ndarray:
    """Cell mask ``(n,)*3`` -> point mask ``(n+1,)*3``: point is a corner of a marked cell."""
    out = cells
    for axis in range(3):
        shape = list(out.shape)
        shape[axis] += 1
        grown = np.zeros(shape, dtype=bool)
        a, b = _shifted_pair(grown, axis)
        a |= out
        b |= out
        out = grown
    return out


def _upsample(values: np.ndarray) -> np.ndarray:
    """Trilinear interpolation of ``(n+1,)*3`` samples onto the ``(2n+1,)*3`` grid of
    half the spacing (original samples kept exactly at even indices)."""
    out = values
    for axis in range(3):
        shape = list(out.shape)
        shape[axis] = 2 * shape[axis] - 1
        fine = np.empty(shape, dtype=np.float32)
        even = [slice(None)] * 3
        odd = [slice(None)] * 3
        even[axis], odd[axis] = slice(0, None, 2), slice(1, None, 2)
        fine[tuple(even)] = out
        a, b = _shifted_pair(out, axis)
        fine[tuple(odd)] = 0.5 * (a + b)
        out = fine
    return out


def _upsample_mask(mask: np.ndarray) -> np.ndarray:
    """Mask ``(n+1,)*3`` -> ``(2n+1,)*3``, True only at even indices where ``mask``."""
    n = mask.shape[0] - 1
    out = np.zeros((2 * n + 1,) * 3, dtype=bool)
    out[::2, ::2, ::2] = mask
    return out


def _refine(values: np.ndarray, evaluated: np.ndarray, evaluator: _GridEvaluator, step: int,
            level: float, inside: str) -> tuple[np.ndarray, np.ndarray]:
    """One MISE step. ``values``/``evaluated`` ``(n+1,)*3`` of a level whose samples are
    every ``step``-th final index -> the same for the level with ``2n`` cells, where the
    corners of split cells are true values of ``fn`` and the rest are interpolated."""
    split = _dilate(_straddling_cells(_inside(values, level, inside)))
    fine_cells = split.repeat(2, axis=0).repeat(2, axis=1).repeat(2, axis=2)
    values, evaluated = _upsample(values), _upsample_mask(evaluated)
    todo = _cells_to_points(fine_cells)
    todo &= ~evaluated
    values[todo] = evaluator(np.argwhere(todo) * (step // 2))
    evaluated |= todo
    return values, evaluated


def _check_surface(values: np.ndarray, level: float, inside: str, cells: int) -> None:
    """Raise ``ValueError`` unless some samples are inside and some outside."""
    is_inside = _inside(values, level, inside)
    if is_inside.any() and not is_inside.all():
        return
    all_inside = bool(is_inside.all())
    vmin, vmax = float(values.min()), float(values.max())
    side = "above" if all_inside == (inside == "positive") else "below"
    side += " or equal to" if level in (vmin, vmax) else ""
    raise InputError(f"no surface: all values are {side} level {level} (min {vmin:.6g}, max {vmax:.6g}) "
                     f"on the {cells + 1}^3 sample grid, i.e. everything is "
                     f"{'inside' if all_inside else 'outside'} (inside={inside!r}); "
                     "check bounds, level and inside, or raise initial_resolution for small features")


# --------------------------------------------------------------------------- meshing
@functools.lru_cache(maxsize=1)
def _outward_gradient_direction() -> str:
    """skimage ``gradient_direction`` giving outward normals for an inside-negative field,
    found once on a tiny sphere (robust to winding changes between skimage versions)."""
    import trimesh
    from skimage.measure import marching_cubes

    x = np.linspace(-1.0, 1.0, 9)
    sdf = (np.sqrt((x[:, None, None] ** 2 + x[None, :, None] ** 2 + x[None, None, :] ** 2)) - 0.6)
    verts, faces, _, _ = marching_cubes(sdf.astype(np.float32), 0.0, gradient_direction="descent")
    return "descent" if trimesh.Trimesh(verts, faces, process=False).volume > 0 else "ascent"


def _marching_cubes(values: np.ndarray, level: float, inside: str, evaluator: _GridEvaluator):
    """Marching cubes on the final ``(R+1,)*3`` volume -> ``trimesh.Trimesh`` in world
    metres, faces wound with outward normals."""
    import trimesh
    from skimage.measure import marching_cubes

    direction = _outward_gradient_direction()
    if inside == "positive":
        direction = "ascent" if direction == "descent" else "descent"
    verts, faces, _, _ = marching_cubes(values, level, gradient_direction=direction)
    world = evaluator.lo + verts.astype(np.float64) * evaluator.scale
    return trimesh.Trimesh(world, faces.astype(np.int64), process=False)


def extract_mesh(
    fn: Callable[[torch.Tensor], torch.Tensor],
    bounds: Sequence[Sequence[float]] | np.ndarray,
    resolution: int = 256,
    level: float = 0.0,
    *,
    hierarchical: bool = True,
    batch_points: int = 262_144,
    inside: str = "negative",
    initial_resolution: int = 32,
    device: torch.device | str | None = None,
    progress: bool = False,
    close_boundary: bool = True,
) -> ExtractionResult:
    """Extract the ``level`` iso-surface of ``fn`` inside ``bounds`` as a triangle mesh.

    Args:
        fn: callable, points ``(N, 3)`` float32 world metres on ``device`` -> values
            ``(N,)`` (``(N, 1)`` accepted). Called under ``torch.no_grad()`` with at most
            ``batch_points`` points at a time.
        bounds: ``((xmin, ymin, zmin), (xmax, ymax, zmax))`` metres or a ``(2, 3)`` array.
        resolution: cells per axis of the final grid (``resolution + 1`` samples per axis,
            both bounds included). Hierarchical mode needs
            ``resolution = initial_resolution * 2**k``.
        level: iso-value of the surface (0 for an SDF, 0.5 for occupancy probability).
        hierarchical: MISE-style coarse-to-fine evaluation (see module docstring);
            ``False`` evaluates the full grid.
        batch_points: points per call of ``fn``.
        inside: ``"negative"`` (``value < level`` is inside, SDFs) or ``"positive"``
            (``value > level`` is inside, occupancy/density).
        initial_resolution: cells per axis of the first hierarchical level.
        device: where points are sent; default the device of ``fn``'s parameters when it
            is an ``nn.Module``, else CPU.
        progress: show a tqdm bar over the levels (network evaluations so far).
        close_boundary: treat the faces of the box as outside, so a surface that leaves
            the bounds (e.g. a learned field that is "inside" at the box edge) is capped
            there and the mesh stays closed.

    Returns:
        :class:`ExtractionResult` with the mesh (world metres, outward normals) and
        evaluation counts.

    Raises:
        ValueError: invalid bounds/resolutions/inside, ``fn`` output of the wrong shape or
            non-finite, or no surface (all values on one side of ``level``).
    """
    start = time.perf_counter()
    if inside not in _INSIDE:
        raise InputError(f"inside must be one of {_INSIDE}, got {inside!r}")
    level = float(level)
    lo, hi = _parse_bounds(bounds)
    levels = _level_resolutions(resolution, initial_resolution, hierarchical)
    evaluator = _GridEvaluator(fn, lo, hi, resolution, _default_device(fn, device), batch_points)

    bar = tqdm(total=len(levels), desc="extract mesh", unit="level", disable=not progress, leave=False, mininterval=0)
    step = resolution // levels[0]
    values = _evaluate_grid(evaluator, levels[0], step)
    _check_surface(values, level, inside, levels[0])
    _report(bar, 0, levels, evaluator.count)
    evaluated = np.ones(values.shape, dtype=bool)
    for depth in range(1, len(levels)):
        values, evaluated = _refine(values, evaluated, evaluator, step, level, inside)
        step //= 2
        _report(bar, depth, levels, evaluator.count)
    bar.close()
    del evaluated

    if close_boundary:
        values = _outside_shell(values, level, inside)
    mesh = _marching_cubes(values, level, inside, evaluator)
    return ExtractionResult(mesh=mesh, num_evaluations=evaluator.count,
                            dense_equivalent=(resolution + 1) ** 3,
                            seconds=time.perf_counter() - start,
                            voxel_size=tuple(float(s) for s in evaluator.scale))


def _outside_shell(values: np.ndarray, level: float, inside: str) -> np.ndarray:
    """Set the six faces of the volume to an outside value (a copy only where needed)."""
    outside = level + 1.0 if inside == "negative" else level - 1.0
    shell = np.zeros(values.shape, dtype=bool)
    shell[[0, -1], :, :] = shell[:, [0, -1], :] = shell[:, :, [0, -1]] = True
    inside_on_shell = (values[shell] < level) if inside == "negative" else (values[shell] > level)
    if not inside_on_shell.any():
        return values
    values = values.copy()
    values[shell] = np.where(inside_on_shell, outside, values[shell])
    return values


def _report(bar, depth: int, levels: list[int], count: int) -> None:
    """Advance the progress bar past level ``depth`` (evaluations so far, and their
    fraction of that level's dense grid)."""
    cells = levels[depth]
    bar.set_postfix(cells=f"{cells}^3", evaluations=count, dense_fraction=f"{count / (cells + 1) ** 3:.3f}")
    bar.update(1)
