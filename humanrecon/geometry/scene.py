"""Scene extent from cameras alone, for object-centric captures (cameras around an
object, all looking at it): the point the optical axes pass closest to, and a box that
every camera sees whole. NeRF uses it when a dataset names no box. Also the ray-box slab
test (``ray_aabb``) and the visual hull of object masks (points inside it, soft membership).
"""

from __future__ import annotations

import torch

from humanrecon.errors import InputError
from humanrecon.geometry.camera import Camera


def uniform_points(box: torch.Tensor, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``count`` points ``(count, 3)`` uniform in ``box (2, 3)`` ``[min, max]`` (metres), on
    the box's device and dtype; drawn from the CPU ``generator`` (the same on every
    device)."""
    box = torch.as_tensor(box)
    return box[0] + (box[1] - box[0]) * torch.rand(count, 3, generator=generator).to(box)


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


def cropped_views(masks: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """``(B,)`` bool: the views whose mask ``(B, H, W)`` (``> threshold`` inside) reaches
    the edge of the frame, so the object goes on outside the picture (DTU's buildings: a
    point outside such a view's frame may well be object)."""
    inside = torch.as_tensor(masks) > threshold
    if inside.ndim != 3:
        raise InputError(f"masks must be (B, H, W), got {tuple(inside.shape)}")
    return inside[:, 0].any(-1) | inside[:, -1].any(-1) | inside[:, :, 0].any(-1) | inside[:, :, -1].any(-1)


def _crop_flags(crops, views: int, device) -> torch.Tensor:
    """``crops`` (None, a bool, or ``(B,)`` bools) as ``(B, 1)`` bools."""
    if crops is None or isinstance(crops, bool):
        return torch.full((views, 1), bool(crops), dtype=torch.bool, device=device)
    crops = torch.as_tensor(crops, dtype=torch.bool, device=device)
    if crops.shape != (views,):
        raise InputError(f"crops must be a bool or ({views},) bools (one per view), got shape {tuple(crops.shape)}")
    return crops[:, None]


def visual_hull_points(cameras: Camera, masks: torch.Tensor, count: int, bounds: torch.Tensor, *,
                       images: torch.Tensor | None = None, threshold: float = 0.5,
                       generator: torch.Generator | None = None, max_rounds: int = 50, crops=None):
    """Points drawn uniformly inside the visual hull of object masks: the part of the box
    that every camera sees inside its mask. By default masks are taken to show the whole
    object, as in object-centric captures: a point outside a view's frame or behind it is
    outside. A view in ``crops`` (its mask is cut by the frame: :func:`cropped_views`)
    does not judge the points it does not see; a point no view sees is outside.

    Args:
        cameras: ``B`` cameras (OpenCV, world-to-camera) of the masks.
        masks: ``(B, H, W)`` foreground weights in ``[0, 1]`` (alpha); ``> threshold`` is inside.
        count: how many points to return.
        bounds: ``(2, 3)`` box ``[min, max]`` (world units) to draw candidates from.
        images: optional ``(B, H, W, 3)`` colours; then also returns each point's mean colour
            over the views that see it.
        generator: random source (candidates are drawn in rounds of ``4 · count``).
        crops: None or False (no view is cropped), True (all are) or ``(B,)`` bools.
    Returns:
        ``points (M, 3)`` float32 with ``M = count`` (fewer only when ``max_rounds`` rounds
        found fewer; ``M = 0`` when no candidate survives, e.g. empty masks), and
        ``colors (M, 3)`` when ``images`` is given.
    """
    masks = torch.as_tensor(masks, dtype=torch.float32)
    if masks.ndim != 3 or masks.shape[0] != len(cameras):
        raise InputError(f"masks must be (B, H, W) with B = {len(cameras)} cameras, got {tuple(masks.shape)}")
    box = torch.as_tensor(bounds, dtype=torch.float32)
    height, width = masks.shape[1:]
    cropped = _crop_flags(crops, len(cameras), masks.device)
    kept, colours = [], []
    found = 0
    for _ in range(max_rounds):
        candidates = uniform_points(box, 4 * count, generator)
        pixels, depth = cameras.to(dtype=torch.float32).project(candidates.expand(len(cameras), -1, -1),
                                                                return_depth=True)
        col, row = pixels[..., 0].floor().long(), pixels[..., 1].floor().long()
        seen = (depth > 0) & (col >= 0) & (col < width) & (row >= 0) & (row < height)  # (B, M)
        col, row = col.clamp(0, width - 1), row.clamp(0, height - 1)
        views = torch.arange(len(cameras))[:, None]
        inside = masks[views, row, col] > threshold
        keep = ((inside & seen) | (~seen & cropped)).all(0) & seen.any(0)
        kept.append(candidates[keep])
        if images is not None:
            rgb = images[views, row, col][:, keep]  # (B, K, 3)
            weight = (seen & inside)[:, keep, None].float()
            colours.append((rgb * weight).sum(0) / weight.sum(0).clamp(min=1))
        found += int(keep.sum())
        if found >= count:
            break
    points = torch.cat(kept)[:count]
    return points if images is None else (points, torch.cat(colours)[:count])


def visual_hull_alpha(cameras: Camera, masks: torch.Tensor, points: torch.Tensor, *,
                      chunk: int = 16384, crops=None) -> torch.Tensor:
    """Soft visual-hull membership of world ``points (M, 3)``: the smallest mask value over
    all views, each read bilinearly at the point's projection (sub-pixel: antialiased alpha
    keeps the silhouette's position inside a pixel). A point behind a camera or outside
    its frame scores 0 (masks show the whole object), except in the views of ``crops``
    (masks cut by the frame, :func:`cropped_views`), which leave the points they do not
    see to the others; a point no view sees scores 0. ``> 0.5`` is inside the visual
    hull, the largest shape consistent with every silhouette, so ``< 0.5`` is certainly
    empty.

    Args:
        cameras: ``B`` cameras (OpenCV, world-to-camera) of the masks.
        masks: ``(B, H, W)`` foreground weights in ``[0, 1]`` (alpha), same device as points.
        points: ``(M, 3)`` world points (metres).
        chunk: points per batch of projections.
        crops: None or False (no view is cropped), True (all are) or ``(B,)`` bools.
    Returns:
        ``(M,)`` values in ``[0, 1]``, dtype and device of ``points``; no gradient.
    """
    masks = torch.as_tensor(masks)
    if masks.ndim != 3 or masks.shape[0] != len(cameras):
        raise InputError(f"masks must be (B, H, W) with B = {len(cameras)} cameras, got {tuple(masks.shape)}")
    if points.ndim != 2 or points.shape[-1] != 3:
        raise InputError(f"points must be (M, 3), got {tuple(points.shape)}")
    height, width = masks.shape[1:]
    cams = cameras.to(dtype=points.dtype, device=points.device)
    grid_masks = masks.to(points)[:, None]  # (B, 1, H, W)
    scale = points.new_tensor([2.0 / width, 2.0 / height])
    cropped = _crop_flags(crops, len(cameras), points.device)
    out = []
    with torch.no_grad():
        for s in range(0, len(points), chunk):
            chunk_points = points[s:s + chunk]
            pixels, depth = cams.project(chunk_points.expand(len(cams), -1, -1), return_depth=True)  # (B, K, 2)
            # pixel (u, v) with +0.5 centres -> grid_sample's [-1, 1] with align_corners=False
            grid = (pixels * scale - 1.0)[:, :, None]  # (B, K, 1, 2)
            values = torch.nn.functional.grid_sample(grid_masks, grid, mode="bilinear", padding_mode="border",
                                                     align_corners=False)[:, 0, :, 0]  # (B, K)
            inside_frame = (depth > 0) & (pixels >= 0).all(-1) & (pixels[..., 0] <= width) & (pixels[..., 1] <= height)
            unseen = torch.where(cropped, torch.ones_like(values), torch.zeros_like(values))
            alpha = torch.where(inside_frame, values, unseen).amin(0)
            out.append(torch.where(inside_frame.any(0), alpha, torch.zeros_like(alpha)))
    return torch.cat(out) if out else points.new_zeros(0)


def ray_aabb(origins: torch.Tensor, directions: torch.Tensor, bounds: torch.Tensor,
             near: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Slab test of rays ``origins, directions (R, 3)`` against the box ``bounds (2, 3)``
    (``[min, max]``, world, metres).

    Returns ``t_near (R,)``, ``t_far (R,)`` (entry clamped to ``near`` ≥ 0, so rays
    starting inside the box enter at ``near``) and ``hit (R,)`` bool (``t_far > t_near``).
    Directions need not be unit; the ``t`` are in units of their length. Components that
    are exactly zero are handled (the ray is parallel to that slab).
    """
    inv = 1.0 / torch.where(directions == 0, torch.full_like(directions, 1e-12), directions)
    t0 = (bounds[0] - origins) * inv
    t1 = (bounds[1] - origins) * inv
    t_near = torch.minimum(t0, t1).amax(dim=-1).clamp_min(near)
    t_far = torch.maximum(t0, t1).amin(dim=-1)
    return t_near, t_far, t_far > t_near
