"""Differentiable volumetric rendering (DVR, Niemeyer et al. CVPR 2020): implicit surfaces
rendered by ray marching with secant refinement, exact gradients by implicit
differentiation.

* :mod:`.surface`: ``find_surface``, ``surface_depth`` (implicit gradient),
  ``closest_approach``, ``unrolled_surface_depth``, ``saved_tensor_bytes``
* :mod:`.model`: ``DVRModel`` (shape network + texture field, checkpoints)
* :mod:`.config`: ``DVRConfig``; :mod:`.train`: ``train_dvr`` (visual-hull start, DVR's losses)
* :mod:`.render`: ``render_views``, ``occupied_box``; :mod:`.evaluate`: ``extract_dvr_mesh``, ``mesh_report``
  (held-out views are judged by the shared :func:`humanrecon.render.evaluate_split`)

Names are loaded lazily (PEP 562), so importing the package (e.g. for the CLI's
``--help``) does not import torch.
"""

from __future__ import annotations

from humanrecon._lazy import lazy_exports

_EXPORTS = {
    "OCCUPANCY": "surface",
    "SDF": "surface",
    "RayHits": "surface",
    "SurfaceLevel": "surface",
    "closest_approach": "surface",
    "find_surface": "surface",
    "saved_tensor_bytes": "surface",
    "surface_depth": "surface",
    "unrolled_surface_depth": "surface",
    "DVRModel": "model",
    "DVRConfig": "config",
    "train_dvr": "train",
    "occupied_box": "render",
    "render_views": "render",
    "extract_dvr_mesh": "evaluate",
    "mesh_report": "evaluate",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
