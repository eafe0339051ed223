"""Antialiased 2D overlays (keypoints, skeletons) drawn with OpenCV.

Point coordinates are pixels ``(x = column, y = row)`` in the camera convention of
:mod:`humanrecon.geometry.camera`: the centre of pixel ``(i, j)`` is ``(i + 0.5, j + 0.5)``,
so a projected point can be drawn as is. Non-finite points (missing keypoints) are
skipped. Functions return a new image of the input's kind: float32 RGB in ``[0, 1]``
(only drawn pixels change) or uint8. ``cv2`` is imported lazily.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from humanrecon._validation import to_numpy
from humanrecon.errors import InputError
from humanrecon.io.images import to_float_image

_SHIFT = 4  # OpenCV fractional bits: coordinates in 1/16 pixel


def _points_array(points, name: str) -> np.ndarray:
    p = to_numpy(points, np.float64)
    if p.ndim != 2 or p.shape[1] != 2:
        raise InputError(f"{name} must have shape (N, 2) pixel coordinates, got {p.shape}")
    return p


def _colors_array(colors, n: int, name: str) -> np.ndarray:
    """One RGB colour or ``(n, 3)`` colours in [0, 1] -> ``(n, 3)`` float."""
    c = np.asarray(colors, dtype=np.float64)
    if c.shape == (3,):
        c = np.broadcast_to(c, (n, 3))
    if c.shape != (n, 3):
        raise InputError(f"{name} must be an RGB colour (3,) or ({n}, 3), got {c.shape}")
    return c


def _cv_point(p: np.ndarray) -> tuple[int, int]:
    """Our pixel coordinates (centres at +0.5) -> OpenCV fixed point (centres at integers)."""
    scale = 1 << _SHIFT
    return int(round((p[0] - 0.5) * scale)), int(round((p[1] - 0.5) * scale))


def _cv_color(rgb: np.ndarray) -> tuple[int, int, int]:
    return tuple(int(round(255 * min(max(float(x), 0.0), 1.0))) for x in rgb)


class _Canvas:
    """uint8 RGB working copy of an image; ``result()`` returns the input's kind."""

    def __init__(self, image) -> None:
        self.is_uint8 = isinstance(image, np.ndarray) and image.dtype == np.uint8
        self.original = to_float_image(image)
        self.before = (np.clip(np.nan_to_num(self.original), 0, 1) * 255 + 0.5).astype(np.uint8)
        self.pixels = self.before.copy()  # RGB order; colours are given in RGB too

    def result(self) -> np.ndarray:
        if self.is_uint8:
            return self.pixels
        changed = (self.pixels != self.before).any(-1, keepdims=True)
        return np.where(changed, self.pixels.astype(np.float32) / 255.0, self.original).astype(np.float32)


def _draw_points_on(canvas: _Canvas, pts: np.ndarray, cols: np.ndarray, radius: float) -> None:
    import cv2

    r = max(int(round(radius * (1 << _SHIFT))), 1)
    for p, c in zip(pts, cols):
        if np.isfinite(p).all():
            cv2.circle(canvas.pixels, _cv_point(p), r, _cv_color(c), thickness=-1, lineType=cv2.LINE_AA, shift=_SHIFT)


def draw_points(image, points, colors: Sequence[float] | np.ndarray = (1.0, 0.0, 0.0), radius: float = 3.0) -> np.ndarray:
    """Draw filled antialiased discs at ``points (N, 2)`` (pixels) on a copy of ``image (H, W, 3)``.

    ``colors`` is one RGB colour or ``(N, 3)`` colours in ``[0, 1]``; ``radius`` in pixels.
    """
    pts = _points_array(points, "points")
    canvas = _Canvas(image)
    _draw_points_on(canvas, pts, _colors_array(colors, len(pts), "colors"), radius)
    return canvas.result()


def draw_skeleton(
    image,
    points,
    edges,
    color: Sequence[float] | np.ndarray = (0.0, 1.0, 0.0),
    *,
    thickness: int = 2,
    point_radius: float = 3.0,
    point_color: Sequence[float] | np.ndarray | None = (1.0, 0.0, 0.0),
) -> np.ndarray:
    """Draw bones ``edges (E, 2)`` (joint index pairs) between ``points (J, 2)`` (pixels).

    ``color`` is one RGB colour or ``(E, 3)`` per bone; joints are drawn on top as discs
    of ``point_radius`` in ``point_color`` (one colour or ``(J, 3)``; None draws no
    joints). Bones with a non-finite endpoint are skipped. Returns a new image.
    """
    import cv2

    pts = _points_array(points, "points")
    e = np.asarray(edges)
    if e.ndim != 2 or e.shape[1] != 2 or (e.size and not np.issubdtype(e.dtype, np.integer)):
        raise InputError(f"edges must be integer joint index pairs (E, 2), got shape {e.shape} dtype {e.dtype}")
    if e.size and (e.min() < 0 or e.max() >= len(pts)):
        raise InputError(f"edges index joints out of range [0, {len(pts)}): min {e.min()}, max {e.max()}")
    bone_colors = _colors_array(color, len(e), "color")
    canvas = _Canvas(image)
    for (a, b), c in zip(e, bone_colors):
        if np.isfinite(pts[a]).all() and np.isfinite(pts[b]).all():
            cv2.line(canvas.pixels, _cv_point(pts[a]), _cv_point(pts[b]), _cv_color(c),
                     thickness=int(thickness), lineType=cv2.LINE_AA, shift=_SHIFT)
    if point_color is not None:
        _draw_points_on(canvas, pts, _colors_array(point_color, len(pts), "point_color"), point_radius)
    return canvas.result()
