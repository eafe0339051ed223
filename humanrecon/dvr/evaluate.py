"""What a trained DVR scene is judged by besides its views (those go through the shared
:func:`humanrecon.render.novel_views.evaluate_split`): its extracted mesh against the true
one (Occupancy Networks' metrics)."""

from __future__ import annotations


import numpy as np

#: the shared extractor's first (dense) level, cells per axis
INITIAL_RESOLUTION = 32


def extract_dvr_mesh(model, resolution: int = 256, *, initial_resolution: int = INITIAL_RESOLUTION,
                     progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``vertices (V, 3)`` float32 world metres and ``faces (F, 3)`` int64 of
    :meth:`DVRModel.extract_mesh <humanrecon.dvr.model.DVRModel.extract_mesh>`."""
    result = model.extract_mesh(resolution, initial_resolution=initial_resolution, progress=progress)
    return np.asarray(result.mesh.vertices, np.float32), np.asarray(result.mesh.faces, np.int64)


def mesh_report(vertices, faces, true_vertices, true_faces, *, n_points: int = 100_000,
                threshold: float = 0.01, seed: int = 0) -> dict[str, float]:
    """A predicted mesh (``vertices (V, 3)``, ``faces (F, 3)``) against the true one, both
    in world metres, with :func:`humanrecon.geometry.metrics.mesh_metrics` (exact
    point-to-surface distances, ``n_points`` samples per surface).

    Returns floats in the units ``mesh_metrics`` gives: ``chamfer_l1``, ``accuracy``,
    ``completeness`` in **metres** (mean of the two directions for Chamfer-L1),
    ``chamfer_l2`` in m², ``normal_consistency`` in [0, 1], ``f_score``, ``precision``,
    ``recall`` in [0, 1] at ``threshold`` metres (default 1 cm), ``iou`` in [0, 1] (NaN when
    either mesh is not watertight); plus ``chamfer_l1_mm`` (Chamfer-L1 in millimetres).
    """
    from humanrecon.geometry.metrics import mesh_metrics

    report = mesh_metrics(vertices, faces, true_vertices, true_faces, n_points=n_points, threshold=threshold,
                          seed=seed)
    report["chamfer_l1_mm"] = 1000.0 * report["chamfer_l1"]
    return report
