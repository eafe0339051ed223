"""Scene centre and box from cameras on a sphere around a known point."""

from __future__ import annotations

import math

import pytest
import torch

from humanrecon.geometry.camera import Camera
from humanrecon.errors import InputError
from humanrecon.geometry.scene import look_at_centre, visible_bounds, visual_hull_points


FOV_40 = math.radians(40)


def ring(centre, distance=3.0, n=8, fov=FOV_40):
    angles = torch.arange(n) * 2 * math.pi / n
    eyes = torch.stack([torch.cos(angles), 0.3 * torch.ones(n), torch.sin(angles)], -1) * distance
    return Camera.look_at(eyes + torch.tensor(centre), torch.tensor(centre).expand(n, 3),
                          width=64, height=48, fov_x_rad=fov)


def test_centre_and_box_of_a_camera_ring():
    cams = ring([0.5, -0.2, 1.0])
    assert look_at_centre(cams).tolist() == pytest.approx([0.5, -0.2, 1.0], abs=1e-5)
    box = visible_bounds(cams)
    distance = 3.0 * math.sqrt(1 + 0.09)
    half_fov_y = math.atan(math.tan(math.radians(20)) * 48 / 64)
    r = distance * math.sin(half_fov_y)
    assert (box[1] - box[0]).tolist() == pytest.approx([2 * r] * 3, rel=1e-5)
    # points on that sphere are inside every image
    pts = torch.tensor([0.5, -0.2, 1.0]) + r * torch.eye(3)
    uv = cams.project(pts.expand(len(cams), 3, 3))
    assert ((uv[..., 0] >= 0) & (uv[..., 0] <= 64) & (uv[..., 1] >= 0) & (uv[..., 1] <= 48)).all()


def test_parallel_or_single_cameras_raise():
    cams = ring([0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="at least two"):
        look_at_centre(cams[0])
    same = Camera.cat([cams[0], cams[0]])
    with pytest.raises(ValueError, match="parallel"):
        look_at_centre(same)


def _sphere_masks(cameras: Camera, radius: float) -> torch.Tensor:
    """Exact masks of a sphere at the origin: pixels whose ray passes within ``radius``."""
    origins, directions = cameras.rays()
    closest = origins - (origins * directions).sum(-1, keepdim=True) * directions
    return (closest.norm(dim=-1) < radius).float()


def test_visual_hull_of_a_sphere_hugs_the_sphere():
    from humanrecon.datasets import sphere_cameras

    cameras = sphere_cameras((0.0, 0.0, 0.0), 0.5, 12, 64, seed=0)
    masks = _sphere_masks(cameras, 0.5)
    images = torch.zeros(12, 64, 64, 3) + torch.tensor([0.2, 0.4, 0.6])
    box = torch.tensor([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]])
    gen = torch.Generator().manual_seed(0)
    points, colors = visual_hull_points(cameras, masks, 2000, box, images=images, generator=gen)
    assert points.shape == (2000, 3) and colors.shape == (2000, 3)
    radius = points.norm(dim=-1)
    assert radius.max() < 0.5 * 1.15  # 12 views carve close to the sphere (pixel size ~ 2 cm)
    assert (radius < 0.4).float().mean() > 0.4  # uniform in the ball: (0.4/0.5)^3 = 0.51
    torch.testing.assert_close(colors, torch.tensor([0.2, 0.4, 0.6]).expand(2000, 3))
    empty = visual_hull_points(cameras, torch.zeros_like(masks), 100, box, generator=gen, max_rounds=2)
    assert empty.shape == (0, 3)
    with pytest.raises(InputError, match="masks must be"):
        visual_hull_points(cameras, masks[:3], 10, box)


def _seen_and_within(cameras: Camera, points: torch.Tensor, radius: float):
    """Analytic oracle of a sphere at the origin: ``(B, M)`` bools, the point is in view
    ``b``'s frame (in front of it), and the ray from that camera through it passes within
    ``radius`` of the centre (so the sphere's true mask covers its pixel)."""
    pixels, depth = cameras.project(points.expand(len(cameras), -1, -1), return_depth=True)
    seen = (depth > 0) & (pixels >= 0).all(-1) & (pixels[..., 0] < cameras.width) & (pixels[..., 1] < cameras.height)
    eye = cameras.center[:, None]
    ray = torch.nn.functional.normalize(points[None] - eye, dim=-1)
    closest = eye - (eye * ray).sum(-1, keepdim=True) * ray
    return seen, closest.norm(dim=-1) < radius


def test_cropped_masks_leave_unseen_points_to_the_other_views():
    """Oracle: a sphere's analytic masks and, per point, which views see it and whether
    their ray through it meets the sphere (no pixels involved)."""
    from humanrecon.datasets import sphere_cameras
    from humanrecon.geometry.scene import cropped_views, visual_hull_alpha

    # cameras so close that the sphere (r = 0.5) overflows every frame but its corners
    cameras = sphere_cameras((0.0, 0.0, 0.0), 0.5, 16, 48, seed=0, margin=0.85)
    masks = _sphere_masks(cameras, 0.5)
    assert cropped_views(masks).all() and not cropped_views(torch.zeros_like(masks)).any()
    gen = torch.Generator().manual_seed(0)
    directions = torch.nn.functional.normalize(torch.randn(2000, 3, generator=gen), dim=-1)
    inner = 0.45 * directions
    seen, within = _seen_and_within(cameras, inner, 0.5)
    assert within[seen].all()  # the oracle: every view that sees an inner point sees it in the mask
    whole = visual_hull_alpha(cameras, masks, inner)
    cropped = visual_hull_alpha(cameras, masks, inner, crops=True)
    # masks taken as the whole object cut the sphere down to what every frame holds; with
    # crops, every inner point some view sees is inside, and one no view sees is outside
    assert (whole > 0.5).float().mean() < 0.3  # measured 0.17
    assert (cropped[seen.any(0)] > 0.5).all() and (cropped[~seen.any(0)] == 0).all() and seen.any(0).float().mean() > 0.5
    # outer points (1.2 r) that some view sees well off the sphere (its ray passes 10 %
    # beyond the radius: pixels off the mask edge) are outside
    outer = 1.2 * 0.5 * directions
    seen, within = _seen_and_within(cameras, outer, 0.5 * 1.1)
    off = (seen & ~within).any(0)
    assert off.float().mean() > 0.02 and (visual_hull_alpha(cameras, masks, outer, crops=True)[off] < 0.5).all()
    # per-view flags: cropping only the first view changes only what it alone decides
    flags = torch.zeros(16, dtype=torch.bool)
    flags[0] = True
    one = visual_hull_alpha(cameras, masks, inner, crops=flags)
    assert (one >= whole).all() and (one <= cropped).all()
    with pytest.raises(InputError, match="crops"):
        visual_hull_alpha(cameras, masks, inner, crops=flags[:3])
    # drawn points follow the same rule: inside every seeing view's mask, seen by one at least
    points = visual_hull_points(cameras, masks, 500, torch.tensor([[-1.0] * 3, [1.0] * 3]), generator=gen, crops=True)
    seen, within = _seen_and_within(cameras, points, 0.5 * 1.1)
    assert len(points) == 500 and seen.any(0).all() and (within | ~seen).all()
    assert points.norm(dim=-1).max() > 0.4  # reaches beyond the middle every frame holds
