"""Blender / NeRF-synthetic datasets: ``transforms_{split}.json`` plus RGBA PNG images.

Layout (as in the original NeRF-synthetic scenes)::

    root/transforms_train.json   {"camera_angle_x": ..., "frames": [{"file_path": "./train/r_0",
    root/train/r_0.png             "transform_matrix": [[...4x4...]]}, ...]}

Frames and units
----------------
* ``transform_matrix`` is camera-to-world in OpenGL camera axes (x right, y up, z backward),
  world units metres. This module is the one boundary where it is converted to and from
  the OpenCV :class:`~humanrecon.geometry.camera.Camera` (x right, y down, z forward,
  world-to-camera ``R``, ``t``), via ``Camera.from_opengl_c2w`` / ``Camera.to_opengl_c2w``.
* Intrinsics come from ``camera_angle_x`` (horizontal FOV, radians; optional
  ``camera_angle_y``) or ``fl_x, fl_y, cx, cy`` in pixels (optional ``w``, ``h``), at the
  top level or per frame (per-frame values override, as in nerfstudio / instant-ngp). The
  principal point defaults to the image centre ``(W/2, H/2)``, which matches the pixel-centre
  ``+0.5`` convention of :class:`Camera`.
* Images in memory: float32 in ``[0, 1]``, RGB ``(H, W, 3)`` with straight (not
  premultiplied) alpha ``(H, W)``. On disk: 8-bit RGBA PNG (OpenCV, BGRA order converted here).

``cv2`` is imported lazily inside the functions that read or write images.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from humanrecon._validation import to_numpy
from humanrecon.errors import InputError, InputTypeError, MissingFileError
from humanrecon.io.files import check_outputs, write_json
from humanrecon.io.images import load_rgba, save_image
from humanrecon.geometry.camera import Camera, intrinsics_from_focal
from humanrecon.datasets.split import BlenderSplit, _as_factor, downscale_rgba, scale_cameras

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".exr", ".tif", ".tiff", ".bmp", ".webp")
_INTRINSIC_KEYS = ("camera_angle_x", "camera_angle_y", "fl_x", "fl_y", "cx", "cy", "w", "h")


# --------------------------------------------------------------------------- json helpers
def transforms_path(root: str | os.PathLike, split: str) -> Path:
    """``root/transforms_{split}.json``."""
    return Path(root) / f"transforms_{split}.json"


def _load_json(path: Path) -> dict:
    if not path.is_file():
        raise MissingFileError(f"Blender transforms file not found: '{path}'")
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: malformed JSON at line {exc.lineno} column {exc.colno} (char {exc.pos}): {exc.msg}"
        ) from exc
    if not isinstance(meta, dict):
        raise InputError(f"{path}: expected a JSON object at the top level, got {type(meta).__name__}")
    frames = meta.get("frames")
    if not isinstance(frames, list) or not frames:
        raise InputError(f"{path}: no frames (expected a non-empty list under 'frames')")
    return meta


def _resolve_image(json_path: Path, root: Path, index: int, frame: Any) -> Path:
    """The image file of ``frame``: ``root/file_path``, with ``.png`` appended if it lacks one."""
    if not isinstance(frame, dict) or not isinstance(frame.get("file_path"), str):
        raise InputError(f"{json_path}: frame {index} has no 'file_path' string")
    path = root / frame["file_path"]
    candidates = [path] if path.suffix.lower() in _IMAGE_SUFFIXES else [path.with_name(path.name + ".png"), path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise MissingFileError(
        f"{json_path}: image of frame {index} ('{frame['file_path']}') not found: {candidates[0]}"
    )


def _c2w(json_path: Path, index: int, frame: dict) -> np.ndarray:
    """The frame's ``transform_matrix`` as float64 ``(4, 4)`` (a ``(3, 4)`` one gets ``[0 0 0 1]``)."""
    try:
        m = np.asarray(frame["transform_matrix"], dtype=np.float64)
    except KeyError:
        raise InputError(f"{json_path}: frame {index} has no 'transform_matrix'") from None
    except (TypeError, ValueError) as exc:
        raise InputError(f"{json_path}: frame {index} transform_matrix is not a matrix of numbers ({exc})") from exc
    if m.shape not in ((4, 4), (3, 4)):
        raise InputError(f"{json_path}: frame {index} transform_matrix must be 4x4 (or 3x4), got shape {m.shape}")
    if not np.isfinite(m).all():
        raise InputError(f"{json_path}: frame {index} transform_matrix contains NaN or inf")
    rotation = m[:3, :3]
    if not np.allclose(rotation.T @ rotation, np.eye(3), atol=1e-2) or np.linalg.det(rotation) <= 0:
        raise InputError(f"{json_path}: frame {index} transform_matrix is not a camera pose: its 3x3 part is not "
                         f"a rotation (orthonormal, det +1): {np.round(rotation, 4).tolist()}")
    return np.vstack([m[:3], [0.0, 0.0, 0.0, 1.0]])


def _intrinsics(json_path: Path, index: int, meta: dict, frame: dict, width: int, height: int) -> tuple[float, float, float, float]:
    """``(fx, fy, cx, cy)`` in pixels for a ``width x height`` image; frame keys override top-level ones."""
    p = {k: meta[k] for k in _INTRINSIC_KEYS if k in meta}
    p.update({k: frame[k] for k in _INTRINSIC_KEYS if k in frame})
    bad = {k: v for k, v in p.items() if isinstance(v, bool) or not isinstance(v, (int, float))}
    if bad:
        raise InputError(f"{json_path}: frame {index} has non-numeric intrinsics {bad}")
    for key, size in (("w", width), ("h", height)):
        if key in p and int(p[key]) != size:
            raise InputError(f"{json_path}: frame {index} says {key}={p[key]} but its image is {width}x{height} (WxH)")
    for key in ("camera_angle_x", "camera_angle_y"):
        if key in p and not 0 < float(p[key]) < math.pi:
            raise InputError(f"{json_path}: frame {index} has {key} = {p[key]}: a field of view must be "
                             "between 0 and pi radians")
    if "fl_x" in p:
        fx = float(p["fl_x"])
    elif "camera_angle_x" in p:
        fx = 0.5 * width / math.tan(0.5 * float(p["camera_angle_x"]))
    else:
        raise InputError(f"{json_path}: frame {index} has no intrinsics: need 'camera_angle_x' or 'fl_x'")
    if "fl_y" in p:
        fy = float(p["fl_y"])
    elif "camera_angle_y" in p:
        fy = 0.5 * height / math.tan(0.5 * float(p["camera_angle_y"]))
    else:
        fy = fx
    values = (fx, fy, float(p.get("cx", width / 2.0)), float(p.get("cy", height / 2.0)))
    if not all(math.isfinite(v) for v in values) or fx <= 0 or fy <= 0:
        raise InputError(f"{json_path}: frame {index} has invalid intrinsics (fx, fy, cx, cy) = {values}")
    if not (0 <= values[2] <= width and 0 <= values[3] <= height):
        raise InputError(f"{json_path}: frame {index} puts the principal point (cx, cy) = ({values[2]:g}, "
                         f"{values[3]:g}) outside its {width}x{height} image")
    return values


# --------------------------------------------------------------------------- reading
def read_blender(
    root: str | os.PathLike,
    split: str = "train",
    *,
    max_images: int | None = None,
    downscale: int = 1,
) -> BlenderSplit:
    """Read one split of a Blender / NeRF-synthetic dataset.

    Args:
        root: folder holding ``transforms_{split}.json``; frame ``file_path`` entries are
            relative to it, with or without the ``.png`` extension.
        split: which ``transforms_{split}.json`` to read.
        max_images: read only the first ``max_images`` frames.
        downscale: integer factor; images are area-averaged (premultiplied by alpha) and the
            intrinsics scaled by ``1 / downscale``.
    Returns:
        :class:`BlenderSplit` with ``images (N, H, W, 3)``, ``alpha (N, H, W)`` and cameras
        converted to OpenCV world-to-camera (float32).
    Raises:
        FileNotFoundError: the json or an image it names is missing.
        ValueError: malformed json, no frames, inconsistent image sizes, a non-finite or
            wrongly shaped ``transform_matrix``, or missing intrinsics (message names the
            file and frame).
    """
    root = Path(root)
    downscale = _as_factor(downscale)
    json_path = transforms_path(root, split)
    meta = _load_json(json_path)
    frames = meta["frames"]
    if max_images is not None:
        if int(max_images) < 1:
            raise InputError(f"max_images must be >= 1, got {max_images}")
        frames = frames[: int(max_images)]
    paths = [_resolve_image(json_path, root, i, f) for i, f in enumerate(frames)]
    c2w = np.stack([_c2w(json_path, i, f) for i, f in enumerate(frames)])

    images = alpha = None
    first_size = None
    Ks = []
    for i, (frame, path) in enumerate(zip(frames, paths)):
        rgba = torch.from_numpy(load_rgba(path))
        size = (rgba.shape[1], rgba.shape[0])
        if first_size is None:
            first_size = size
        elif size != first_size:
            raise InputError(
                f"{json_path}: image sizes differ within split '{split}': {paths[0]} is "
                f"{first_size[0]}x{first_size[1]} but {path} is {size[0]}x{size[1]} (WxH)"
            )
        Ks.append(_intrinsics(json_path, i, meta, frame, *size))
        rgb, a = downscale_rgba(rgba[..., :3], rgba[..., 3], downscale)
        if images is None:  # allocate once: a split can hold gigabytes of pixels
            images = torch.empty((len(frames), *rgb.shape), dtype=torch.float32)
            alpha = torch.empty((len(frames), *a.shape), dtype=torch.float32)
        images[i], alpha[i] = rgb, a

    fx, fy, cx, cy = (torch.tensor(v, dtype=torch.float64) for v in zip(*Ks))
    K = intrinsics_from_focal(fx, fy, cx, cy)
    cameras = Camera.from_opengl_c2w(torch.from_numpy(c2w), K, *first_size)
    cameras = scale_cameras(cameras, 1.0 / downscale, images.shape[2], images.shape[1]).to(dtype=torch.float32)
    return BlenderSplit(images=images, alpha=alpha, cameras=cameras, names=[str(p) for p in paths],
                        root=root, split=split, split_rule=f"the dataset's own ({json_path.name})",
                        format="blender")


# --------------------------------------------------------------------------- writing
def image_path(root: str | os.PathLike, split: str, index: int) -> Path:
    """Where :func:`write_blender` puts image ``index`` of ``split``: ``root/split/r_{index:03d}.png``."""
    return Path(root) / split / f"r_{index:03d}.png"


def output_paths(root: str | os.PathLike, split: str, n: int) -> list[Path]:
    """All files :func:`write_blender` writes for ``n`` images: the json, then the images."""
    return [transforms_path(root, split)] + [image_path(root, split, i) for i in range(n)]


def _as_rgba_array(images_rgba, n_expected: int, width: int, height: int) -> np.ndarray:
    """``(N, H, W, 4)`` or ``(N, H, W, 3)`` (opaque) numpy/torch, float or uint8 -> float32 RGBA."""
    arr = to_numpy(images_rgba)
    arr = arr.astype(np.float32) / 255.0 if arr.dtype == np.uint8 else arr.astype(np.float32)
    want = (n_expected, height, width)
    if arr.ndim != 4 or arr.shape[:3] != want or arr.shape[-1] not in (3, 4):
        raise InputError(f"images_rgba must have shape (N, H, W, 4) = ({n_expected}, {height}, {width}, 4) "
                         f"to match the cameras, got {arr.shape}")
    if arr.shape[-1] == 3:
        arr = np.concatenate([arr, np.ones_like(arr[..., :1])], axis=-1)
    return arr


def _intrinsics_dict(K: np.ndarray, index: int) -> dict[str, float]:
    if abs(K[0, 1]) > 0 or np.any(K[2] != (0.0, 0.0, 1.0)) or K[1, 0] != 0:
        raise InputError(f"camera {index}: K has skew or is not a pinhole matrix, cannot store it in "
                         f"transforms.json: {K.tolist()}")
    return {"fl_x": float(K[0, 0]), "fl_y": float(K[1, 1]), "cx": float(K[0, 2]), "cy": float(K[1, 2])}


def write_blender(
    root: str | os.PathLike,
    split: str,
    images_rgba,
    cameras: Camera,
    *,
    overwrite: bool = False,
) -> Path:
    """Write one split in the Blender format: ``root/split/r_000.png``... and ``transforms_{split}.json``.

    Args:
        root: dataset folder (created if needed).
        split: split name, e.g. ``"train"``.
        images_rgba: ``(N, H, W, 4)`` straight RGBA in ``[0, 1]`` (or uint8), numpy or torch;
            ``(N, H, W, 3)`` is written opaque. Stored as 8-bit RGBA PNGs.
        cameras: :class:`Camera` of batch ``N`` and size ``W x H`` (OpenCV, world-to-camera).
        overwrite: replace existing files; otherwise ``FileExistsError`` names the first one.
    The json holds ``camera_angle_x`` (for original NeRF readers), the exact ``fl_x, fl_y,
    cx, cy, w, h`` of camera 0 at the top level, per-frame ``fl_x, fl_y, cx, cy`` for
    cameras whose intrinsics differ from camera 0, and per-frame ``file_path``
    (``./split/r_000``, no extension, as in NeRF-synthetic) and OpenGL camera-to-world
    ``transform_matrix``. The json is written last and atomically. Returns its path.
    """
    if not isinstance(cameras, Camera):
        raise InputTypeError(f"cameras must be a humanrecon Camera, got {type(cameras).__name__}")
    n = cameras.batch_size
    rgba = _as_rgba_array(images_rgba, n, cameras.width, cameras.height)
    paths = output_paths(root, split, n)
    check_outputs(paths, overwrite)
    json_path, image_paths = paths[0], paths[1:]

    cams = cameras.to(device="cpu", dtype=torch.float64)
    Ks = cams.K.detach().numpy()
    c2w = cams.to_opengl_c2w().detach().numpy()
    top = _intrinsics_dict(Ks[0], 0)
    frames = []
    for i in range(n):
        frame = {"file_path": f"./{split}/{image_paths[i].stem}", "transform_matrix": c2w[i].tolist()}
        own = _intrinsics_dict(Ks[i], i)
        if own != top:
            frame.update(own)
        frames.append(frame)
    meta = {"camera_angle_x": float(cams.fov_x[0]), **top, "w": cameras.width, "h": cameras.height,
            "frames": frames}

    image_paths[0].parent.mkdir(parents=True, exist_ok=True)
    for path, image in zip(image_paths, rgba):
        save_image(path, image)
    write_json(json_path, meta)
    return json_path
