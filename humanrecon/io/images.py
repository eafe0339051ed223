"""The one image codec: float32 RGB ``(H, W, 3)`` or RGBA ``(H, W, 4)`` in ``[0, 1]`` in
memory, 8-bit (or 16-bit when read) files on disk through OpenCV.

OpenCV stores BGR(A); the conversion happens here and nowhere else. ``cv2`` is imported
lazily inside the functions. Writes are atomic (:func:`humanrecon.io.files.atomic_write`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from humanrecon._validation import to_numpy
from humanrecon.errors import InputError, MissingFileError
from humanrecon.io.files import atomic_write, check_suffix, write_bytes

#: suffixes :func:`save_image` writes (8-bit)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def to_float_image(image, name: str = "image", channels: int = 3) -> np.ndarray:
    """numpy/torch image -> float32 ``(H, W, channels)``: float stays as is (expected in
    ``[0, 1]``), uint8 is divided by 255, uint16 by 65535. With ``channels=3`` a gray
    ``(H, W)`` image is replicated; with ``channels=4`` an ``(H, W, 3)`` image gets alpha 1."""
    img = to_numpy(image)
    if img.ndim == 2 and channels == 3:
        img = np.repeat(img[..., None], 3, axis=-1)
    if img.dtype == np.uint8:
        img = img.astype(np.float32) / 255.0
    elif img.dtype == np.uint16:
        img = img.astype(np.float32) / 65535.0
    else:
        img = img.astype(np.float32)
    if channels == 4 and img.ndim == 3 and img.shape[-1] == 3:
        img = np.concatenate([img, np.ones_like(img[..., :1])], axis=-1)
    if img.ndim != 3 or img.shape[-1] != channels:
        want = "(H, W, 3) or (H, W)" if channels == 3 else f"(H, W, {channels})"
        raise InputError(f"{name} must have shape {want}, got {img.shape}")
    return img


def to_uint8(image, name: str = "image", channels: int = 3) -> np.ndarray:
    """Float in ``[0, 1]`` (clipped; NaN -> 0) or uint8 image -> uint8 ``(H, W, channels)``."""
    img = to_float_image(image, name, channels)
    return (np.clip(np.nan_to_num(img, nan=0.0), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def check_image_path(path: str | os.PathLike, what: str = "image") -> Path:
    """``path`` if :func:`save_image` can write its format, else :class:`InputError`
    (call before the work whose result it will hold)."""
    return check_suffix(path, IMAGE_SUFFIXES, f"{what} '{path}'")


def save_image(path: str | os.PathLike, image) -> Path:
    """Write an 8-bit image file atomically: RGB ``(H, W, 3)``, gray ``(H, W)`` or RGBA
    ``(H, W, 4)`` (PNG/TIFF/WebP keep alpha), float in ``[0, 1]`` or uint8.

    The format follows the suffix (one of :data:`IMAGE_SUFFIXES`). Parent folders are
    created. Returns the path. Raises :class:`InputError` naming the file for an
    unsupported suffix, a wrong shape, or a file that cannot be written.
    """
    import cv2

    path = check_image_path(path)
    arr = to_numpy(image)
    if arr.ndim == 3 and arr.shape[-1] == 4:
        bgr = cv2.cvtColor(to_uint8(arr, str(path), channels=4), cv2.COLOR_RGBA2BGRA)
    else:
        bgr = cv2.cvtColor(to_uint8(arr, str(path)), cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(path.suffix.lower(), bgr)
    if not ok:
        raise InputError(f"could not encode image for '{path}' as {path.suffix}")
    return write_bytes(path, buf.tobytes())


def _decode(path: str | os.PathLike) -> np.ndarray:
    """The file's pixels as RGB ``(H, W, 3)`` or RGBA ``(H, W, 4)`` in the file's dtype
    (gray is replicated to RGB)."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"image file not found: '{path}'")
    data = np.fromfile(str(path), dtype=np.uint8)
    try:
        img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    except cv2.error as exc:  # e.g. a header claiming more pixels than OpenCV allows
        message = str(exc).strip().splitlines()[-1] if str(exc).strip() else "decoder error"
        raise InputError(f"could not read image file '{path}': {message}") from exc
    if img is None:
        raise InputError(f"could not read image file '{path}': not a decodable image")
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    if img.ndim == 3 and img.shape[-1] == 3:
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if img.ndim == 3 and img.shape[-1] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA)
    raise InputError(f"image file '{path}' has unsupported shape {img.shape}")


def _as_float(img: np.ndarray) -> np.ndarray:
    if img.dtype == np.uint8:
        return img.astype(np.float32) / 255.0
    if img.dtype == np.uint16:
        return img.astype(np.float32) / 65535.0
    return img.astype(np.float32)


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as float32 RGB ``(H, W, 3)`` in ``[0, 1]``.

    Gray images are replicated to three channels, alpha is dropped (not composited),
    16-bit images are scaled by 1/65535. Raises :class:`MissingFileError` if the file is
    missing and :class:`InputError` if it cannot be decoded, both naming the file.
    """
    return _as_float(_decode(path)[..., :3])


def load_rgba(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as float32 straight RGBA ``(H, W, 4)`` in ``[0, 1]`` (alpha 1
    when the file has none). Errors as :func:`load_image`."""
    img = _decode(path)
    if img.shape[-1] == 3:
        opaque = np.iinfo(img.dtype).max if np.issubdtype(img.dtype, np.integer) else 1.0
        img = np.concatenate([img, np.full_like(img[..., :1], opaque)], axis=-1)
    return _as_float(img)


def save_animation(path: str | os.PathLike, frames: Sequence, fps: float = 12.0) -> Path:
    """Write frames (each ``(H, W, 3)`` float in ``[0, 1]`` or uint8, all the same size) as
    a looping GIF (Pillow), atomically. Parent folders are created; returns the path."""
    from PIL import Image

    path = check_suffix(path, (".gif",), "animation")
    if not fps > 0:
        raise InputError(f"{path}: frames per second must be > 0, got {fps}")
    images = [to_uint8(f, name=f"frame {i}") for i, f in enumerate(frames)]
    if not images:
        raise InputError(f"no frames to write to '{path}'")
    if len({im.shape for im in images}) != 1:
        raise InputError(f"frames for '{path}' differ in size: {sorted({im.shape for im in images})}")
    pil = [Image.fromarray(im) for im in images]
    with atomic_write(path) as handle:
        pil[0].save(handle, format="GIF", save_all=True, append_images=pil[1:],
                    duration=int(round(1000 / fps)), loop=0)
    return path
