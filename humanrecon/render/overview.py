"""One picture that shows a whole mesh: a row of turntable views (front, side, ...)."""

from __future__ import annotations

import numpy as np

from humanrecon.errors import InputError
from humanrecon.render.grid import image_grid
from humanrecon.render.raycast import render_turntable

#: azimuth steps of a 4-view turntable: 0 front (+Z), 1 the body's left side (+X), 2 back, 3 right
VIEW_INDEX = {"front": 0, "left": 1, "back": 2, "right": 3}


def overview_image(vertices, faces, views: tuple[str, ...] = ("front", "left"), size: int = 384,
                   **render_kwargs) -> np.ndarray:
    """Render a Y-up mesh (``(V, 3)`` metres, world frame) from the named sides and lay
    the views out in a row: ``(size, size * len(views), 3)`` float32 RGB in [0, 1].

    ``views`` are ``front`` (looking from +Z), ``left`` (+X), ``back``, ``right``;
    ``render_kwargs`` go to :func:`render_mesh` (``vertex_colors``, ``color``, ...)."""
    unknown = [v for v in views if v not in VIEW_INDEX]
    if unknown:
        raise InputError(f"unknown views {unknown} (expected {', '.join(VIEW_INDEX)})")
    results = render_turntable(vertices, faces, n_views=4, width=size, height=size, **render_kwargs)
    return image_grid([results[VIEW_INDEX[v]].image for v in views], cols=len(views))
