"""One reader for the multi-view training commands (``nerf|splat|dvr train``): a
Blender folder (``transforms_{split}.json`` + images) or a COLMAP capture (a sparse model in
``sparse/0`` and undistorted images in ``images/``), both as a
:class:`~humanrecon.datasets.blender.BlenderSplit`.

COLMAP captures have no named splits: ``"test"`` (and ``"val"``) is every ``holdout_every``-th
image by name (index 0, 8, 16, ...; the Mip-NeRF 360 / 3DGS convention), ``"train"`` the rest,
``"all"`` every image. Their splits carry the sparse points (``points``, ``point_colors``:
the usual start of 3DGS) and a scene box from them (``bounds``: the 1st–99th percentile box
of the points, grown by 10 % per side, so stray points far away do not inflate it).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from humanrecon.datasets.blender import read_blender, transforms_path
from humanrecon.datasets.split import HOLDOUT_EVERY, BlenderSplit, downscale_rgba, holdout_indices, scale_cameras
from humanrecon.datasets.colmap import find_model, read_colmap
from humanrecon.errors import InputError, MissingFileError
from humanrecon.io.images import load_rgba



def is_colmap(root: str | os.PathLike) -> bool:
    """True when ``root`` holds a COLMAP model (itself or ``sparse/0``, ``sparse``, ``0``)."""
    try:
        find_model(root)
    except MissingFileError:
        return False
    return True


def read_views(root: str | os.PathLike, split: str = "train", *, downscale: int = 1) -> BlenderSplit:
    """Read ``split`` of a Blender dataset (when ``transforms_{split}.json`` exists) or of a
    COLMAP capture (:func:`read_colmap_views`).

    Raises:
        MissingFileError: ``root`` is neither (the message names both layouts).
    """
    root = Path(root)
    if transforms_path(root, split).is_file():
        return read_blender(root, split, downscale=downscale)
    if is_colmap(root):
        return read_colmap_views(root, split, downscale=downscale)
    raise MissingFileError(f"{root}: not a dataset: no {transforms_path(root, split).name} (Blender format) and no "
                           "COLMAP model (cameras/images/points3D .bin or .txt in it or in sparse/0)")


def _image_folder(root: Path, model: Path) -> Path:
    for candidate in (root / "images", model / "images", model.parent.parent / "images", model.parent / "images"):
        if candidate.is_dir():
            return candidate
    raise MissingFileError(f"{root}: COLMAP model found in '{model}' but no 'images' folder next to it "
                           f"(looked in {root / 'images'})")


def _point_box(points: torch.Tensor) -> torch.Tensor | None:
    if len(points) < 10:
        return None
    lo, hi = torch.quantile(points.double(), torch.tensor([0.01, 0.99], dtype=torch.float64), dim=0)
    pad = 0.1 * (hi - lo).clamp(min=1e-6)
    return torch.stack([lo - pad, hi + pad]).float()


def read_colmap_views(root: str | os.PathLike, split: str = "train", *, downscale: int = 1,
                      holdout_every: int = HOLDOUT_EVERY) -> BlenderSplit:
    """Images and cameras of a COLMAP capture as a :class:`BlenderSplit`.

    Args:
        root: the capture folder: a model (``cameras``/``images``/``points3D``, text or binary)
            in it or in ``sparse/0``, and the undistorted images in ``root/images`` (or next to
            the model), named as the model names them.
        split: ``"train"``, ``"test"`` (= ``"val"``: every ``holdout_every``-th image by name)
            or ``"all"``.
        downscale: integer factor; images are area-averaged and the intrinsics scaled.
    Returns:
        a split with ``images (N, H, W, 3)``, ``alpha (N, H, W)`` (ones unless the images have
        alpha), OpenCV world-to-camera float32 ``cameras``, ``points (P, 3)``,
        ``point_colors (P, 3)`` and ``bounds (2, 3)`` (None with fewer than 10 points).
    Raises:
        MissingFileError: no model, no image folder, or an image the model names is missing.
        InputError: images of different sizes, an image whose size is not its camera's, an
            empty split.
    """
    root = Path(root)
    scene = read_colmap(root)
    folder = _image_folder(root, scene.folder)
    indices = holdout_indices(scene.num_images, split, holdout_every)
    if not indices:
        raise InputError(f"{root}: split '{split}' of {scene.num_images} images is empty (every {holdout_every}th "
                         "image is held out for testing)")
    cameras = scene.cameras[indices]  # raises for mixed sizes
    images = alpha = None
    for row, i in enumerate(indices):
        path = folder / scene.names[i]
        if not path.is_file():
            raise MissingFileError(f"{path}: image '{scene.names[i]}' of the COLMAP model in '{scene.folder}' is missing")
        rgba = torch.from_numpy(load_rgba(path))
        if (rgba.shape[1], rgba.shape[0]) != (cameras.width, cameras.height):
            raise InputError(f"{path}: image is {rgba.shape[1]}x{rgba.shape[0]} but its COLMAP camera is "
                             f"{cameras.width}x{cameras.height} (WxH); give the images the model was made from")
        rgb, a = downscale_rgba(rgba[..., :3], rgba[..., 3], downscale)
        if images is None:
            images = torch.empty((len(indices), *rgb.shape), dtype=torch.float32)
            alpha = torch.empty((len(indices), *a.shape), dtype=torch.float32)
        images[row], alpha[row] = rgb, a
    cameras = scale_cameras(cameras, 1.0 / int(downscale), images.shape[2], images.shape[1])
    return BlenderSplit(images=images, alpha=alpha, cameras=cameras.to(dtype=torch.float32),
                        names=[str(folder / scene.names[i]) for i in indices], root=root, split=split,
                        bounds=_point_box(scene.points), points=scene.points.clone(),
                        point_colors=scene.colors.clone())
