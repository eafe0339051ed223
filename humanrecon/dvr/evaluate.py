"""What a trained DVR scene is judged by: held-out views (silhouette IoU, PSNR over the
subject and over the whole image, side-by-side pictures) and its extracted mesh against
the true one (Occupancy Networks' metrics)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from humanrecon.dvr.render import RENDER_SAMPLES, normal_image, render_views

#: a true pixel belongs to the subject when its alpha exceeds this
TRUE_MASK_ALPHA = 0.5
#: the shared extractor's first (dense) level, cells per axis
INITIAL_RESOLUTION = 32


def _pooled_psnr(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> float | None:
    """PSNR in dB of one MSE over the pixels of ``mask (N, H, W)`` of all images
    ``(N, H, W, 3)`` together (all channels); None when no pixel is selected."""
    count = int(mask.sum())
    if count == 0:
        return None
    mse = float(((prediction - target) ** 2).sum(-1)[mask].sum()) / (3 * count)
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def mask_iou(predicted: torch.Tensor, true: torch.Tensor) -> float:
    """Intersection over union of two boolean masks of the same shape, summed over every
    pixel (1.0 when both are empty)."""
    union = int((predicted | true).sum())
    return 1.0 if union == 0 else int((predicted & true).sum()) / union


def evaluate_views(model, split, out_dir: str | Path | None = None, *, samples: int = RENDER_SAMPLES,
                   progress: bool = True) -> dict:
    """Render every camera of ``split`` (a :class:`~humanrecon.datasets.BlenderSplit`)
    over white and compare with its images.

    Returns:
        ``mask_iou``: IoU of the rendered hit mask with the true mask ``alpha > 0.5``, over
        all pixels of all views together. ``psnr_masked``: PSNR (dB) of the rendered colour
        against the true (straight, not composited) colour over the true mask's pixels,
        one MSE over all views pooled (None when the true masks are empty). ``psnr``: PSNR
        of the whole rendered image against the truth composited over white
        (``images · alpha + 1 − alpha``), the mean over views (as NeRF papers report).
        ``views``: the number of views.

    With ``out_dir``, writes ``<image stem>.png`` per view: rendering | truth | normals.
    """
    from humanrecon.render import image_grid, psnr, save_image

    rendered = render_views(model, split.cameras, background=1.0, samples=samples, progress=progress)
    true_mask = split.alpha.cpu() > TRUE_MASK_ALPHA
    images = split.images.cpu()
    truth = split.composite(torch.ones(3)).cpu()
    if out_dir is not None:
        for i, name in enumerate(split.names):
            tiles = [rendered["rgb"][i].numpy(), truth[i].numpy(),
                     normal_image(rendered["normals"][i], rendered["mask"][i])]
            save_image(Path(out_dir) / f"{Path(name).stem}.png", image_grid(tiles, cols=3, pad=2))
    return {"mask_iou": mask_iou(rendered["mask"], true_mask),
            "psnr_masked": _pooled_psnr(rendered["rgb"], images, true_mask),
            "psnr": psnr(rendered["rgb"], truth), "views": len(split.names)}


def extract_dvr_mesh(model, resolution: int = 256, *, initial_resolution: int = INITIAL_RESOLUTION,
                     progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The zero level set of ``model.sdf`` inside ``model.bounds`` with the shared
    hierarchical extractor (:func:`humanrecon.geometry.meshing.extract_mesh`;
    ``resolution`` cells per axis, ``resolution = initial_resolution · 2^k``).

    Returns ``vertices (V, 3)`` float32 world metres and ``faces (F, 3)`` int64, wound so
    normals point outwards; the mesh is closed (the box faces count as outside). Raises
    :class:`~humanrecon.errors.InputError` when the box holds no surface.
    """
    from humanrecon.geometry.meshing import extract_mesh

    result = extract_mesh(model.sdf, model.bounds.detach().cpu().numpy(), resolution, 0.0, inside="negative",
                          initial_resolution=min(initial_resolution, resolution), device=model.bounds.device,
                          progress=progress)
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
