"""Scene centre and box from cameras on a sphere around a known point."""

from __future__ import annotations

import math

import pytest
import torch

from humanrecon.geometry.camera import Camera
from humanrecon.geometry.scene import look_at_centre, visible_bounds


def ring(centre, distance=3.0, n=8, fov=math.radians(40)):
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
