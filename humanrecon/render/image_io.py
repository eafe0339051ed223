"""Image files and grids: float32 RGB ``(H, W, 3)`` in ``[0, 1]`` in memory, OpenCV on disk.

OpenCV stores BGR; the conversion happens here and nowhere else. ``cv2`` is imported
lazily inside the functions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np


def to_float_image(image, name: str = "image") -> np.ndarray:
    """``(H, W, 3)`` or ``(H, W)`` numpy/torch image (float in [0, 1] or uint8) -> float32 RGB ``(H, W, 3)``."""
    if hasattr(image, "detach"):
        image = image.detach().cpu().numpy()
    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    if img.ndim != 3 or img.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (H, W, 3) or (H, W), got {img.shape}")
    if img.dtype == np.uint8:
        return img.astype(np.float32) / 255.0
    if img.dtype == np.uint16:
        return img.astype(np.float32) / 65535.0
    return img.astype(np.float32)


def to_uint8(image, name: str = "image") -> np.ndarray:
    """Float RGB in ``[0, 1]`` (clipped; NaN -> 0) or uint8 ``(H, W, 3)`` -> uint8 ``(H, W, 3)``."""
    img = to_float_image(image, name)
    return (np.clip(np.nan_to_num(img, nan=0.0), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def save_image(path: str | os.PathLike, image) -> Path:
    """Write an RGB image (float ``[0, 1]`` or uint8, ``(H, W, 3)`` or gray ``(H, W)``) as 8-bit.

    The format follows the suffix (``.png``, ``.jpg``, ...). Parent folders are created.
    Returns the path. Raises ``OSError`` naming the file if it cannot be written.
    """
    import cv2

    path = Path(path)
    rgb = to_uint8(image)
    ext = path.suffix or ".png"
    ok, buf = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"could not encode image for '{path}' (unsupported extension {ext!r}?)")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        buf.tofile(str(path))
    except OSError as exc:
        raise OSError(f"could not write image file '{path}': {exc}") from exc
    return path


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as float32 RGB ``(H, W, 3)`` in ``[0, 1]``.

    Gray images are replicated to three channels, alpha is dropped, 16-bit images are
    scaled by 1/65535. Raises ``FileNotFoundError`` if the file is missing and
    ``ValueError`` if it cannot be decoded, both naming the file.
    """
    import cv2

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: '{path}'")
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None:
        raise ValueError(f"could not read image file '{path}': not a decodable image")
    if img.ndim == 3 and img.shape[-1] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    elif img.ndim == 3 and img.shape[-1] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    elif img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.dtype not in (np.uint8, np.uint16):
        img = img.astype(np.float32)
    return to_float_image(img, name=str(path))


def image_grid(images: Sequence, cols: int | None = None, *, pad: int = 0, pad_value: float = 1.0) -> np.ndarray:
    """Tile same-size images ``(H, W, 3)`` row-major into one float32 image.

    ``cols`` defaults to ``ceil(sqrt(n))``; empty cells and ``pad`` pixel gaps are filled
    with ``pad_value``. Returns ``(rows*H + (rows-1)*pad, cols*W + (cols-1)*pad, 3)``.
    """
    imgs = [to_float_image(im, f"images[{i}]") for i, im in enumerate(images)]
    if not imgs:
        raise ValueError("image_grid needs at least one image")
    shapes = {im.shape for im in imgs}
    if len(shapes) != 1:
        raise ValueError(f"images must all have the same shape, got {sorted(shapes)}")
    n = len(imgs)
    cols = int(cols) if cols else int(np.ceil(np.sqrt(n)))
    if cols < 1:
        raise ValueError(f"cols must be >= 1, got {cols}")
    rows = -(-n // cols)
    h, w, _ = imgs[0].shape
    grid = np.full((rows * h + (rows - 1) * pad, cols * w + (cols - 1) * pad, 3), pad_value, np.float32)
    for k, im in enumerate(imgs):
        r, c = divmod(k, cols)
        y, x = r * (h + pad), c * (w + pad)
        grid[y:y + h, x:x + w] = im
    return grid


def save_animation(path: str | os.PathLike, frames: Sequence, fps: float = 12.0) -> Path:
    """Write frames (each ``(H, W, 3)`` float in ``[0, 1]`` or uint8, all the same size) as
    a looping GIF (Pillow). Parent folders are created; returns the path."""
    from PIL import Image

    path = Path(path)
    images = [to_uint8(f, name=f"frame {i}") for i, f in enumerate(frames)]
    if not images:
        raise ValueError(f"no frames to write to '{path}'")
    if len({im.shape for im in images}) != 1:
        raise ValueError(f"frames for '{path}' differ in size: {sorted({im.shape for im in images})}")
    path.parent.mkdir(parents=True, exist_ok=True)
    pil = [Image.fromarray(im) for im in images]
    pil[0].save(path, save_all=True, append_images=pil[1:], duration=int(round(1000 / fps)), loop=0)
    return path
