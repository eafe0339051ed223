"""How well a fitted implicit shape matches what it was fitted to: its mesh by the shared
extractor against the source mesh (:func:`humanrecon.geometry.metrics.mesh_metrics`,
exact point-to-surface distances) or, for a point cloud, against the points (Chamfer
distance between the cloud and points sampled on the mesh)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from humanrecon.geometry.metrics import chamfer_distance, mesh_metrics
from humanrecon.geometry.sdf import sample_surface
from humanrecon.implicit.train import ImplicitShape, ShapeData

#: points sampled on each surface for the metrics
EVAL_POINTS = 100_000
#: F-score distance threshold (metres)
F_SCORE_THRESHOLD = 0.01


def evaluate_shape(shape: ImplicitShape, data: ShapeData, resolution: int = 128, *, source_mesh=None,
                   points: int = EVAL_POINTS, progress: bool = False) -> tuple[dict, object]:
    """Extract ``shape``'s mesh at ``resolution`` cells per axis and score it against
    ``source_mesh`` (a trimesh, metres; occupancy / DeepSDF fits) or ``data.points``
    (IGR). Returns ``(metrics, ExtractionResult)``; metrics in millimetres:
    ``chamfer_l1_mm``, ``accuracy_mm`` (mesh → source), ``completeness_mm`` (source →
    mesh), and for a source mesh also ``normal_consistency``, ``f_score_1cm`` and
    volumetric ``iou``; ``vertices`` of the extracted mesh."""
    result = shape.extract_mesh(resolution, progress=progress)
    mesh = result.mesh
    metrics: dict = {"resolution": resolution, "vertices": len(mesh.vertices)}
    if len(mesh.faces) == 0:
        return metrics | {"chamfer_l1_mm": None}, result
    if source_mesh is not None:
        scores = mesh_metrics(mesh.vertices, mesh.faces, source_mesh.vertices, source_mesh.faces,
                              n_points=points, threshold=F_SCORE_THRESHOLD)
        metrics |= {"chamfer_l1_mm": _mm(scores["chamfer_l1"]), "accuracy_mm": _mm(scores["accuracy"]),
                    "completeness_mm": _mm(scores["completeness"]),
                    "normal_consistency": round(scores["normal_consistency"], 4),
                    "f_score_1cm": round(scores["f_score"], 4),
                    "iou": None if np.isnan(scores["iou"]) else round(scores["iou"], 4)}
    else:
        samples, _ = sample_surface(np.asarray(mesh.vertices, np.float64), mesh.faces, points, 0)
        scores = chamfer_distance(samples, np.asarray(data.points.cpu(), np.float64))
        metrics |= {"chamfer_l1_mm": _mm(scores["l1"]), "accuracy_mm": _mm(scores["accuracy"]),
                    "completeness_mm": _mm(scores["completeness"])}
    return metrics, result


def _mm(metres: float) -> float:
    return round(1000 * metres, 3)


def source_mesh_of(path: str | Path):
    """The triangle mesh a shape was fitted to (None for a point cloud)."""
    from humanrecon.implicit.data import is_point_cloud
    from humanrecon.io.meshes import load_mesh

    return None if is_point_cloud(Path(path)) else load_mesh(path)
