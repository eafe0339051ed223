"""Shared reference implementations the tests check the library against.

Each oracle is written from the textbook / paper definition in plain numpy,
independently of the humanrecon code it checks: it never calls library functions, so a
bug there cannot hide in the expected values. Slow but obvious (explicit loops where that
is clearer) is the point.

* Analytic signed distances (negative inside, metres): :func:`sphere_sdf`, :func:`box_sdf`,
  :func:`torus_sdf`, the inside test :func:`ellipsoid_inside`, and the volumes of those
  solids. :func:`on_torch` adapts any of them to ``torch`` tensors in / out (for code
  under test that calls back with tensors: mesh extraction, training samplers).
* Linear blend skinning (SMPL's definition): :func:`rodrigues`, :func:`skin`, :func:`lbs`.
* Instant-NGP's multiresolution hash encoding, a per-point loop: :func:`hash_grid_encoding`.
* Lens distortion renders: :func:`pinhole_render`, :func:`distorted_render`.
* A textured room for structure from motion: :func:`render_room` (value-noise walls),
  :func:`room_cameras`, :func:`room_surface_distance`; :func:`similarity_align` (Umeyama)
  and :func:`rotation_angle_deg` to compare recovered cameras with the truth.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

Vector = Sequence[float]


# --------------------------------------------------------------------------- analytic SDFs
# These compute in the precision of the points given: float64 (the default for anything
# that is not a float array) for reference values, float32 when a test feeds millions of
# float32 grid points and the tolerance is a voxel.
def _points(p, *vectors):
    """``p`` as a float array (float64 unless already float32/float64) and ``vectors`` in its dtype."""
    p = np.asarray(p)
    dtype = p.dtype if p.dtype in (np.float32, np.float64) else np.float64
    return (p.astype(dtype, copy=False),) + tuple(np.asarray(v, dtype) for v in vectors)


def _norm(v: np.ndarray) -> np.ndarray:
    """Euclidean norm over the last axis (``np.linalg.norm``, 4x faster on ``(N, 3)``)."""
    return np.sqrt(np.einsum("...i,...i->...", v, v))


def sphere_sdf(p, radius: float, centre: Vector = (0.0, 0.0, 0.0)) -> np.ndarray:
    """Exact signed distance of a sphere: ``|p - c| - r``. ``p (..., 3)`` -> ``(...)``."""
    p, c, r = _points(p, centre, radius)
    return _norm(p - c) - r


def box_sdf(p, half_extents: Vector, centre: Vector = (0.0, 0.0, 0.0)) -> np.ndarray:
    """Exact signed distance of an axis-aligned box with half side lengths ``half_extents``:
    ``|max(q, 0)| + min(max_i q_i, 0)`` with ``q = |p - c| - h``."""
    p, c, h = _points(p, centre, half_extents)
    q = np.abs(p - c) - h
    return _norm(np.maximum(q, 0)) + np.minimum(q.max(axis=-1), 0)


def torus_sdf(p, major: float, minor: float, centre: Vector = (0.0, 0.0, 0.0), axis: int = 2) -> np.ndarray:
    """Exact signed distance of a torus around coordinate ``axis`` (0 x, 1 y, 2 z) through
    ``centre``: distance to the ring of radius ``major`` in the plane normal to the axis,
    minus the tube radius ``minor``."""
    p, c, big, small = _points(p, centre, major, minor)
    d = p - c
    u, v = (i for i in range(3) if i != axis)
    ring = np.sqrt(d[..., u] ** 2 + d[..., v] ** 2) - big
    return np.sqrt(ring ** 2 + d[..., axis] ** 2) - small


def ellipsoid_inside(p, radii: Vector) -> np.ndarray:
    """Inside test (bool) of the origin-centred ellipsoid ``Σ (p_i / r_i)² < 1``."""
    p, r = _points(p, radii)
    return ((p / r) ** 2).sum(-1) < 1


def sphere_volume(radius: float) -> float:
    return 4.0 / 3.0 * math.pi * radius ** 3


def box_volume(half_extents: Vector) -> float:
    return 8.0 * float(np.prod(half_extents))


def torus_volume(major: float, minor: float) -> float:
    """Pappus: the tube's cross-section ``π r²`` swept along the ring ``2 π R``."""
    return 2.0 * math.pi ** 2 * major * minor ** 2


def on_torch(fn: Callable[..., np.ndarray], **params) -> Callable:
    """``fn(p, **params)`` as a function of a torch tensor ``p (N, 3)``: evaluated in numpy
    in ``p``'s precision (float32 or float64), returned as a tensor of ``p``'s dtype (bool
    stays bool) on ``p``'s device. Values only: no gradient flows through the oracle."""
    import torch

    def torch_fn(p):
        x = p.detach().cpu()
        out = np.asarray(fn((x if x.dtype == torch.float64 else x.float()).numpy(), **params))
        t = torch.from_numpy(out)
        return t.to(p.device) if t.dtype == torch.bool else t.to(device=p.device, dtype=p.dtype)

    return torch_fn


# --------------------------------------------------------------------------- linear blend skinning
def rodrigues(axis_angle) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` of axis-angle vectors ``(..., 3)``:
    ``I + sin θ K + (1 - cos θ) K²`` with ``K`` the cross-product matrix of the unit axis."""
    aa = np.asarray(axis_angle, np.float64)
    flat = aa.reshape(-1, 3)
    out = np.empty((len(flat), 3, 3))
    for i, v in enumerate(flat):
        theta = np.linalg.norm(v)
        if theta < 1e-12:
            out[i] = np.eye(3)
            continue
        x, y, z = v / theta
        k = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
        out[i] = np.eye(3) + np.sin(theta) * k + (1.0 - np.cos(theta)) * k @ k
    return out.reshape(aa.shape[:-1] + (3, 3))


def skin(weights, transforms, vertices) -> np.ndarray:
    """Blend skinning of one or a batch of meshes: vertex ``v`` moves by the weighted sum of
    the rigid transforms, ``(Σ_j w_vj A_j) [v, 1]``. ``weights (V, J)``, ``transforms
    ([B,] J, 4, 4)``, ``vertices ([B,] V, 3)`` -> ``([B,] V, 3)``."""
    w, a, v = (np.asarray(x, np.float64) for x in (weights, transforms, vertices))
    if a.ndim == 4:
        return np.stack([skin(w, a_b, v_b) for a_b, v_b in zip(a, v)])
    out = np.empty_like(v)
    for i in range(len(v)):
        t = np.tensordot(w[i], a, axes=1)  # (4, 4)
        out[i] = t[:3, :3] @ v[i] + t[:3, 3]
    return out


def lbs(betas, pose, v_template, shapedirs, posedirs, J_regressor, parents, lbs_weights):
    """SMPL's forward pass for a batch, written out (Loper et al. 2015, eqs. 1-4).

    ``betas (B, S)``, ``pose (B, J·3)`` axis-angle, ``v_template (V, 3)``, ``shapedirs
    (V, 3, S)``, ``posedirs (9·(J-1), V·3)`` or None, ``J_regressor (J, V)``, ``parents
    (J,)`` (``parents[0] = -1``), ``lbs_weights (V, J)`` -> ``vertices (B, V, 3)``,
    ``joints (B, J, 3)``."""
    betas, pose = np.asarray(betas, np.float64), np.asarray(pose, np.float64)
    parents = [int(p) for p in np.asarray(parents)]
    num_j = len(parents)
    verts, joints = [], []
    for b in range(len(betas)):
        shaped = np.asarray(v_template, np.float64) + np.asarray(shapedirs, np.float64) @ betas[b]
        rest_joints = np.asarray(J_regressor, np.float64) @ shaped
        rot = rodrigues(pose[b].reshape(num_j, 3))
        posed = shaped
        if posedirs is not None:
            feature = (rot[1:] - np.eye(3)).reshape(-1)
            posed = shaped + (feature @ np.asarray(posedirs, np.float64)).reshape(-1, 3)
        world = np.zeros((num_j, 4, 4))
        for j in range(num_j):
            local = np.eye(4)
            local[:3, :3] = rot[j]
            local[:3, 3] = rest_joints[j] - (rest_joints[parents[j]] if j else 0.0)
            world[j] = local if j == 0 else world[parents[j]] @ local
        rest_removed = world.copy()
        for j in range(num_j):  # transform relative to the rest pose: A_j = G_j [I, -J_j]
            rest_removed[j, :3, 3] -= world[j, :3, :3] @ rest_joints[j]
        verts.append(skin(lbs_weights, rest_removed, posed))
        joints.append(world[:, :3, 3])
    return np.stack(verts), np.stack(joints)


# --------------------------------------------------------------------------- hash-grid encoding
HASH_PRIMES = (1, 2654435761, 805459861)


def hash_grid_encoding(table, x, bounds, levels: int, base_resolution: int, finest_resolution: int,
                       log2_table_size: int) -> np.ndarray:
    """Instant-NGP's encoding (Müller et al. 2022) of points ``x (N, 3)``, one point, level
    and cell corner at a time: ``(N, levels · F)`` for a ``table (rows, F)``.

    The storage layout follows humanrecon's documented convention: level ``l`` has
    resolution ``floor(base · b^l)`` with ``b = (finest / base)^(1 / (levels - 1))``; a level
    whose ``(N_l + 1)^3`` vertices fit in ``T = 2^log2_table_size`` rows is indexed densely
    (``x + (N+1) y + (N+1)² z``), the others by the spatial hash ``(x ⊕ y·π2 ⊕ z·π3) mod T``;
    hashed levels' tables are stored first (``T`` rows each), then the dense ones. Points
    are mapped to the unit cube by ``bounds (2, 3)`` and clamped onto it."""
    table = np.asarray(table, np.float64)
    lo, hi = np.asarray(bounds, np.float64)
    T = 2 ** log2_table_size
    growth = math.exp((math.log(finest_resolution) - math.log(base_resolution)) / (levels - 1)) if levels > 1 else 1.0
    resolutions = [int(np.floor(base_resolution * growth ** level + 1e-6)) for level in range(levels)]
    dense = [(res + 1) ** 3 <= T for res in resolutions]
    starts, row = {}, 0
    for level in [l for l in range(levels) if not dense[l]] + [l for l in range(levels) if dense[l]]:
        starts[level] = row
        row += (resolutions[level] + 1) ** 3 if dense[level] else T
    assert table.shape[0] == row, (table.shape, row)
    out = np.zeros((len(x), levels, table.shape[1]))
    for p, point in enumerate(np.asarray(x, np.float64)):
        u = np.clip((point - lo) / (hi - lo), 0.0, 1.0)
        for level, res in enumerate(resolutions):
            pos = u * res
            cell = np.minimum(np.floor(pos), res - 1).astype(np.int64)
            frac = pos - cell
            for dx in (0, 1):
                for dy in (0, 1):
                    for dz in (0, 1):
                        vx, vy, vz = int(cell[0]) + dx, int(cell[1]) + dy, int(cell[2]) + dz
                        if dense[level]:
                            index = vx + (res + 1) * vy + (res + 1) ** 2 * vz
                        else:  # Python ints: no overflow
                            index = (vx * HASH_PRIMES[0] ^ vy * HASH_PRIMES[1] ^ vz * HASH_PRIMES[2]) % T
                        w = ((frac[0] if dx else 1 - frac[0]) * (frac[1] if dy else 1 - frac[1])
                             * (frac[2] if dz else 1 - frac[2]))
                        out[p, level] += w * table[starts[level] + index]
    return out.reshape(len(x), -1)


# --------------------------------------------------------------------------- lens distortion
def ray_colour(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A smooth colour ``(..., 3)`` in ``[0, 1]`` of the normalised ray direction ``(x/z, y/z)``:
    the same for a distorted and a pinhole camera seeing the same rays."""
    return np.stack([0.5 + 0.4 * np.sin(12.0 * x + 1.0), 0.5 + 0.4 * np.cos(10.0 * y - 0.5),
                     0.5 + 0.4 * np.sin(8.0 * (x + y))], axis=-1)


def pixel_centres(width: int, height: int) -> np.ndarray:
    """``(H, W, 2)`` pixel centres ``(u, v)`` with the top-left one at ``(0.5, 0.5)``."""
    v, u = np.mgrid[0:height, 0:width].astype(np.float64) + 0.5
    return np.stack([u, v], axis=-1)


def pinhole_render(K: np.ndarray, width: int, height: int) -> np.ndarray:
    """``(H, W, 3)`` image of :func:`ray_colour` seen by a pinhole camera ``K`` (pixel-area
    convention: principal point measured from the image's top-left corner)."""
    uv = pixel_centres(width, height)
    return ray_colour((uv[..., 0] - K[0, 2]) / K[0, 0], (uv[..., 1] - K[1, 2]) / K[1, 1])


def distorted_render(K: np.ndarray, coeffs, width: int, height: int, fisheye: bool = False) -> np.ndarray:
    """``(H, W, 3)`` image of :func:`ray_colour` seen through a distorted lens: each pixel's
    ray found by OpenCV's point undistortion (radial-tangential ``k1 k2 p1 p2 [k3]``, or the
    equidistant fisheye ``k1..k4``), then coloured. ``K`` in the pixel-area convention."""
    import cv2

    uv = pixel_centres(width, height).reshape(-1, 1, 2) - 0.5  # OpenCV: pixel centres at integers
    K_cv = np.array(K, dtype=np.float64)
    K_cv[:2, 2] -= 0.5
    if fisheye:
        xy = cv2.fisheye.undistortPoints(uv, K_cv, np.asarray(coeffs, np.float64))
    else:
        xy = cv2.undistortPoints(uv, K_cv, np.asarray(coeffs, np.float64),
                                 criteria=(cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12))
    xy = xy.reshape(height, width, 2)
    return ray_colour(xy[..., 0], xy[..., 1])


# --------------------------------------------------------------------------- a textured room (structure from motion)
#: the room: an axis-aligned box (metres, Y up) seen from inside; every ray ends on a wall
ROOM_HALF = (2.0, 1.5, 2.0)
#: cells per metre of the octaves of the walls' value noise (fine enough for SIFT at ~1 cm per pixel)
ROOM_OCTAVES = (1.5, 3.0, 6.0, 12.0, 24.0)


def _room_lattices(seed: int) -> dict:
    """Random RGB lattice values per (face, octave): each wall has its own texture."""
    rng = np.random.default_rng(seed)
    half = np.asarray(ROOM_HALF)
    lattices = {}
    for face in range(6):
        a, b = (i for i in range(3) if i != face // 2)
        for k, f in enumerate(ROOM_OCTAVES):
            lattices[face, k] = rng.random((int(np.ceil(2 * half[a] * f)) + 3, int(np.ceil(2 * half[b] * f)) + 3, 3))
    return lattices


def room_texture(points, face, seed: int = 0) -> np.ndarray:
    """RGB ``(N, 3)`` in ``[0, 1]`` of wall points ``points (N, 3)`` on ``face (N,)`` (``2 axis +
    (1 on the + side)``): value noise (smoothstep-bilinear lattice) summed over
    :data:`ROOM_OCTAVES` in the wall's own two coordinates, contrast-stretched."""
    lattices, half = _room_lattices(seed), np.asarray(ROOM_HALF)
    points, face = np.asarray(points, np.float64), np.asarray(face)
    out = np.zeros((len(points), 3))
    for fc in range(6):
        sel = face == fc
        if not sel.any():
            continue
        a, b = (i for i in range(3) if i != fc // 2)
        for k, f in enumerate(ROOM_OCTAVES):
            x, y = (points[sel, a] + half[a]) * f, (points[sel, b] + half[b]) * f
            i, j = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
            sx, sy = x - i, y - j
            sx, sy = (sx * sx * (3 - 2 * sx))[:, None], (sy * sy * (3 - 2 * sy))[:, None]
            table = lattices[fc, k]
            out[sel] += ((table[i, j] * (1 - sx) + table[i + 1, j] * sx) * (1 - sy)
                         + (table[i, j + 1] * (1 - sx) + table[i + 1, j + 1] * sx) * sy)
    return np.clip(0.5 + 3.0 * (out / len(ROOM_OCTAVES) - 0.5), 0.0, 1.0)


def render_room(K, R, t, width: int, height: int, seed: int = 0) -> np.ndarray:
    """Images ``(N, H, W, 3)`` float32 of the room from world-to-camera OpenCV cameras
    ``K (N, 3, 3)``, ``R (N, 3, 3)``, ``t (N, 3)`` (inside the room): each pixel centre's ray
    ``R^T K^-1 [u + 0.5, v + 0.5, 1]`` from ``-R^T t`` to the nearest wall it leaves through."""
    half = np.asarray(ROOM_HALF)
    v, u = np.mgrid[0:height, 0:width].astype(np.float64) + 0.5
    pixels = np.stack([u, v, np.ones_like(u)], -1).reshape(-1, 3)
    images = []
    for Ki, Ri, ti in zip(np.asarray(K, np.float64), np.asarray(R, np.float64), np.asarray(t, np.float64)):
        d = pixels @ np.linalg.inv(Ki).T @ Ri  # rows: R^T K^-1 p
        o = -Ri.T @ ti
        with np.errstate(divide="ignore", invalid="ignore"):
            exits = np.where(d > 0, (half - o) / d, (-half - o) / d)
        exits[~np.isfinite(exits) | (exits < 0)] = np.inf
        axis = np.argmin(exits, axis=1)
        rows = np.arange(len(d))
        hit = o + exits[rows, axis][:, None] * d
        images.append(room_texture(hit, 2 * axis + (d[rows, axis] > 0), seed).reshape(height, width, 3))
    return np.stack(images).astype(np.float32)


def look_at_cv(eye, target, up=(0.0, 1.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    """World-to-camera ``(R (3, 3), t (3,))`` (OpenCV: z forward, y down) of a camera at
    ``eye`` looking at ``target`` with world ``up`` pointing to the image top."""
    eye, target, up = (np.asarray(v, np.float64) for v in (eye, target, up))
    z = (target - eye) / np.linalg.norm(target - eye)
    x = np.cross(z, up)
    x /= np.linalg.norm(x)
    R = np.stack([x, np.cross(z, x), z])
    return R, -R @ eye


def room_cameras(n: int = 8, width: int = 200, height: int = 150, fov_deg: float = 70.0):
    """``(K, R, t)`` of ``n`` cameras on a helix (2 m along the room's back, one turn of
    radius 0.5 m), looking across the room at its far wall (+ floor, ceiling and side
    walls): ``(n, 3, 3)``, ``(n, 3, 3)``, ``(n, 3)``."""
    f = 0.5 * width / np.tan(np.radians(fov_deg) / 2)
    K = np.array([[f, 0.0, width / 2], [0.0, f, height / 2], [0.0, 0.0, 1.0]])
    poses = []
    for a in np.linspace(0.0, 1.0, n):
        eye = (-1.0 + 2.0 * a, 0.5 * np.sin(2 * np.pi * a), 0.9 + 0.5 * np.cos(2 * np.pi * a))
        poses.append(look_at_cv(eye, (0.8 - 1.6 * a, -0.3, -ROOM_HALF[2])))
    return np.repeat(K[None], n, axis=0), np.stack([p[0] for p in poses]), np.stack([p[1] for p in poses])


def room_surface_distance(points) -> np.ndarray:
    """Distance ``(N,)`` of points ``(N, 3)`` to the room's walls (``|box_sdf|``)."""
    return np.abs(box_sdf(points, ROOM_HALF))


def similarity_align(source, target) -> tuple[float, np.ndarray, np.ndarray]:
    """Umeyama (1991): ``(s, R, t)`` minimising ``Σ |target_i - (s R source_i + t)|²`` for
    point sets ``(N, 3)`` (least squares, ``R`` a proper rotation)."""
    x, y = np.asarray(source, np.float64), np.asarray(target, np.float64)
    mx, my = x.mean(0), y.mean(0)
    xc, yc = x - mx, y - my
    cov = yc.T @ xc / len(x)
    u, d, vt = np.linalg.svd(cov)
    sign = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    R = u @ sign @ vt
    s = float(np.trace(np.diag(d) @ sign) / (xc ** 2).sum(1).mean())
    return s, R, my - s * R @ mx


def rotation_angle_deg(R1, R2) -> np.ndarray:
    """Angles ``(...)`` in degrees of the relative rotations ``R1^T R2`` (``(..., 3, 3)`` each)."""
    rel = np.swapaxes(np.asarray(R1, np.float64), -1, -2) @ np.asarray(R2, np.float64)
    cos = (np.trace(rel, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
