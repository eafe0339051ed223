"""Ground-truth occupancy and signed distance from watertight triangle meshes, and the
point samplers that turn a mesh into training data for implicit shapes.

Frames and units
----------------
Everything is in the mesh's own (world) frame, in metres. Signed distance is negative
inside the surface and positive outside; occupancy is ``True`` inside.

Array types
-----------
Queries accept numpy arrays, torch tensors or nested lists of shape ``(..., 3)``.
A torch input gives torch outputs (float32, or bool for occupancy) on the input's
device; anything else gives numpy outputs. Samplers follow the type of the mesh
vertices (the ones given to :class:`MeshSDF`, or to :func:`sample_surface`).

Inside/outside comes from open3d's ``RaycastingScene`` ray-parity test, which is only
defined for closed (watertight) meshes: :class:`MeshSDF` refuses anything else.
open3d is imported lazily, so importing this module stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence, Union

import numpy as np

from humanrecon._validation import is_torch, to_numpy
from humanrecon.errors import InputError
from humanrecon.geometry.raycasting import raycasting_scene

if TYPE_CHECKING:  # torch only names a type here; the module itself stays light
    import torch

Seed = Union[int, "np.random.Generator", "torch.Generator", None]

DEFAULT_CHUNK = 1 << 20  # points per open3d call; bounds the temporary memory


# --------------------------------------------------------------------------- helpers
def _like(values: np.ndarray, torch_device):
    """``values`` as numpy, or as a torch tensor on ``torch_device`` when not None."""
    if torch_device is None:
        return values
    import torch

    return torch.from_numpy(np.ascontiguousarray(values)).to(torch_device)


def _torch_device(x):
    """The device of a torch tensor ``x``, else None (meaning: answer in numpy)."""
    return x.device if is_torch(x) else None


def make_rng(seed: Seed) -> np.random.Generator:
    """A numpy Generator from an int seed, a numpy Generator (used as is), a
    ``torch.Generator`` (one draw from it seeds the numpy one) or None (fresh entropy)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if is_torch(seed):
        import torch

        return np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=seed)))
    return np.random.default_rng(seed)


def _query_points(points, source: str) -> tuple[np.ndarray, tuple[int, ...]]:
    """Flatten query points ``(..., 3)`` to a finite float32 ``(N, 3)`` array."""
    p = to_numpy(points, np.float32)
    if p.ndim < 1 or p.shape[-1] != 3:
        raise InputError(f"{source}: query points must have shape (..., 3), got {p.shape}")
    if not np.isfinite(p).all():
        raise InputError(f"{source}: query points contain NaN or infinite values")
    return np.ascontiguousarray(p.reshape(-1, 3)), p.shape[:-1]


# --------------------------------------------------------------------------- mesh checks
def _mesh_arrays(vertices, faces, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Validated float64 ``(V, 3)`` vertices and int64 ``(F, 3)`` faces."""
    v = to_numpy(vertices, np.float64)
    f = to_numpy(faces, None)
    if v.ndim != 2 or v.shape[1] != 3:
        raise InputError(f"{source}: vertices must have shape (V, 3), got {v.shape}")
    if f.size == 0:
        raise InputError(f"{source}: empty mesh (no faces)")
    if f.ndim != 2 or f.shape[1] != 3:
        raise InputError(f"{source}: faces must have shape (F, 3) (triangles), got {f.shape}")
    if not np.issubdtype(f.dtype, np.integer):
        raise InputError(f"{source}: faces must be integer vertex indices, got {f.dtype}")
    f = f.astype(np.int64)
    if not np.isfinite(v).all():
        raise InputError(f"{source}: vertices contain NaN or infinite values")
    if f.min() < 0 or f.max() >= len(v):
        raise InputError(f"{source}: face indices out of range [0, {len(v)})")
    return v, f


def _triangle_cross(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Per-face ``(b - a) x (c - a)`` ``(F, 3)``: twice the area times the unit normal."""
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    return np.cross(b - a, c - a)


def _check_closed_solid(mesh, source: str, repair: bool):
    """Return a watertight, non-degenerate trimesh (repaired when allowed) or raise."""
    import trimesh

    scale = float(np.ptp(mesh.vertices, axis=0).max())
    if scale <= 0 or not (mesh.area_faces > 1e-12 * scale**2).any():
        raise InputError(f"{source}: degenerate mesh (all faces have zero area)")
    if not mesh.is_watertight:
        if not repair:
            raise InputError(
                f"{source}: mesh is not watertight, so inside/outside is undefined "
                "(pass repair=True, or --repair on the command line, to try filling holes; or fix the mesh)")
        mesh.update_faces(mesh.nondegenerate_faces())
        mesh.merge_vertices()
        trimesh.repair.fill_holes(mesh)
        trimesh.repair.fix_winding(mesh)
        trimesh.repair.fix_normals(mesh)
        mesh.remove_unreferenced_vertices()
        if not mesh.is_watertight:
            raise InputError(
                f"{source}: mesh is not watertight, so inside/outside is undefined, "
                "and repair (fill holes, fix winding, merge vertices) could not close it")
    with np.errstate(invalid="ignore", divide="ignore"):  # trimesh divides by a zero volume
        volume = float(mesh.volume)
    if not abs(volume) > 1e-9 * scale**3:
        raise InputError(f"{source}: degenerate mesh (zero enclosed volume)")
    if volume < 0:  # consistently inside-out: flip so that normals point outwards
        mesh.invert()
    return mesh


# --------------------------------------------------------------------------- MeshSDF
class MeshSDF:
    """Occupancy, signed distance and closest points of a closed triangle mesh.

    Args:
        vertices: ``(V, 3)`` float, metres (numpy, torch or list). When a torch tensor,
            the samplers in this module answer in torch on its device.
        faces: ``(F, 3)`` integer vertex indices.
        repair: when the mesh is not watertight, try trimesh repair (merge vertices,
            fill holes, fix winding and normals) and go on only if that closes it.
        source: a name for the mesh (file, subject, ...) used in error messages.
        nsamples: rays per point for the parity inside test (odd); the majority vote
            over several random directions removes most errors from rays grazing an
            edge or vertex. 3 costs ~2x the single-ray time (still ~0.25 s per 1M).
        chunk_size: points per open3d call.

    Raises:
        ValueError naming ``source``: wrong shapes, NaN/inf vertices, out-of-range
        indices, no faces, degenerate (all faces zero-area or zero volume), not watertight
        (after repair when ``repair=True``).

    A mesh that is not watertight as given has its coincident vertices merged (trimesh
    ``process``) and is tested again, so meshes with split seams count as closed; one that
    is watertight as given is used as is (merging can pinch it: marching cubes may put two
    distinct vertices at the same point). A mesh whose faces are all inside-out is
    flipped, so that ``closest_points`` normals point outwards.
    """

    def __init__(self, vertices, faces, *, repair: bool = False, source: str = "mesh",
                 nsamples: int = 3, chunk_size: int = DEFAULT_CHUNK):
        import trimesh

        if nsamples < 1 or nsamples % 2 == 0:
            raise InputError(f"{source}: nsamples must be a positive odd number, got {nsamples}")
        v, f = _mesh_arrays(vertices, faces, source)
        mesh = trimesh.Trimesh(v, f, process=False)
        if not mesh.is_watertight:  # split seams: merge coincident vertices and test again
            mesh = trimesh.Trimesh(v, f, process=True)
        if len(mesh.faces) == 0:
            raise InputError(f"{source}: degenerate mesh (all faces have zero area)")
        self.mesh = _check_closed_solid(mesh, source, repair)
        self.source = source
        self.nsamples = int(nsamples)
        self.chunk_size = int(chunk_size)
        self.device = _torch_device(vertices)
        self._scene = None

    # ------------------------------------------------------------------ properties
    @property
    def vertices(self) -> np.ndarray:
        """``(V, 3)`` float32 vertices actually used (merged / repaired), metres."""
        return np.asarray(self.mesh.vertices, dtype=np.float32)

    @property
    def faces(self) -> np.ndarray:
        """``(F, 3)`` int64 faces actually used, outward winding."""
        return np.asarray(self.mesh.faces, dtype=np.int64)

    @property
    def bounds(self) -> np.ndarray:
        """``(2, 3)`` float64 axis-aligned bounding box ``[min, max]``, metres."""
        return np.asarray(self.mesh.bounds, dtype=np.float64)

    @property
    def volume(self) -> float:
        """Enclosed volume in cubic metres."""
        return float(self.mesh.volume)

    @property
    def scene(self):
        """The open3d ``RaycastingScene`` (built on first use)."""
        if self._scene is None:
            self._scene = raycasting_scene(self.vertices, self.faces)
        return self._scene

    # ------------------------------------------------------------------ queries
    def _chunked(self, points, fn, widths: Sequence[int], dtypes: Sequence):
        """Run ``fn(chunk (n, 3) float32) -> tuple of (n, w) arrays`` over all points.
        Returns the outputs reshaped to ``points.shape[:-1] (+ (w,) when w > 0)`` as
        numpy, or torch on the points' device."""
        import open3d as o3d

        p, lead = _query_points(points, self.source)
        outs = [np.empty((len(p), max(w, 1)), dtype=d) for w, d in zip(widths, dtypes)]
        for start in range(0, len(p), self.chunk_size):
            stop = start + self.chunk_size
            for out, value in zip(outs, fn(o3d.core.Tensor(p[start:stop]), p[start:stop])):
                out[start:stop] = value.reshape(len(value), -1)
        device = _torch_device(points)
        shaped = [o.reshape(lead + ((w,) if w else ())) for o, w in zip(outs, widths)]
        return [_like(o, device) for o in shaped]

    def occupancy(self, points):
        """``points (..., 3)`` metres -> ``(...)`` bool, True inside (ray parity with
        ``nsamples`` rays, majority vote)."""

        return self._chunked(points, lambda tensor, _: (self._inside(tensor),), [0], [bool])[0]

    def _inside(self, tensor) -> np.ndarray:
        """Parity test of one chunk (open3d float32 tensor ``(n, 3)``) -> ``(n,)`` bool."""
        return self.scene.compute_occupancy(tensor, nsamples=self.nsamples).numpy() > 0.5

    def signed_distance(self, points):
        """``points (..., 3)`` metres -> ``(...)`` float32 signed distance in metres,
        negative inside. The sign is exactly :meth:`occupancy`'s."""
        return self._closest(points, signed=True)[0]

    def closest_points(self, points):
        """``points (..., 3)`` -> ``(closest (..., 3), normals (..., 3))``: the nearest
        point on the surface and the outward unit normal of the triangle it lies on."""
        return tuple(self._closest(points, signed=False)[1:])

    def _closest(self, points, signed: bool):
        def fn(tensor, p):
            hit = self.scene.compute_closest_points(tensor)
            closest = hit["points"].numpy()
            dist = np.linalg.norm(p - closest, axis=1)
            if signed:
                dist = np.where(self._inside(tensor), -dist, dist)
            return dist.astype(np.float32), closest, hit["primitive_normals"].numpy()

        return self._chunked(points, fn, [0, 3, 3], [np.float32] * 3)


# --------------------------------------------------------------------------- sampling
def _surface_samples(vertices: np.ndarray, faces: np.ndarray, n: int,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Area-weighted uniform surface samples: points, unit normals ``(n, 3)`` float64."""
    cross = _triangle_cross(vertices, faces)
    area2 = np.linalg.norm(cross, axis=1)
    if not area2.sum() > 0:
        raise InputError("cannot sample the surface of a mesh with zero area")
    face = rng.choice(len(faces), size=n, p=area2 / area2.sum())
    u, w = rng.random(n), rng.random(n)
    flip = u + w > 1
    u[flip], w[flip] = 1 - u[flip], 1 - w[flip]
    tri = vertices[faces[face]]
    points = tri[:, 0] + u[:, None] * (tri[:, 1] - tri[:, 0]) + w[:, None] * (tri[:, 2] - tri[:, 0])
    return points, cross[face] / area2[face, None]


def sample_surface(vertices, faces, n: int, seed: Seed = 0):
    """Uniform (area-weighted) random points on a triangle mesh surface.

    Args:
        vertices: ``(V, 3)`` metres; faces ``(F, 3)``; zero-area faces are never drawn.
        n: number of samples; seed: int, numpy/torch Generator or None.
    Returns:
        ``points (n, 3)`` float32 on the surface and ``normals (n, 3)`` float32, the unit
        normal of each sample's triangle (right-hand rule on the face winding). numpy,
        or torch on the device of ``vertices`` when that is a tensor.
    """
    v, f = _mesh_arrays(vertices, faces, "sample_surface")
    points, normals = _surface_samples(v, f, int(n), make_rng(seed))
    device = _torch_device(vertices)
    return _like(points.astype(np.float32), device), _like(normals.astype(np.float32), device)


def _padded_box(mesh_sdf: MeshSDF, padding: float) -> tuple[np.ndarray, np.ndarray]:
    """Bounding box grown by ``padding`` times its largest side on every side."""
    lo, hi = mesh_sdf.bounds
    pad = padding * float((hi - lo).max())
    return lo - pad, hi + pad


def _uniform_in_box(lo, hi, n: int, rng: np.random.Generator) -> np.ndarray:
    return lo + rng.random((n, 3)) * (hi - lo)


def _near_surface(mesh_sdf: MeshSDF, n: int, sigmas: Sequence[float], rng) -> np.ndarray:
    """``n`` surface samples split evenly over ``sigmas`` (metres; remainder to the first),
    each offset by isotropic Gaussian noise of that standard deviation."""
    counts = np.full(len(sigmas), n // len(sigmas))
    counts[: n - counts.sum()] += 1
    points, _ = _surface_samples(mesh_sdf.mesh.vertices, mesh_sdf.faces, n, rng)
    std = np.repeat(np.asarray(sigmas, dtype=np.float64), counts)[:, None]
    return points + std * rng.standard_normal((n, 3))


def _finish(mesh_sdf: MeshSDF, points: np.ndarray, values_fn, rng):
    """Shuffle, label and convert samples to the mesh's array type."""
    points = points[rng.permutation(len(points))].astype(np.float32)
    values = values_fn(points)
    return _like(points, mesh_sdf.device), _like(values, mesh_sdf.device)


def sample_occupancy_points(mesh_sdf: MeshSDF, n_uniform: int, n_surface: int,
                            sigmas: Sequence[float] = (0.01, 0.1), *, relative: bool = True,
                            padding: float = 0.05, seed: Seed = 0):
    """Occupancy Networks training points: uniform in the padded box + near the surface.

    * ``n_uniform`` points uniform in the bounding box grown by ``padding`` x its largest
      side on each side (ONet: unit cube with 0.1 total padding, i.e. 0.05 a side).
    * ``n_surface`` area-weighted surface samples, split evenly over ``sigmas``, each
      moved by isotropic Gaussian noise with standard deviation ``sigma``. With
      ``relative=True`` (default) sigma is a fraction of the bbox's largest side (so for a
      1.8 m person, 0.01 -> 1.8 cm); with ``relative=False`` it is in metres.

    Returns ``points (N, 3)`` float32 metres and ``occupancy (N,)`` bool (True inside),
    ``N = n_uniform + n_surface``, shuffled; numpy, or torch on the device of the vertices
    the ``MeshSDF`` was built from.
    """
    rng = make_rng(seed)
    scale = float(np.ptp(mesh_sdf.bounds, axis=0).max()) if relative else 1.0
    points = np.concatenate([
        _uniform_in_box(*_padded_box(mesh_sdf, padding), int(n_uniform), rng),
        _near_surface(mesh_sdf, int(n_surface), [s * scale for s in sigmas], rng),
    ])
    return _finish(mesh_sdf, points, lambda p: mesh_sdf.occupancy(p), rng)


# DeepSDF perturbs surface samples with variances 0.0025 and 0.00025 in the unit sphere.
DEEPSDF_SIGMAS = (float(np.sqrt(0.0025)), float(np.sqrt(0.00025)))


def sample_sdf_points(mesh_sdf: MeshSDF, n_points: int, *, uniform_fraction: float = 0.05,
                      sigmas: Sequence[float] = DEEPSDF_SIGMAS, relative: bool = True,
                      padding: float = 0.05, seed: Seed = 0):
    """DeepSDF training points: perturbed surface samples + a fraction uniform in the box.

    * ``round(n_points * uniform_fraction)`` points uniform in the bounding box padded by
      ``padding`` x its largest side (DeepSDF drew ~5 % uniformly in the unit sphere).
    * the rest are area-weighted surface samples split evenly over ``sigmas``, offset by
      isotropic Gaussian noise of that standard deviation. ``relative=True`` (default)
      scales sigma by the bounding-sphere radius (half the bbox diagonal), so the defaults
      ``(0.05, 0.0158)`` are DeepSDF's ``sqrt(0.0025)``, ``sqrt(0.00025)`` in the unit
      sphere; ``relative=False`` takes sigma in metres.

    Returns ``points (n_points, 3)`` float32 metres and ``sdf (n_points,)`` float32 metres
    (negative inside), shuffled; numpy, or torch on the ``MeshSDF``'s vertex device.
    """
    if not 0.0 <= uniform_fraction <= 1.0:
        raise InputError(f"uniform_fraction must be in [0, 1], got {uniform_fraction}")
    rng = make_rng(seed)
    n_uniform = int(round(n_points * uniform_fraction))
    lo, hi = mesh_sdf.bounds
    scale = 0.5 * float(np.linalg.norm(hi - lo)) if relative else 1.0
    points = np.concatenate([
        _uniform_in_box(*_padded_box(mesh_sdf, padding), n_uniform, rng),
        _near_surface(mesh_sdf, int(n_points) - n_uniform, [s * scale for s in sigmas], rng),
    ])
    return _finish(mesh_sdf, points, lambda p: mesh_sdf.signed_distance(p), rng)
