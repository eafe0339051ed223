"""Training data for single-shape implicit fits: pools of labelled points from a
watertight mesh (ground truth by ray casting), and point clouds read from files."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from humanrecon.errors import InputError
from humanrecon.geometry.sdf import MeshSDF, sample_occupancy_points, sample_sdf_points
from humanrecon.implicit.config import POOL_POINTS
from humanrecon.implicit.train import ImplicitShape, TrainConfig, build_shape, train_igr, train_occupancy, train_sdf


@dataclass
class PointPool:
    """Pre-computed training points ``(P, 3)`` and their labels ``(P,)``; each step draws
    a random subset (as Occupancy Networks and DeepSDF train)."""

    points: torch.Tensor
    values: torch.Tensor

    def __call__(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(len(self.points), (n,), generator=generator)
        return self.points[idx], self.values[idx]


def padded_bounds(points: np.ndarray, padding: float = 0.1) -> np.ndarray:
    """Axis-aligned box ``(2, 3)`` around ``points (N, 3)``, grown by ``padding`` × its
    largest side on every side."""
    lo, hi = points.min(0), points.max(0)
    pad = padding * float((hi - lo).max())
    return np.stack([lo - pad, hi + pad]).astype(np.float32)


def mesh_pool(mesh_sdf: MeshSDF, kind: str, n_points: int = POOL_POINTS, seed: int = 0) -> PointPool:
    """Ground-truth pool for ``kind`` ``"occ"`` (ONet sampling: half uniform, half near the
    surface at two scales) or ``"sdf"`` (DeepSDF sampling)."""
    if kind == "occ":
        points, values = sample_occupancy_points(mesh_sdf, n_points // 2, n_points - n_points // 2, seed=seed)
    elif kind == "sdf":
        points, values = sample_sdf_points(mesh_sdf, n_points, uniform_fraction=0.2, seed=seed)
    else:
        raise InputError(f"no ground-truth pool for kind '{kind}' (use 'occ' or 'sdf')")
    return PointPool(torch.as_tensor(np.asarray(points), dtype=torch.float32),
                     torch.as_tensor(np.asarray(values), dtype=torch.float32))


def fit_mesh(vertices, faces, kind: str, config: TrainConfig, network: dict | None = None, *,
             repair: bool = False, source: str = "mesh", n_points: int = POOL_POINTS) -> ImplicitShape:
    """Fit an occupancy network (``kind="occ"``) or a DeepSDF decoder (``"sdf"``) to one
    watertight mesh (metres). ``network``: ``hidden``, ``layers``/``blocks``,
    ``frequencies``, ``c_dim``."""
    mesh_sdf = MeshSDF(vertices, faces, repair=repair, source=source)
    pool = mesh_pool(mesh_sdf, kind, n_points, config.seed)
    verts = np.asarray(mesh_sdf.vertices)
    bounds = padded_bounds(verts)
    centre = verts.mean(0)
    settings = dict(network or {}, bounds=bounds.tolist(), encoding_scale=float((bounds[1] - bounds[0]).max()))
    if kind == "sdf":  # start DeepSDF as a sphere around the shape (geometric initialisation)
        settings.update(centre=centre.tolist(), init_radius=0.5 * float(np.linalg.norm(verts - centre, axis=1).mean()))
    torch.manual_seed(config.seed)  # the network's initial weights follow the seed too
    shape = build_shape(kind, settings)
    (train_occupancy if kind == "occ" else train_sdf)(shape, pool, config)
    return shape


def fit_points(points, config: TrainConfig, normals=None, network: dict | None = None) -> ImplicitShape:
    """IGR: fit a signed distance to a raw point cloud ``(M, 3)`` (metres), with optional
    unit ``normals (M, 3)``; no inside/outside labels are needed."""
    points = np.asarray(points, dtype=np.float32)
    bounds = padded_bounds(points)
    extent = float((bounds[1] - bounds[0]).max())
    centre = points.mean(0)
    radius = 0.5 * float(np.linalg.norm(points - centre, axis=1).mean())
    # the geometric initialisation is a sphere around the network's origin: put it at the
    # cloud's centre
    torch.manual_seed(config.seed)  # the network's initial weights follow the seed too
    shape = build_shape("igr", dict(network or {}, bounds=bounds.tolist(), encoding_scale=extent,
                                    init_radius=radius, centre=centre.tolist()))
    train_igr(shape, torch.as_tensor(points), config,
              None if normals is None else torch.as_tensor(normals, dtype=torch.float32))
    return shape
