"""One reader for every multi-view trainer (``nerf|splat|dvr train``, the pipeline):
:func:`read_views` recognises the capture formats people bring and returns a
:class:`~humanrecon.datasets.split.ViewSplit` of pinhole OpenCV cameras (+ masks):

============  =====================================================  =============================
format        recognised by                                          reader
============  =====================================================  =============================
blender       ``transforms_{split}.json`` (NeRF-synthetic)           :func:`.blender.read_blender`
nerfstudio    ``transforms.json`` (instant-ngp, nerfstudio)          :func:`.nerfstudio.read_nerfstudio`
colmap        ``cameras/images/points3D`` (.bin/.txt), ``sparse/0``   :func:`.colmap.read_colmap_views`
idr           ``cameras_sphere.npz`` (DTU as IDR / NeuS ship it)     :func:`.idr.read_idr`
llff          ``poses_bounds.npy``                                   :func:`.llff.read_llff`
============  =====================================================  =============================

A folder holding several (DTU scan folders carry both ``cameras_sphere.npz`` and
``poses_bounds.npy``) is read in the order of this table; ``format=`` picks one. Splits are
the dataset's own where it has them (Blender's files, nerfstudio's ``*_filenames``), else
every 8th image by name is held out for ``"test"`` (the mip-NeRF 360 convention); the rule
used is ``ViewSplit.split_rule``, which the trainers write into ``metrics.json``.
"""

from __future__ import annotations

import os
from pathlib import Path

from humanrecon.datasets.blender import read_blender, transforms_path
from humanrecon.datasets.colmap import find_model, read_colmap_views
from humanrecon.datasets.nerfstudio import is_nerfstudio, read_nerfstudio
from humanrecon.datasets.split import ViewSplit
from humanrecon.errors import InputError, MissingFileError

FORMATS = ("blender", "nerfstudio", "colmap", "idr", "llff")


def is_colmap(root: str | os.PathLike) -> bool:
    """True when ``root`` holds a COLMAP model (itself or ``sparse/0``, ``sparse``, ``0``)."""
    try:
        find_model(root)
    except MissingFileError:
        return False
    return True


def _is_blender(root: Path, split: str) -> bool:
    return transforms_path(root, split).is_file() or any(root.glob("transforms_*.json"))


def _is_idr(root: Path) -> bool:
    from humanrecon.datasets.idr import is_idr

    return is_idr(root)


def _is_llff(root: Path) -> bool:
    from humanrecon.datasets.llff import is_llff

    return is_llff(root)


def detect_format(root: str | os.PathLike, split: str = "train") -> str:
    """The first of :data:`FORMATS` that ``root`` holds.

    Raises:
        MissingFileError: ``root`` holds none (the message lists what was looked for).
    """
    root = Path(root)
    if not root.exists():
        raise MissingFileError(f"dataset not found: '{root}'")
    checks = {"blender": lambda: root.is_dir() and _is_blender(root, split),
              "nerfstudio": lambda: is_nerfstudio(root), "colmap": lambda: root.is_dir() and is_colmap(root),
              "idr": lambda: root.is_dir() and _is_idr(root), "llff": lambda: root.is_dir() and _is_llff(root)}
    for name in FORMATS:
        if checks[name]():
            return name
    raise MissingFileError(f"{root}: not a dataset: found none of transforms_{split}.json (Blender), transforms.json "
                           "(instant-ngp / nerfstudio), a COLMAP model (cameras/images/points3D .bin or .txt, here or "
                           "in sparse/0), cameras_sphere.npz (DTU / IDR) or poses_bounds.npy (LLFF)")


def read_views(root: str | os.PathLike, split: str = "train", *, downscale: int = 1,
               format: str = "auto") -> ViewSplit:
    """Read ``split`` of any supported capture (see the module's table).

    Args:
        root: the dataset folder (or a ``transforms.json``).
        split: ``"train"``, ``"test"``, ``"val"`` or ``"all"`` (Blender folders: any split
            with a ``transforms_{split}.json``).
        downscale: integer image downscale (intrinsics scaled; LLFF uses ``images_N/`` when
            present).
        format: ``"auto"`` (:func:`detect_format`) or one of :data:`FORMATS`.
    Raises:
        MissingFileError: ``root`` is no dataset (the message names every layout).
        InputError: an unknown ``format``; the reader's own errors name the file and frame.
    """
    root = Path(root)
    if format == "auto":
        format = detect_format(root, split)
    if format == "blender":
        return read_blender(root, split, downscale=downscale)
    if format == "nerfstudio":
        return read_nerfstudio(root, split, downscale=downscale)
    if format == "colmap":
        return read_colmap_views(root, split, downscale=downscale)
    if format == "idr":
        from humanrecon.datasets.idr import read_idr

        return read_idr(root, split, downscale=downscale)
    if format == "llff":
        from humanrecon.datasets.llff import read_llff

        return read_llff(root, split, downscale=downscale)
    raise InputError(f"format must be 'auto' or one of {FORMATS}, got {format!r}")
