"""Mesh-quality metrics as in the Occupancy Networks evaluation (Mescheder et al. 2019).

All point sets are in one world frame, in metres. Inputs may be numpy arrays, torch
tensors (any device; copied to CPU) or lists; results are Python floats. Nearest
neighbours come from ``scipy.spatial.cKDTree`` (O((N + M) log) time, O(N + M) memory).

Direction convention (as ONet): ``a`` is the prediction, ``b`` the ground truth;
*accuracy* measures a -> b (how close predicted points are to the truth), *completeness*
measures b -> a (how well the truth is covered).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from humanrecon.geometry.sdf import MeshSDF, Seed, _to_numpy, make_rng, sample_surface


def _points(x, name: str) -> np.ndarray:
    p = _to_numpy(x, np.float64)
    if p.ndim != 2 or p.shape[1] != 3 or len(p) == 0:
        raise ValueError(f"{name} must be a non-empty (N, 3) array, got shape {p.shape}")
    if not np.isfinite(p).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return p


class _Correspondences(NamedTuple):
    """Nearest neighbours both ways: ``d_ab (N,)``/``idx_ab (N,)`` from each ``a`` point
    to ``b``, ``d_ba (M,)``/``idx_ba (M,)`` back; Euclidean distances in metres."""

    d_ab: np.ndarray
    idx_ab: np.ndarray
    d_ba: np.ndarray
    idx_ba: np.ndarray


def _correspondences(a: np.ndarray, b: np.ndarray) -> _Correspondences:
    """One k-d tree query per direction (the expensive part; shared by all metrics)."""
    from scipy.spatial import cKDTree

    d_ab, idx_ab = cKDTree(b).query(a, k=1, workers=-1)
    d_ba, idx_ba = cKDTree(a).query(b, k=1, workers=-1)
    return _Correspondences(d_ab, idx_ab, d_ba, idx_ba)


def _point_pair(points_a, points_b) -> tuple[np.ndarray, np.ndarray, _Correspondences]:
    a, b = _points(points_a, "points_a"), _points(points_b, "points_b")
    return a, b, _correspondences(a, b)


def volumetric_iou(occ_a, occ_b) -> float:
    """Intersection over union of two occupancy labelings of the same points.

    ``occ_a, occ_b (N,)`` bool (True inside) -> ``|a & b| / |a | b|``. Two empty shapes
    (no point inside either) count as identical: 1.0.
    """
    a = _to_numpy(occ_a, bool)
    b = _to_numpy(occ_b, bool)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"occupancies must both have shape (N,), got {a.shape} and {b.shape}")
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else float(np.count_nonzero(a & b) / union)


def _as_mesh_sdf(mesh, source: str) -> MeshSDF:
    """A ``MeshSDF`` as is, a ``(vertices, faces)`` pair or an object with ``.vertices``
    and ``.faces`` (e.g. ``trimesh.Trimesh``)."""
    if isinstance(mesh, MeshSDF):
        return mesh
    vertices, faces = mesh if isinstance(mesh, (tuple, list)) else (mesh.vertices, mesh.faces)
    return MeshSDF(vertices, faces, source=source)


def mesh_iou(mesh_a, mesh_b, n_points: int = 100_000, seed: Seed = 0) -> float:
    """Volumetric IoU of two closed meshes from ``n_points`` uniform points in the union
    of their bounding boxes (ONet: 100k points). Meshes: ``MeshSDF``, ``(vertices, faces)``
    or trimesh; raises ValueError when either is not watertight."""
    a, b = _as_mesh_sdf(mesh_a, "mesh_a"), _as_mesh_sdf(mesh_b, "mesh_b")
    lo = np.minimum(a.bounds[0], b.bounds[0])
    hi = np.maximum(a.bounds[1], b.bounds[1])
    points = (lo + make_rng(seed).random((int(n_points), 3)) * (hi - lo)).astype(np.float32)
    return volumetric_iou(a.occupancy(points), b.occupancy(points))


def chamfer_distance(points_a, points_b) -> dict[str, float]:
    """Symmetric Chamfer distance, ONet's definitions, in metres (l1) and m^2 (l2).

    With ``d_a(x) = min_{y in B} ||x - y||_2`` for ``x in A (N, 3)`` and ``d_b`` the same
    the other way for ``y in B (M, 3)``::

        accuracy     = mean_x d_a(x)        completeness = mean_y d_b(y)
        l1 = (accuracy + completeness) / 2
        l2 = (mean_x d_a(x)^2 + mean_y d_b(y)^2) / 2

    (ONet's "Chamfer-L1": Euclidean, not squared, distances, averaged over the two
    directions; "Chamfer-L2" uses squared distances.) Returns
    ``dict(l1, l2, accuracy, completeness)``.
    """
    return _chamfer(_point_pair(points_a, points_b)[2])


def _chamfer(c: _Correspondences) -> dict[str, float]:
    accuracy, completeness = float(c.d_ab.mean()), float(c.d_ba.mean())
    return {
        "l1": 0.5 * (accuracy + completeness),
        "l2": 0.5 * float((c.d_ab**2).mean() + (c.d_ba**2).mean()),
        "accuracy": accuracy,
        "completeness": completeness,
    }


def _unit(normals, name: str, n: int) -> np.ndarray:
    v = _points(normals, name)
    if len(v) != n:
        raise ValueError(f"{name} must have one normal per point ({n}), got {len(v)}")
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def normal_consistency(points_a, normals_a, points_b, normals_b) -> float:
    """ONet normal consistency in [0, 1]: the mean over both directions of
    ``|cos|`` between each point's normal and its nearest neighbour's normal in the other
    set: ``(mean_x |n_a(x) . n_b(nn_B(x))| + mean_y |n_b(y) . n_a(nn_A(y))|) / 2``.
    Normals ``(N, 3)``/``(M, 3)`` need not be unit length (they are normalised); the
    absolute value makes the metric blind to flipped orientation, as in ONet."""
    a, b = _points(points_a, "points_a"), _points(points_b, "points_b")
    na, nb = _unit(normals_a, "normals_a", len(a)), _unit(normals_b, "normals_b", len(b))
    return _normal_consistency(_correspondences(a, b), na, nb)


def _normal_consistency(c: _Correspondences, na: np.ndarray, nb: np.ndarray) -> float:
    cos_ab = np.abs((na * nb[c.idx_ab]).sum(axis=1)).mean()
    cos_ba = np.abs((nb * na[c.idx_ba]).sum(axis=1)).mean()
    return 0.5 * float(cos_ab + cos_ba)


def f_score(points_a, points_b, threshold: float) -> dict[str, float]:
    """F-score at a distance ``threshold`` (metres), Tatarchenko et al. 2019.

    precision = fraction of ``points_a`` (prediction) closer than ``threshold`` to
    ``points_b``; recall = fraction of ``points_b`` (truth) closer than ``threshold`` to
    ``points_a`` (strict ``<``); ``f = 2 P R / (P + R)`` (0 when both are 0).
    Returns ``dict(f, precision, recall)``.
    """
    return _f_score(_point_pair(points_a, points_b)[2], threshold)


def _f_score(c: _Correspondences, threshold: float) -> dict[str, float]:
    precision = float((c.d_ab < threshold).mean())
    recall = float((c.d_ba < threshold).mean())
    total = precision + recall
    return {"f": 0.0 if total == 0 else 2 * precision * recall / total,
            "precision": precision, "recall": recall}


def mesh_metrics(pred_vertices, pred_faces, gt_vertices, gt_faces, n_points: int = 100_000,
                 threshold: float = 0.01, seed: Seed = 0,
                 paired_sampling: bool = True) -> dict[str, float]:
    """All ONet metrics between a predicted and a ground-truth mesh (metres).

    Samples ``n_points`` area-weighted points with face normals on each surface, then
    returns ``chamfer_l1``, ``chamfer_l2``, ``accuracy``, ``completeness``,
    ``normal_consistency``, ``f_score``, ``precision``, ``recall`` (at ``threshold``) and
    ``iou`` from ``n_points`` uniform points in the union bbox when both meshes are
    watertight (NaN otherwise, e.g. for an open predicted surface: any ``MeshSDF``
    ValueError). Each value is a Python float; distances in metres, ``chamfer_l2`` in m^2.

    ``paired_sampling=True`` draws both surfaces with the same random numbers, so identical
    meshes give identical samples (Chamfer exactly 0) and meshes sharing faces (e.g. body
    fits) are compared at corresponding points; for meshes with different faces it is the
    same as independent sampling. ``False`` samples independently, as ONet's protocol did
    (it then adds a sampling floor of roughly half the sample spacing to Chamfer).
    """
    rng = make_rng(seed)
    seed_a = int(rng.integers(2**62))
    seed_b = seed_a if paired_sampling else int(rng.integers(2**62))
    pa, na = sample_surface(_to_numpy(pred_vertices, np.float64), pred_faces, n_points, seed_a)
    pb, nb = sample_surface(_to_numpy(gt_vertices, np.float64), gt_faces, n_points, seed_b)
    a, b, corr = _point_pair(pa, pb)
    chamfer = _chamfer(corr)
    fs = _f_score(corr, threshold)
    try:
        iou = mesh_iou((pred_vertices, pred_faces), (gt_vertices, gt_faces), n_points, rng)
    except ValueError:
        iou = math.nan
    return {
        "chamfer_l1": chamfer["l1"], "chamfer_l2": chamfer["l2"],
        "accuracy": chamfer["accuracy"], "completeness": chamfer["completeness"],
        "normal_consistency": _normal_consistency(corr, _unit(na, "normals", len(a)),
                                                  _unit(nb, "normals", len(b))),
        "f_score": fs["f"], "precision": fs["precision"], "recall": fs["recall"],
        "iou": iou,
    }
