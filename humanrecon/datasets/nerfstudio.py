"""instant-ngp / nerfstudio captures: one ``transforms.json`` beside the photos.

Layout (what instant-ngp's ``colmap2nerf.py`` and nerfstudio's ``ns-process-data`` write)::

    root/transforms.json   {"fl_x": ..., "fl_y": ..., "cx": ..., "cy": ..., "w": ..., "h": ...,
    root/images/0001.jpg    "camera_model": "OPENCV", "k1": ..., "k2": ..., "p1": ..., "p2": ...,
    root/masks/0001.png     "aabb_scale": 4,
                            "frames": [{"file_path": "images/0001.jpg", "mask_path": "masks/0001.png",
                                        "transform_matrix": [[...4x4...]]}, ...]}

Frames and units
----------------
* ``transform_matrix``: camera-to-world, OpenGL camera axes (x right, y up, z backward), as in
  Blender folders; converted to OpenCV world-to-camera here (``Camera.from_opengl_c2w``).
  World units are the file's (an SfM scale unless the capture was scaled).
* Intrinsics ``fl_x, fl_y, cx, cy, w, h`` (or ``camera_angle_x``) at the top level or per frame
  (per-frame values override), pixels, with the centre of the top-left pixel at ``(0.5, 0.5)``
  (nerfstudio's and instant-ngp's convention, the same as :class:`Camera`).
* ``camera_model``: ``PINHOLE``, ``OPENCV`` (``k1 k2 p1 p2``, optional ``k3``) or
  ``OPENCV_FISHEYE`` (``k1 k2 k3 k4``); instant-ngp files have no ``camera_model``: its
  ``k1 k2 p1 p2`` mean ``OPENCV`` and ``"is_fisheye": true`` means ``OPENCV_FISHEYE``.
  Distorted photos are undistorted once on reading (:mod:`humanrecon.datasets.undistort`),
  so the split holds pinhole cameras (slightly zoomed: no black borders).
* ``mask_path`` (nerfstudio): an object mask per frame, white = object, read into
  ``ViewSplit.masks``; the photo keeps its background (``alpha`` stays 1).
* Scene box: instant-ngp maps ``p_ngp = scale · p + offset`` (defaults 0.33 and 0.5) and puts
  the object in the unit cube of that space, so ``bounds`` is the cube of half-size
  ``0.5 / scale`` around the origin when the file has ``aabb_scale`` (an instant-ngp file);
  ``aabb_scale`` times that box is instant-ngp's whole (unbounded-background) scene. Files
  without it leave ``bounds`` to be derived from the cameras.
* ``ply_file_path`` (nerfstudio's sparse points): read into ``points`` / ``point_colors``.

Splits: nerfstudio's own when the file names them (``train_filenames``, ``val_filenames``,
``test_filenames``), else every 8th frame by file name held out (the mip-NeRF 360 rule).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from humanrecon.datasets.blender import _c2w, _intrinsics, _load_json, _resolve_image
from humanrecon.datasets.split import (
    HOLDOUT_EVERY,
    ViewSplit,
    holdout_indices,
    holdout_rule,
    read_image_stack,
    read_mask_stack,
    scale_cameras,
)
from humanrecon.datasets.undistort import coefficients, undistorter
from humanrecon.errors import InputError, MissingFileError
from humanrecon.geometry.camera import Camera

FILENAME = "transforms.json"
_LENS_KEYS = ("camera_model", "is_fisheye", "k1", "k2", "k3", "k4", "p1", "p2")
_OWN_SPLITS = {"train": "train_filenames", "val": "val_filenames", "test": "test_filenames"}


def is_nerfstudio(root: str | os.PathLike) -> bool:
    """True when ``root`` holds a ``transforms.json`` (or is one)."""
    root = Path(root)
    return (root.is_file() and root.suffix == ".json") or (root / FILENAME).is_file()


def _json_path(root: Path) -> Path:
    return root if root.is_file() else root / FILENAME


def _lens(json_path: Path, index: int, meta: dict, frame: dict) -> tuple[str, np.ndarray]:
    """The frame's ``(model, coefficients)`` (frame keys override top-level ones)."""
    p = {k: meta[k] for k in _LENS_KEYS if k in meta}
    p.update({k: frame[k] for k in _LENS_KEYS if k in frame})
    model = p.pop("camera_model", None)
    fisheye = bool(p.pop("is_fisheye", False))
    if model is None:
        model = "OPENCV_FISHEYE" if fisheye else "OPENCV"
    if not isinstance(model, str):
        raise InputError(f"{json_path}: frame {index} camera_model must be a string, got {model!r}")
    bad = {k: v for k, v in p.items() if isinstance(v, bool) or not isinstance(v, (int, float))}
    if bad:
        raise InputError(f"{json_path}: frame {index} has non-numeric distortion coefficients {bad}")
    return model, coefficients(model, p, f"{json_path}: frame {index}")


def _split_indices(json_path: Path, meta: dict, paths: list[Path], root: Path, split: str,
                   holdout_every: int) -> tuple[list[int], str]:
    key = _OWN_SPLITS.get(split)
    if key is not None and key in meta:
        wanted = meta[key]
        if not isinstance(wanted, list) or not all(isinstance(name, str) for name in wanted):
            raise InputError(f"{json_path}: '{key}' must be a list of file names")
        by_path = {p.resolve(): i for i, p in enumerate(paths)}
        indices = []
        for name in wanted:
            i = by_path.get((root / name).resolve())
            if i is None:
                raise InputError(f"{json_path}: '{key}' names '{name}', which no frame's file_path is")
            indices.append(i)
        return indices, f"the dataset's own ('{key}' in {json_path.name})"
    order = sorted(range(len(paths)), key=lambda i: paths[i].name)
    return [order[i] for i in holdout_indices(len(paths), split, holdout_every)], holdout_rule(holdout_every)


def read_nerfstudio(root: str | os.PathLike, split: str = "train", *, downscale: int = 1,
                    holdout_every: int = HOLDOUT_EVERY) -> ViewSplit:
    """Read one split of an instant-ngp / nerfstudio capture, undistorting its photos.

    Args:
        root: the folder holding ``transforms.json`` (or the json file itself); paths in it
            are relative to the json's folder.
        split: ``"train"``, ``"test"`` (= ``"val"`` unless the file names its own), ``"all"``.
        downscale: integer factor, after undistortion (area average; intrinsics scaled).
        holdout_every: the held-out period when the file names no splits.
    Returns:
        :class:`ViewSplit` (``format="nerfstudio"``): ``images (N, H, W, 3)``, ``alpha`` (ones,
        or 0 where undistortion had no source pixel), pinhole OpenCV ``cameras`` (float32),
        ``masks (N, H, W)`` when frames have ``mask_path``, ``bounds`` for instant-ngp files,
        ``points`` when the file names a ``ply_file_path``, and ``split_rule``.
    Raises:
        MissingFileError: the json, an image, a mask or the ply it names is missing.
        InputError: malformed json, a pose that is not a rotation, intrinsics with the
            principal point outside the image, an unsupported camera model, images of
            different sizes, masks of another size, an empty split (names file and frame).
    """
    root = Path(root)
    json_path = _json_path(root)
    base = json_path.parent
    meta = _load_json(json_path)
    frames = meta["frames"]
    paths = [_resolve_image(json_path, base, i, f) for i, f in enumerate(frames)]
    indices, rule = _split_indices(json_path, meta, paths, base, split, holdout_every)
    if not indices:
        raise InputError(f"{json_path}: split '{split}' of {len(frames)} frames is empty")
    frames = [frames[i] for i in indices]
    paths = [paths[i] for i in indices]
    c2w = np.stack([_c2w(json_path, i, f) for i, f in zip(indices, frames)])

    # sizes: from the json when it says, else from the first image
    from humanrecon.io.images import load_rgba

    width, height = meta.get("w"), meta.get("h")
    if width is None or height is None:
        first = load_rgba(paths[0])
        width, height = first.shape[1], first.shape[0]
    size = (int(width), int(height))

    Ks, lenses = [], {}
    for i, frame in zip(indices, frames):
        fx, fy, cx, cy = _intrinsics(json_path, i, meta, frame, *size)
        K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
        model, coeffs = _lens(json_path, i, meta, frame)
        key = (model, tuple(coeffs), tuple(K.ravel()))
        if key not in lenses:  # one resampling map per distinct lens, shared by its frames
            lenses[key] = undistorter(K, model, coeffs, *size)
        Ks.append(key)
    maps = [lenses[key] for key in Ks]

    images, alpha = read_image_stack(paths, str(json_path), downscale=downscale, size=size,
                                     transform=lambda row, rgba: maps[row].image(rgba), frames=indices)
    masks = None
    if any("mask_path" in f for f in frames):
        missing = [i for i, f in zip(indices, frames) if not isinstance(f.get("mask_path"), str)]
        if missing:
            raise InputError(f"{json_path}: frames {missing[:5]} have no 'mask_path' while others do")
        masks = read_mask_stack([base / f["mask_path"] for f in frames], str(json_path), size,
                                downscale=downscale, transform=lambda row, m: maps[row].mask(m), frames=indices)

    K = torch.from_numpy(np.stack([m.K for m in maps]))
    cameras = Camera.from_opengl_c2w(torch.from_numpy(c2w), K, *size)
    cameras = scale_cameras(cameras, 1.0 / int(downscale), images.shape[2], images.shape[1]).to(dtype=torch.float32)
    points = colors = None
    if isinstance(meta.get("ply_file_path"), str):
        points, colors = _read_points(json_path, base / meta["ply_file_path"])
    return ViewSplit(images=images, alpha=alpha, cameras=cameras, names=[str(p) for p in paths], root=root,
                     split=split, bounds=_ngp_bounds(json_path, meta), points=points, point_colors=colors,
                     masks=masks, split_rule=rule, format="nerfstudio")


def _ngp_bounds(json_path: Path, meta: dict) -> torch.Tensor | None:
    if "aabb_scale" not in meta:
        return None
    scale = meta.get("scale", 0.33)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
        raise InputError(f"{json_path}: 'scale' must be a positive number, got {scale!r}")
    half = 0.5 / float(scale)
    return torch.tensor([[-half] * 3, [half] * 3], dtype=torch.float32)


def _read_points(json_path: Path, path: Path) -> tuple[torch.Tensor, torch.Tensor | None]:
    if not path.is_file():
        raise MissingFileError(f"{json_path}: ply_file_path '{path}' not found")
    import open3d as o3d

    cloud = o3d.io.read_point_cloud(str(path))
    points = np.asarray(cloud.points, dtype=np.float32)
    if len(points) == 0:
        raise InputError(f"{path}: no points in the point cloud named by {json_path.name}")
    colors = np.asarray(cloud.colors, dtype=np.float32) if cloud.has_colors() else None
    return torch.from_numpy(points), None if colors is None else torch.from_numpy(colors)


def write_nerfstudio(root: str | os.PathLike, images, cameras: Camera, *, masks=None,
                     overwrite: bool = False) -> Path:
    """Write a nerfstudio capture: ``root/images/frame_00000.png``..., optional
    ``root/masks/frame_00000.png`` and ``root/transforms.json`` (pinhole, per-frame
    intrinsics where they differ from the first camera's; OpenGL camera-to-world poses).

    Args:
        images: ``(N, H, W, 3)`` RGB (or ``(N, H, W, 4)`` RGBA) in ``[0, 1]``, numpy or torch.
        cameras: :class:`Camera` of batch ``N`` and size ``W x H``.
        masks: optional ``(N, H, W)`` object masks in ``[0, 1]``.
        overwrite: replace existing files (else ``OutputExistsError`` names the first).
    Returns the json's path (written last, atomically).
    """
    from humanrecon._validation import to_numpy
    from humanrecon.datasets.blender import _intrinsics_dict
    from humanrecon.errors import InputTypeError
    from humanrecon.io.files import check_outputs, write_json
    from humanrecon.io.images import save_image

    if not isinstance(cameras, Camera):
        raise InputTypeError(f"cameras must be a humanrecon Camera, got {type(cameras).__name__}")
    root = Path(root)
    pixels = to_numpy(images).astype(np.float32)
    n = cameras.batch_size
    if pixels.ndim != 4 or pixels.shape[:3] != (n, cameras.height, cameras.width) or pixels.shape[-1] not in (3, 4):
        raise InputError(f"images must be (N, H, W, 3) = ({n}, {cameras.height}, {cameras.width}, 3) to match the "
                         f"cameras, got {pixels.shape}")
    mask_pixels = None if masks is None else to_numpy(masks).astype(np.float32)
    if mask_pixels is not None and mask_pixels.shape != pixels.shape[:3]:
        raise InputError(f"masks must be (N, H, W) = {pixels.shape[:3]}, got {mask_pixels.shape}")
    names = [f"frame_{i:05d}.png" for i in range(n)]
    image_paths = [root / "images" / name for name in names]
    mask_paths = [] if mask_pixels is None else [root / "masks" / name for name in names]
    json_path = root / FILENAME
    check_outputs([json_path, *image_paths, *mask_paths], overwrite)
    cams = cameras.to(device="cpu", dtype=torch.float64)
    Ks = cams.K.detach().numpy()
    c2w = cams.to_opengl_c2w().detach().numpy()
    top = _intrinsics_dict(Ks[0], 0)
    frames = []
    for i in range(n):
        save_image(image_paths[i], pixels[i])
        frame = {"file_path": f"images/{names[i]}", "transform_matrix": c2w[i].tolist()}
        if mask_paths:
            save_image(mask_paths[i], np.repeat(mask_pixels[i][..., None], 3, axis=-1))
            frame["mask_path"] = f"masks/{names[i]}"
        own = _intrinsics_dict(Ks[i], i)
        if own != top:
            frame.update(own)
        frames.append(frame)
    write_json(json_path, {"camera_model": "PINHOLE", **top, "w": cameras.width, "h": cameras.height,
                           "frames": frames})
    return json_path
