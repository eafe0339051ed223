"""Training data for single-shape implicit fits: pools of labelled points from a
watertight mesh (ground truth by ray casting), and point clouds read from files."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from humanrecon.errors import InputError
from humanrecon.geometry.sdf import MeshSDF, sample_occupancy_points, sample_sdf_points
from humanrecon.implicit.config import POOL_POINTS, ShapeConfig, TrainConfig
from humanrecon.implicit.train import ImplicitShape, ShapeData, fit_shape


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


def mesh_data(vertices, faces, kind: str, *, network: dict | None = None, repair: bool = False,
              source: str = "mesh", n_points: int = POOL_POINTS, seed: int = 0) -> ShapeData:
    """What an occupancy network (``kind="occ"``) or DeepSDF (``"sdf"``) fits to one
    watertight mesh (metres): a pool of ``n_points`` ground-truth points and the shape's
    settings (box: the mesh's, padded by 10 %; DeepSDF starts as a sphere around it).
    ``network``: ``hidden``, ``layers``/``blocks``, ``frequencies``, ``c_dim``."""
    mesh_sdf = MeshSDF(vertices, faces, repair=repair, source=source)
    pool = mesh_pool(mesh_sdf, kind, n_points, seed)
    verts = np.asarray(mesh_sdf.vertices)
    bounds = padded_bounds(verts)
    centre = verts.mean(0)
    settings = dict(network or {}, bounds=bounds.tolist(), encoding_scale=float((bounds[1] - bounds[0]).max()))
    if kind == "sdf":  # start DeepSDF as a sphere around the shape (geometric initialisation)
        settings.update(centre=centre.tolist(), init_radius=0.5 * float(np.linalg.norm(verts - centre, axis=1).mean()))
    return ShapeData(kind, settings, sampler=pool, source=source)


def points_data(points, normals=None, *, network: dict | None = None, source: str = "points") -> ShapeData:
    """What IGR fits to a raw point cloud ``(M, 3)`` (metres) with optional unit
    ``normals (M, 3)``: the points and the shape's settings (box: the cloud's, padded by
    10 %; the geometric initialisation is a sphere around the cloud's centre)."""
    points = np.asarray(points, dtype=np.float32)
    bounds = padded_bounds(points)
    extent = float((bounds[1] - bounds[0]).max())
    centre = points.mean(0)
    radius = 0.5 * float(np.linalg.norm(points - centre, axis=1).mean())
    settings = dict(network or {}, bounds=bounds.tolist(), encoding_scale=extent, init_radius=radius,
                    centre=centre.tolist())
    return ShapeData("igr", settings, points=torch.as_tensor(points),
                     normals=None if normals is None else torch.as_tensor(normals, dtype=torch.float32),
                     source=source)


def read_shape_data(path: str | Path, config: ShapeConfig) -> ShapeData:
    """The training data of ``config.kind`` from a file: a triangle mesh (``.obj``,
    ``.off``, ``.stl``, ``.glb``, a ``.ply`` with faces: occupancy / DeepSDF) or a point
    cloud (``.xyz``, ``.pts``, ``.txt``, ``.pcd``, a ``.ply`` without faces: IGR).
    ``InputError`` naming the file for a point cloud with ``kind="occ"``."""
    from humanrecon.io.points import read_point_cloud

    path = Path(path)
    network = dataclasses.asdict(config.network)
    if is_point_cloud(path):
        if config.kind == "occ":
            raise InputError(f"{path}: a point cloud has no inside/outside labels: use kind 'sdf' (learned with IGR)")
        points, normals = read_point_cloud(path, need_normals=config.use_normals)
        return points_data(points, normals if config.use_normals else None, network=network, source=str(path))
    from humanrecon.io.meshes import load_mesh

    mesh = load_mesh(path)
    return mesh_data(mesh.vertices, mesh.faces, config.kind, network=network, repair=config.repair,
                     source=str(path), n_points=config.pool_points, seed=config.seed)


def is_point_cloud(path: Path) -> bool:
    """A point-cloud file: a point-only format, or a PLY whose header declares no faces."""
    from humanrecon.io.points import POINT_SUFFIXES

    suffix = path.suffix.lower()
    if suffix != ".ply":
        return suffix in POINT_SUFFIXES
    if not path.is_file():
        return False
    with open(path, "rb") as f:
        header = f.read(4096).split(b"end_header")[0].decode("ascii", "replace").split("\n")
    return not any(line.split()[:2] == ["element", "face"] and line.split()[2:3] != ["0"] for line in header)


def fit_mesh(vertices, faces, kind: str, config: TrainConfig, network: dict | None = None, *,
             repair: bool = False, source: str = "mesh", n_points: int = POOL_POINTS,
             out_dir: str | Path | None = None, resume: bool = False, hooks=()) -> ImplicitShape:
    """Fit an occupancy network (``kind="occ"``) or a DeepSDF decoder (``"sdf"``) to one
    watertight mesh (metres) (:func:`mesh_data` → :func:`~humanrecon.implicit.train.fit_shape`:
    checkpoints in ``out_dir``, ``resume``, ``hooks``). Returns the shape in eval mode."""
    data = mesh_data(vertices, faces, kind, network=network, repair=repair, source=source, n_points=n_points,
                     seed=config.seed)
    return fit_shape(data, config, out_dir, resume=resume, hooks=hooks)[0]


def fit_points(points, config: TrainConfig, normals=None, network: dict | None = None, *,
               out_dir: str | Path | None = None, resume: bool = False, hooks=()) -> ImplicitShape:
    """IGR: fit a signed distance to a raw point cloud ``(M, 3)`` (metres), with optional
    unit ``normals (M, 3)``; no inside/outside labels are needed. Returns the shape in
    eval mode."""
    return fit_shape(points_data(points, normals, network=network), config, out_dir, resume=resume, hooks=hooks)[0]
