"""Tests for humanrecon.render against analytic oracles (sphere, cube, triangle)."""

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
import trimesh

from humanrecon.geometry.camera import Camera
from humanrecon.render import (
    draw_points,
    draw_skeleton,
    image_grid,
    load_image,
    render_depth,
    render_mesh,
    render_normals,
    render_turntable,
    render_views,
    save_image,
    turntable_cameras,
)

SIZE = 65  # odd, so the centre pixel's ray is the optical axis
DIST = 3.0


@pytest.fixture(scope="module")
def sphere():
    m = trimesh.creation.icosphere(subdivisions=4, radius=1.0)
    return np.asarray(m.vertices, np.float32), np.asarray(m.faces, np.int64)


@pytest.fixture(scope="module")
def front_camera():
    """Camera at (0, 0, 3) looking at the origin, Y up."""
    return Camera.look_at([0.0, 0.0, DIST], [0.0, 0.0, 0.0], width=SIZE, height=SIZE, fov_x_rad=math.radians(50))


def analytic_sphere(camera, center, radius):
    """Ray-sphere intersection per pixel: (hit mask, z-depth, closest-approach distance)."""
    o, d = (x[0].double().numpy() for x in camera.rays())
    oc = np.asarray(center, np.float64) - o
    along = (oc * d).sum(-1)
    dist = np.linalg.norm(oc - along[..., None] * d, axis=-1)
    hit = dist < radius
    t = along - np.sqrt(np.clip(radius**2 - dist**2, 0.0, None))
    axis = camera.optical_axis[0].double().numpy()
    return hit, np.where(hit, t * (d @ axis), np.inf), dist


# ----------------------------------------------------------------------------- geometry
def test_sphere_mask_depth_normals_match_analytic(sphere, front_camera):
    v, f = sphere
    res = render_mesh(v, f, front_camera)
    assert res.image.shape == (SIZE, SIZE, 3) and res.image.dtype == np.float32
    assert res.depth.shape == res.mask.shape == res.face_ids.shape == (SIZE, SIZE)
    assert res.normals.shape == (SIZE, SIZE, 3) and res.mask.dtype == bool and res.face_ids.dtype == np.int64

    hit, depth, dist = analytic_sphere(front_camera, (0, 0, 0), 1.0)
    certain = np.abs(dist - 1.0) > 0.01  # the inscribed polytope loses at most ~0.3% of the radius
    assert hit.sum() > 500
    np.testing.assert_array_equal(res.mask[certain], hit[certain])
    assert (res.face_ids[~res.mask] == -1).all() and (res.face_ids[res.mask] >= 0).all()
    assert np.isinf(res.depth[~res.mask]).all()

    c = SIZE // 2
    assert res.depth[c, c] == pytest.approx(DIST - 1.0, abs=5e-3)
    inner = dist < 0.9
    np.testing.assert_allclose(res.depth[inner], depth[inner], atol=5e-3)

    # normals equal (p - c) / r at the hit points
    o, d = (x[0].numpy() for x in front_camera.rays())
    axis = front_camera.optical_axis[0].numpy()
    m = res.mask
    p = o[m] + (res.depth[m] / (d[m] @ axis))[:, None] * d[m]
    radial = p / np.linalg.norm(p, axis=-1, keepdims=True)
    cos = (res.normals[res.mask] * radial).sum(-1)
    assert cos.min() > 0.99
    np.testing.assert_allclose(np.linalg.norm(res.normals[res.mask], axis=-1), 1.0, atol=1e-5)
    assert (res.normals[~res.mask] == 0).all()


def test_off_axis_sphere_from_general_camera(sphere):
    v, f = sphere
    center, radius = np.array([0.3, -0.2, 0.5]), 0.5
    cam = Camera.look_at([2.0, 1.5, 2.5], [0.0, 0.0, 0.0], width=48, height=40, fov_x_rad=math.radians(45))
    depth = render_depth(v * radius + center, f, cam)
    hit, ref, dist = analytic_sphere(cam, center, radius)
    certain = np.abs(dist - radius) > 0.01 * radius
    np.testing.assert_array_equal(np.isfinite(depth)[certain], hit[certain])
    inner = dist < 0.9 * radius
    np.testing.assert_allclose(depth[inner], ref[inner], atol=5e-3)


def test_cube_face_on_has_constant_depth_and_normal(front_camera):
    box = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    res = render_mesh(torch.as_tensor(box.vertices), torch.as_tensor(box.faces), front_camera)
    assert res.mask.sum() > 100
    np.testing.assert_allclose(res.depth[res.mask], DIST - 0.5, atol=1e-5)
    np.testing.assert_allclose(res.normals[res.mask], np.tile([0.0, 0.0, 1.0], (res.mask.sum(), 1)), atol=1e-6)
    front = np.where(box.face_normals[:, 2] > 0.99)[0]
    assert set(np.unique(res.face_ids[res.mask])) <= set(front)
    # the mask is the projected front square: x, y in [-0.5, 0.5] at z = 0.5
    corners = front_camera.project(torch.tensor([[[-0.5, 0.5, 0.5], [0.5, -0.5, 0.5]]]))[0].numpy()
    rows, cols = np.nonzero(res.mask)
    assert cols.min() + 0.5 >= corners[0, 0] and cols.max() + 0.5 <= corners[1, 0]
    assert rows.min() + 0.5 >= corners[0, 1] and rows.max() + 0.5 <= corners[1, 1]
    assert cols.min() - 0.5 < corners[0, 0] and cols.max() + 1.5 > corners[1, 0]
    np.testing.assert_allclose(render_normals(box.vertices, box.faces, front_camera)[res.mask], res.normals[res.mask])


# ----------------------------------------------------------------------------- shading
def test_headlight_sphere_is_brightest_in_the_middle(sphere, front_camera):
    v, f = sphere
    color = (0.6, 0.7, 0.8)
    res = render_mesh(v, f, front_camera, color=color, ambient=0.2)
    c = SIZE // 2
    np.testing.assert_allclose(res.image[c, c], color, atol=0.01)  # n . l ~ 1 at the centre
    lum = res.image.sum(-1)
    _, _, dist = analytic_sphere(front_camera, (0, 0, 0), 1.0)
    rim = res.mask & (dist > 0.9)
    assert lum[rim].max() < lum[c, c] - 0.3
    assert (res.image[~res.mask] == 1.0).all()  # white background by default


def test_light_dir_lights_one_side(sphere, front_camera):
    v, f = sphere
    res = render_mesh(v, f, front_camera, light_dir=(1.0, 0.0, 0.0), ambient=0.1)
    c = SIZE // 2
    assert res.image[c, c + 20].sum() > res.image[c, c - 20].sum() + 0.5  # +x is image right


def test_vertex_colors_red_and_blue_halves(sphere, front_camera):
    v, f = sphere
    colors = np.where(v[:, :1] > 0, [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]).astype(np.float32)
    res = render_mesh(v, f, front_camera, vertex_colors=colors, ambient=1.0)
    c = SIZE // 2
    np.testing.assert_allclose(res.image[c, c + 10], [1.0, 0.0, 0.0], atol=1e-5)  # +x on the right
    np.testing.assert_allclose(res.image[c, c - 10], [0.0, 0.0, 1.0], atol=1e-5)
    # uint8 colours are accepted too
    res8 = render_mesh(v, f, front_camera, vertex_colors=(colors * 255).astype(np.uint8), ambient=1.0)
    np.testing.assert_allclose(res8.image, res.image, atol=1e-6)
    with pytest.raises(ValueError, match="vertex_colors"):
        render_mesh(v, f, front_camera, vertex_colors=colors[:10])


def test_vertex_colors_interpolate_barycentrically(front_camera):
    tri_v = np.array([[-1.0, -1.0, 0.0], [1.0, -1.0, 0.0], [0.0, 1.0, 0.0]], np.float32)
    res = render_mesh(tri_v, [[0, 1, 2]], front_camera, vertex_colors=np.eye(3), ambient=1.0)
    o, d = (x[0].numpy() for x in front_camera.rays())
    m = res.mask
    p = o[m] + (res.depth[m] / -d[m][:, 2])[:, None] * d[m]  # hit points on the z = 0 plane
    # barycentric coordinates by solving [a b c; 1 1 1] w = [p; 1] (the oracle)
    A = np.vstack([tri_v[:, :2].T, np.ones(3)])
    rhs = np.concatenate([p[:, :2], np.ones((m.sum(), 1))], axis=1)
    w = np.linalg.solve(A, rhs.T).T
    np.testing.assert_allclose(res.image[res.mask], np.clip(w, 0, 1), atol=1e-4)


def test_alpha_compositing_over_background(sphere, front_camera):
    v, f = sphere
    bg = np.random.default_rng(0).random((SIZE, SIZE, 3)).astype(np.float32)
    np.testing.assert_array_equal(render_mesh(v, f, front_camera, background=bg, alpha=0.0).image, bg)
    opaque = render_mesh(v, f, front_camera, background=bg)
    half = render_mesh(v, f, front_camera, background=bg, alpha=0.6)
    m = opaque.mask
    np.testing.assert_array_equal(opaque.image[~m], bg[~m])
    np.testing.assert_allclose(half.image[m], 0.6 * opaque.image[m] + 0.4 * bg[m], atol=1e-6)
    np.testing.assert_array_equal(half.image[~m], bg[~m])
    black = render_mesh(v, f, front_camera, background=(0.0, 0.0, 0.0))
    assert (black.image[~m] == 0).all()
    with pytest.raises(ValueError, match="background"):
        render_mesh(v, f, front_camera, background=np.zeros((4, 4, 3)))


def test_y_up_mesh_renders_upright(front_camera):
    cone = trimesh.creation.cone(radius=0.6, height=1.5)  # apex on +z
    cone.apply_transform(trimesh.transformations.rotation_matrix(-math.pi / 2, [1, 0, 0]))  # apex on +y
    cone.apply_translation([0.0, -0.75, 0.0])
    mask = render_mesh(cone.vertices, cone.faces, front_camera).mask
    rows = np.nonzero(mask.any(1))[0]
    top_width, bottom_width = mask[rows[0] + 2].sum(), mask[rows[-1] - 2].sum()
    assert top_width < bottom_width  # apex (world +y) at the top of the image


# ----------------------------------------------------------------------------- several views
def test_render_views_matches_single_renders_and_turntable(sphere):
    v, f = sphere
    cams = turntable_cameras((0, 0, 0), 3.0, 3, width=32, height=24)
    assert cams.batch_size == 3
    torch.testing.assert_close(cams.center.norm(dim=-1), torch.full((3,), 3.0))
    views = render_views(v, f, cams, color=(1.0, 0.0, 0.0))
    assert len(views) == 3
    single = render_mesh(v, f, cams[1], color=(1.0, 0.0, 0.0))
    np.testing.assert_array_equal(views[1].image, single.image)
    np.testing.assert_array_equal(views[1].depth, single.depth)
    tt = render_turntable(v, f, 4, width=32, height=32)
    assert len(tt) == 4 and all(r.mask[16, 16] and not r.mask[0, 0] for r in tt)
    with pytest.raises(ValueError, match="batch size"):
        render_mesh(v, f, cams)


def test_torch_inputs_and_bad_mesh(sphere, front_camera):
    v, f = sphere
    vt = torch.as_tensor(v, dtype=torch.float64).requires_grad_(True)
    res = render_mesh(vt, torch.as_tensor(f), front_camera.to(dtype=torch.float64))
    np.testing.assert_array_equal(res.mask, render_mesh(v, f, front_camera).mask)
    with pytest.raises(ValueError, match="faces"):
        render_mesh(v, f + len(v), front_camera)
    with pytest.raises(ValueError, match="vertices"):
        render_mesh(v[:, :2], f, front_camera)


def test_import_is_lazy():
    code = "import sys, humanrecon.render; assert 'open3d' not in sys.modules and 'cv2' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# ----------------------------------------------------------------------------- images
def test_save_load_png_round_trip_and_rgb_order(tmp_path):
    cv2 = pytest.importorskip("cv2")
    img = np.random.default_rng(1).integers(0, 256, (20, 30, 3)).astype(np.float32) / 255.0
    path = save_image(tmp_path / "sub" / "dir" / "img.png", img)  # parent dirs are created
    np.testing.assert_array_equal(load_image(path), img)
    red = np.zeros((4, 4, 3), np.float32)
    red[..., 0] = 1.0
    save_image(tmp_path / "red.png", red)
    assert tuple(cv2.imread(str(tmp_path / "red.png"))[0, 0]) == (0, 0, 255)  # BGR on disk
    np.testing.assert_array_equal(load_image(tmp_path / "red.png"), red)
    save_image(tmp_path / "gray.png", img[..., 0])
    assert load_image(tmp_path / "gray.png").shape == (20, 30, 3)


def test_unreadable_image_raises_naming_the_path(tmp_path):
    missing = tmp_path / "nope.png"
    with pytest.raises(FileNotFoundError, match="nope.png"):
        load_image(missing)
    junk = tmp_path / "junk.png"
    junk.write_text("not an image")
    with pytest.raises(ValueError, match="junk.png"):
        load_image(junk)
    with pytest.raises(ValueError, match="image"):
        save_image(tmp_path / "x.png", np.zeros((4, 4, 2)))


def test_image_grid_layout():
    imgs = [np.full((4, 5, 3), k / 4, np.float32) for k in range(5)]
    grid = image_grid(imgs, cols=3, pad=1, pad_value=0.5)
    assert grid.shape == (2 * 4 + 1, 3 * 5 + 2, 3)
    np.testing.assert_array_equal(grid[5:9, 6:11], imgs[4])
    assert (grid[4] == 0.5).all() and (grid[5:, 12:] == 0.5).all()
    with pytest.raises(ValueError, match="same shape"):
        image_grid([imgs[0], np.zeros((3, 3, 3))])


def test_draw_points_and_skeleton():
    img = np.full((32, 32, 3), 0.3, np.float32)
    out = draw_points(img, np.array([[10.5, 20.5], [np.nan, 1.0]]), colors=(1.0, 0.0, 0.0), radius=2)
    np.testing.assert_allclose(out[20, 10], [1.0, 0.0, 0.0])  # pixel (col 10, row 20) holds the point
    assert (out[:10] == 0.3).all() and out.dtype == np.float32  # untouched pixels keep exact values
    assert (img == 0.3).all()  # input not modified
    pts = np.array([[4.5, 4.5], [28.5, 4.5], [16.5, 28.5]])
    sk = draw_skeleton(img, pts, [[0, 1], [1, 2]], color=(0.0, 1.0, 0.0), point_color=None)
    np.testing.assert_allclose(sk[4, 16], [0.0, 1.0, 0.0])  # midpoint of bone 0-1
    assert (sk[20, 2] == 0.3).all()
    u8 = draw_points((img * 255).astype(np.uint8), pts, colors=np.eye(3), radius=1.5)
    assert u8.dtype == np.uint8 and tuple(u8[28, 16]) == (0, 0, 255)
    with pytest.raises(ValueError, match="edges"):
        draw_skeleton(img, pts, [[0, 3]])
