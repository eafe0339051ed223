"""Pictures of meshes by ray casting (open3d) with hand-written shading, plus image I/O.

The one place pictures and synthetic views come from. Public names are loaded lazily
(PEP 562), so ``import humanrecon.render`` imports neither torch, open3d nor cv2:

* :mod:`.raycast`: ``render_mesh``, ``render_depth``, ``render_normals``,
  ``render_views``, ``render_turntable``, ``turntable_cameras``, ``RenderResult``
* :mod:`.grid`: ``image_grid`` (contact sheets)
* re-exported from :mod:`humanrecon.io.images`, the one image codec: ``save_image``,
  ``load_image``, ``to_uint8``, ``to_float_image``, ``save_animation``
* :mod:`.draw`: ``draw_points``, ``draw_skeleton``
* :mod:`.overview`: ``overview_image`` (a row of turntable views of one mesh)
* :mod:`.image_metrics`: ``psnr``, ``ssim``
* :mod:`.novel_views`: ``evaluate_split``, ``orbit_cameras``, ``render_orbit`` (any scene
  model with ``render_image``: NeRF, Gaussian splats)
"""

from __future__ import annotations

from humanrecon._lazy import lazy_exports

_EXPORTS = {
    "RenderResult": "raycast",
    "render_mesh": "raycast",
    "render_depth": "raycast",
    "render_normals": "raycast",
    "render_views": "raycast",
    "render_turntable": "raycast",
    "turntable_cameras": "raycast",
    "save_image": "humanrecon.io.images",
    "load_image": "humanrecon.io.images",
    "image_grid": "grid",
    "to_uint8": "humanrecon.io.images",
    "to_float_image": "humanrecon.io.images",
    "overview_image": "overview",
    "psnr": "image_metrics",
    "ssim": "image_metrics",
    "save_animation": "humanrecon.io.images",
    "draw_points": "draw",
    "draw_skeleton": "draw",
    "evaluate_split": "novel_views",
    "orbit_cameras": "novel_views",
    "render_orbit": "novel_views",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
