"""Tests for humanrecon.datasets.synthetic: camera sphere, part colours, RGBA renders."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import trimesh

from humanrecon.body import BodyModel
from humanrecon.datasets import (
    body_part_colors,
    bounding_sphere,
    fit_distance,
    part_palette,
    render_rgba,
    sphere_cameras,
    sphere_directions,
)


def test_sphere_directions_are_unit_spread_and_clipped():
    d = sphere_directions(200, seed=0)
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0, atol=1e-12)
    elevation = np.arcsin(d[:, 1])
    assert np.abs(elevation).max() <= math.radians(75.0) + 1e-12
    assert abs(d.mean(axis=0)).max() < 0.05  # balanced over the sphere
    assert d[:, 1].min() < -0.9 and d[:, 1].max() > 0.9  # reaches close to the clip


def test_sphere_directions_differ_between_seeds_and_repeat_within():
    a, b = sphere_directions(20, seed=(0, 1)), sphere_directions(20, seed=(0, 2))
    np.testing.assert_array_equal(a, sphere_directions(20, seed=(0, 1)))
    closest = np.min(np.linalg.norm(a[:, None] - b[None], axis=-1))
    assert closest > 1e-3


def test_sphere_cameras_frame_the_bounding_sphere():
    mesh = trimesh.creation.icosphere(subdivisions=2, radius=0.7)
    vertices = np.asarray(mesh.vertices) + [0.2, 1.0, -0.3]
    center, radius = bounding_sphere(vertices)
    np.testing.assert_allclose(center, [0.2, 1.0, -0.3], atol=1e-6)
    cams = sphere_cameras(center, radius, 12, 40, math.radians(40), seed=3)
    assert cams.batch_size == 12 and cams.dtype == torch.float32 and (cams.width, cams.height) == (40, 40)
    distance = (cams.center - torch.tensor(center, dtype=torch.float32)).norm(dim=-1)
    torch.testing.assert_close(distance, torch.full((12,), fit_distance(radius, math.radians(40))))
    pixels, depth = cams.project(torch.tensor(vertices, dtype=torch.float32), return_depth=True)
    assert bool((depth > 0).all())
    assert pixels.min() > 0 and pixels.max() < 40
    # the centre projects to the image centre; upright: world +Y points up the image (-v)
    up = cams.project(torch.tensor(np.stack([center, center + [0, 0.1, 0]]), dtype=torch.float32))
    torch.testing.assert_close(up[:, 0], torch.full((12, 2), 20.0), atol=1e-4, rtol=0)
    assert bool((up[:, 1, 1] < up[:, 0, 1]).all())


def test_part_palette_is_distinct_and_saturated():
    palette = part_palette(24)
    assert palette.shape == (24, 3) and palette.dtype == np.float32
    assert palette.min() >= 0 and palette.max() <= 1
    gaps = np.linalg.norm(palette[:, None] - palette[None], axis=-1) + np.eye(24) * 9
    assert gaps.min() > 0.05
    assert (palette.max(1) - palette.min(1)).min() > 0.5  # saturated


# part_palette(3) by hand: hue k · 0.618… of a turn, saturation 0.8, value 0.95 (even k)
# or 0.7 (odd k). k=0: red; k=1: hue 0.618 (sector 3: (v(1-s), v(1-s·0.708), v));
# k=2: hue 0.236 (sector 1: (v(1-s·0.416), v, v(1-s)))
PALETTE_3 = np.array([[0.95, 0.19, 0.19], [0.14, 0.303406, 0.70], [0.633530, 0.95, 0.19]])


def test_part_palette_hand_computed_colours():
    np.testing.assert_allclose(part_palette(3), PALETTE_3, atol=1e-5)
    np.testing.assert_allclose(part_palette(24)[:3], PALETTE_3, atol=1e-5)  # a prefix of longer palettes


def test_body_part_colors_follow_dominant_joint():
    # hand-chosen weights (rows: vertices, columns: 3 joints) and their dominant joints
    weights = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.3, 0.5], [0.1, 0.6, 0.3], [0.0, 0.45, 0.55], [0.4, 0.35, 0.25]])
    colors = body_part_colors(SimpleNamespace(lbs_weights=weights))
    assert colors.dtype == np.float32
    np.testing.assert_allclose(colors, PALETTE_3[[0, 2, 1, 2, 0]], atol=1e-5)
    np.testing.assert_array_equal(body_part_colors(SimpleNamespace(lbs_weights=weights.numpy())), colors)

    # the open body (SMPL joints, rest pose with arms out): extreme vertices by position
    # belong to known parts, each of the 24 joints dominates some vertices
    model = BodyModel.load("open")
    colors = body_part_colors(model)
    assert colors.shape == (model.lbs_weights.shape[0], 3)
    palette = part_palette(24)
    v = model.v_template.numpy()
    front = np.where(v[:, 0] > 0, v[:, 2], -np.inf), np.where(v[:, 0] < 0, v[:, 2], -np.inf)
    for vertex, joint in [(v[:, 1].argmax(), 15),  # the top of the head: head
                          (v[:, 0].argmax(), 22),  # +x (the body's left) finger tip: left_hand
                          (v[:, 0].argmin(), 23),  # right_hand
                          (front[0].argmax(), 10),  # the front-most toe on the left: left_foot
                          (front[1].argmax(), 11)]:  # right_foot
        np.testing.assert_array_equal(colors[vertex], palette[joint])
    assert len(np.unique(colors, axis=0)) == 24


def test_render_rgba_alpha_and_supersampling():
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=0.5)
    center, radius = bounding_sphere(mesh.vertices)
    cams = sphere_cameras(center, radius, 2, 24, math.radians(40), seed=0)
    hard = render_rgba(mesh.vertices, mesh.faces, cams, color=(1.0, 0.5, 0.0))
    soft = render_rgba(mesh.vertices, mesh.faces, cams, color=(1.0, 0.5, 0.0), supersample=3)
    assert hard.shape == soft.shape == (2, 24, 24, 4)
    assert set(np.unique(hard[..., 3])) == {0.0, 1.0}
    fractional = (soft[..., 3] > 0) & (soft[..., 3] < 1)
    assert fractional.sum() > 10
    assert abs(soft[..., 3].sum() - hard[..., 3].sum()) < 0.05 * hard[..., 3].sum()
    # un-premultiplied: edge pixels keep the surface colour's hue (red > green > blue = 0)
    edge = soft[fractional]
    assert np.all(edge[:, 0] >= edge[:, 1]) and np.allclose(edge[:, 2], 0.0)
    assert np.all(hard[..., :3][hard[..., 3] == 0] == 0)
    with pytest.raises(ValueError, match="supersample"):
        render_rgba(mesh.vertices, mesh.faces, cams, supersample=0)
