"""Contact sheets: same-size images tiled into one picture."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from humanrecon.errors import InputError
from humanrecon.io.images import to_float_image


def image_grid(images: Sequence, cols: int | None = None, *, pad: int = 0, pad_value: float = 1.0) -> np.ndarray:
    """Tile same-size images ``(H, W, 3)`` row-major into one float32 image.

    ``cols`` defaults to ``ceil(sqrt(n))``; empty cells and ``pad`` pixel gaps are filled
    with ``pad_value``. Returns ``(rows*H + (rows-1)*pad, cols*W + (cols-1)*pad, 3)``.
    """
    imgs = [to_float_image(im, f"images[{i}]") for i, im in enumerate(images)]
    if not imgs:
        raise InputError("image_grid needs at least one image")
    shapes = {im.shape for im in imgs}
    if len(shapes) != 1:
        raise InputError(f"images must all have the same shape, got {sorted(shapes)}")
    n = len(imgs)
    cols = int(cols) if cols else int(np.ceil(np.sqrt(n)))
    if cols < 1:
        raise InputError(f"cols must be >= 1, got {cols}")
    rows = -(-n // cols)
    h, w, _ = imgs[0].shape
    grid = np.full((rows * h + (rows - 1) * pad, cols * w + (cols - 1) * pad, 3), pad_value, np.float32)
    for k, im in enumerate(imgs):
        r, c = divmod(k, cols)
        y, x = r * (h + pad), c * (w + pad)
        grid[y:y + h, x:x + w] = im
    return grid
