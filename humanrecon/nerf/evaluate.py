"""What a trained NeRF is judged and used by: test-view PSNR/SSIM (whole image and over
the body's pixels) with side-by-side pictures, a turntable animation of novel views, and
a mesh of its density."""

from __future__ import annotations

import math

from humanrecon.nerf.model import NerfModel
# evaluation and orbits are shared by every renderer: they live in humanrecon.render
from humanrecon.render.novel_views import FOREGROUND_OPACITY, evaluate_split, orbit_cameras, render_orbit

__all__ = ["FOREGROUND_OPACITY", "density_level", "evaluate_split", "extract_density_mesh", "orbit_cameras",
           "render_orbit"]


def density_level(model: NerfModel, opacity: float = 0.5, length_fraction: float = 0.1) -> float:
    """The default density iso-level (1/m) for meshing: the ``σ`` at which a layer
    ``length_fraction`` of the box's largest side thick has the given ``opacity`` —
    about 3 /m for a 2 m box, of the order of Instant-NGP's marching-cubes threshold. Low
    enough to keep thin parts of a field that is not yet sharp; raise it to cut floaters."""
    length = length_fraction * float((model.bounds[1] - model.bounds[0]).max())
    return -math.log(1 - opacity) / length


def extract_density_mesh(model: NerfModel, resolution: int = 256, level: float | None = None,
                         progress: bool = True, initial_resolution: int = 32):
    """The ``level`` iso-surface of the density (default :func:`density_level`) inside
    the scene box, with the shared hierarchical extractor: an ``ExtractionResult``
    (``.mesh`` a trimesh in world metres, normals outwards)."""
    from humanrecon.geometry.meshing import extract_mesh

    level = density_level(model) if level is None else float(level)
    return extract_mesh(model.field.density, model.bounds.cpu().numpy(), resolution, level, inside="positive",
                        initial_resolution=min(initial_resolution, resolution), device=model.bounds.device,
                        progress=progress)
