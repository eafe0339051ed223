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

from humanrecon.datasets.blender import read_blender, transforms_path
from humanrecon.datasets.split import ViewSplit
from humanrecon.datasets.colmap import find_model, read_colmap_views
from humanrecon.errors import MissingFileError


def is_colmap(root: str | os.PathLike) -> bool:
    """True when ``root`` holds a COLMAP model (itself or ``sparse/0``, ``sparse``, ``0``)."""
    try:
        find_model(root)
    except MissingFileError:
        return False
    return True


def read_views(root: str | os.PathLike, split: str = "train", *, downscale: int = 1) -> ViewSplit:
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


