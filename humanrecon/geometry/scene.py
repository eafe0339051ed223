"""Scene extent from cameras alone, for object-centric captures (cameras around an
object, all looking at it): the point the optical axes pass closest to, and a box that
every camera sees whole. NeRF uses it when a dataset names no box.
"""

from __future__ import annotations

import torch

from humanrecon.errors import InputError
from humanrecon.geometry.camera import Camera


def look_at_centre(cameras: Camera) -> torch.Tensor:
    """The world point ``(3,)`` (metres) with the least summed squared distance to all
    optical axes (the lines through each camera centre along its viewing direction).

    Raises ValueError for fewer than two cameras or axes that are all parallel."""
    if len(cameras) < 2:
        raise InputError(f"need at least two cameras to locate the scene centre, got {len(cameras)}")
    c = cameras.center.double()  # (B, 3)
    d = cameras.optical_axis.double()
    d = d / d.norm(dim=-1, keepdim=True)
    projector = torch.eye(3, dtype=c.dtype, device=c.device) - d[:, :, None] * d[:, None, :]  # (B, 3, 3)
    a = projector.sum(0)
    b = (projector @ c[:, :, None]).sum(0)
    if torch.linalg.matrix_rank(a).item() < 3:
        raise InputError("the cameras' optical axes are parallel: no point where they meet")
    return torch.linalg.solve(a, b)[:, 0].to(cameras.dtype)


def visible_bounds(cameras: Camera, centre: torch.Tensor | None = None) -> torch.Tensor:
    """A cube ``(2, 3)`` ``[min, max]`` (metres) around ``centre`` (default
    :func:`look_at_centre`) of half-size ``r``: the radius of the largest sphere around
    the centre that the nearest camera still sees whole (``distance · sin(fov / 2)`` with
    the smaller of its two fields of view)."""
    centre = look_at_centre(cameras) if centre is None else torch.as_tensor(centre, dtype=cameras.dtype)
    distance = (cameras.center - centre).norm(dim=-1)
    half_fov = 0.5 * torch.minimum(cameras.fov_x, cameras.fov_y)
    radius = (distance * torch.sin(half_fov)).min()
    return torch.stack([centre - radius, centre + radius])


def dataset_bounds(split) -> torch.Tensor:
    """``(2, 3)`` box of a dataset split: the one it names (``split.bounds``), else the box
    every camera sees (:func:`visible_bounds`)."""
    bounds = getattr(split, "bounds", None)
    return torch.as_tensor(bounds, dtype=torch.float32) if bounds is not None else visible_bounds(split.cameras)
