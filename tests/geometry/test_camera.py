"""Tests for humanrecon.geometry.camera (OpenCV pinhole convention)."""

import math

import numpy as np
import pytest
import torch

from humanrecon.geometry.camera import Camera, intrinsics_from_focal, intrinsics_from_fov


def random_rotations(n, generator, dtype=torch.float32):
    """Uniform-ish random proper rotations (n, 3, 3) via QR, independent of rotations.py."""
    q, r = torch.linalg.qr(torch.randn(n, 3, 3, generator=generator, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)
    q = torch.where(torch.det(q)[:, None, None] < 0, -q, q)
    return q.to(dtype)


def random_cameras(n=3, seed=0, width=80, height=60, dtype=torch.float32):
    """Different cameras with points in front: each looks at the origin from ~4 m."""
    g = torch.Generator().manual_seed(seed)
    R = random_rotations(n, g, dtype)
    t = torch.tensor([0.0, 0.0, 4.0], dtype=dtype) + 0.3 * torch.randn(n, 3, generator=g, dtype=torch.float64).to(dtype)
    fx = 60.0 + 20.0 * torch.rand(n, generator=g, dtype=torch.float64).to(dtype)
    fy = fx * (1.0 + 0.1 * torch.rand(n, generator=g, dtype=torch.float64).to(dtype))
    cx = width / 2 + torch.randn(n, generator=g, dtype=torch.float64).to(dtype)
    cy = height / 2 + torch.randn(n, generator=g, dtype=torch.float64).to(dtype)
    return Camera(intrinsics_from_focal(fx, fy, cx, cy), R, t, width, height)


def points_near_origin(b, n, seed=1, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(b, n, 3, generator=g, dtype=torch.float64) - 0.5).to(dtype)


# ----------------------------------------------------------------------------- basics
def test_unbatched_inputs_get_batch_dim_and_float32_default():
    cam = Camera(np.eye(3), np.eye(3), np.zeros(3), 10, 8)
    assert cam.K.shape == (1, 3, 3) and cam.R.shape == (1, 3, 3) and cam.t.shape == (1, 3)
    assert cam.dtype == torch.float32 and cam.batch_size == 1 and len(cam) == 1
    assert cam.device == torch.device("cpu")


def test_float64_tensors_keep_dtype_and_size1_batches_broadcast():
    cams = random_cameras(1, dtype=torch.float64)
    R = random_rotations(4, torch.Generator().manual_seed(3), torch.float64)
    cam = Camera(cams.K, R, cams.t, 80, 60)  # K, t batch 1, R batch 4
    assert cam.batch_size == 4 and cam.dtype == torch.float64


def test_known_projection_by_hand():
    # fx=100, fy=200, cx=32, cy=24; camera translated by t=(0, 0, 2) (world origin 2 m ahead).
    K = torch.tensor([[100.0, 0, 32], [0, 200.0, 24], [0, 0, 1]])
    cam = Camera(K, torch.eye(3), torch.tensor([0.0, 0.0, 2.0]), 64, 48)
    pts = torch.tensor([[[0.0, 0.0, 0.0], [0.2, -0.1, 0.0], [1.0, 1.0, 2.0]]])
    px, depth = cam.project(pts, return_depth=True)
    expected = torch.tensor([[[32.0, 24.0], [32 + 100 * 0.2 / 2, 24 - 200 * 0.1 / 2], [32 + 100 / 4, 24 + 200 / 4]]])
    torch.testing.assert_close(px, expected)
    torch.testing.assert_close(depth, torch.tensor([[2.0, 2.0, 4.0]]))
    torch.testing.assert_close(cam.center, torch.tensor([[0.0, 0.0, -2.0]]))


def test_project_matches_cv2_projectPoints():
    cv2 = pytest.importorskip("cv2")
    cams = random_cameras(3, dtype=torch.float64)
    pts = points_near_origin(3, 50, dtype=torch.float64)
    ours = cams.project(pts)
    for b in range(3):
        rvec, _ = cv2.Rodrigues(cams.R[b].numpy())
        ref, _ = cv2.projectPoints(pts[b].numpy(), rvec, cams.t[b].numpy(), cams.K[b].numpy(), None)
        np.testing.assert_allclose(ours[b].numpy(), ref.reshape(-1, 2), rtol=0, atol=1e-8)


def test_project_unproject_round_trip_batch_of_different_cameras():
    cams = random_cameras(3)
    pts = points_near_origin(3, 100)
    px, depth = cams.project(pts, return_depth=True)
    assert px.shape == (3, 100, 2) and depth.shape == (3, 100)
    torch.testing.assert_close(cams.unproject(px, depth), pts, atol=1e-5, rtol=0)
    # the batch really holds different cameras: projections differ per camera
    assert (px[0] - px[1]).abs().max() > 1.0
    # and camera b of the batch equals the single camera cams[b]
    torch.testing.assert_close(cams[1].project(pts[1:2]), px[1:2])


def test_world_camera_round_trip_and_center_maps_to_origin():
    cams = random_cameras(2)
    pts = points_near_origin(2, 20)
    torch.testing.assert_close(cams.camera_to_world(cams.world_to_camera(pts)), pts, atol=1e-5, rtol=0)
    torch.testing.assert_close(cams.world_to_camera(cams.center[:, None]), torch.zeros(2, 1, 3), atol=1e-5, rtol=0)


def test_shared_points_broadcast_over_batch():
    cams = random_cameras(3)
    pts = points_near_origin(1, 10)[0]  # (N, 3)
    torch.testing.assert_close(cams.project(pts), cams.project(pts.expand(3, -1, -1)))


def test_rays_pass_through_their_pixel_centres():
    cams = random_cameras(2, width=16, height=12)
    origins, dirs = cams.rays()
    assert origins.shape == dirs.shape == (2, 12, 16, 3)
    torch.testing.assert_close(dirs.norm(dim=-1), torch.ones(2, 12, 16))
    torch.testing.assert_close(origins, cams.center[:, None, None].expand_as(origins))
    pts = (origins + 3.0 * dirs).reshape(2, -1, 3)
    px = cams.project(pts).reshape(2, 12, 16, 2)
    j, i = torch.meshgrid(torch.arange(12.0), torch.arange(16.0), indexing="ij")
    expected = torch.stack([i + 0.5, j + 0.5], dim=-1).expand(2, -1, -1, -1)
    torch.testing.assert_close(px, expected, atol=1e-3, rtol=0)
    # ray subset for chosen pixels
    sel = torch.tensor([[[0.0, 0.0], [15.5, 11.5], [8.25, 3.75]]]).expand(2, -1, -1)
    o, d = cams.rays(sel)
    assert o.shape == d.shape == (2, 3, 3)
    torch.testing.assert_close(cams.project(o + 2.0 * d), sel, atol=1e-3, rtol=0)
    # unnormalised rays have camera-frame z = 1, so the ray parameter is z-depth
    _, d1 = cams.rays(sel, normalize=False)
    torch.testing.assert_close(cams.project(o + 2.0 * d1, return_depth=True)[1], torch.full((2, 3), 2.0), atol=1e-4, rtol=0)


def test_from_fov_and_fov_properties():
    cam = Camera.from_fov(math.radians(90.0), 200, 100)
    torch.testing.assert_close(cam.K[0], torch.tensor([[100.0, 0, 100], [0, 100.0, 50], [0, 0, 1]]))
    torch.testing.assert_close(cam.fov_x, torch.tensor([math.radians(90.0)]))
    torch.testing.assert_close(cam.fov_y, torch.tensor([2 * math.atan(0.5)]))
    K = intrinsics_from_fov(torch.tensor([0.5, 1.0]), 64, 48)
    assert K.shape == (2, 3, 3)


def test_look_at_centres_target_and_keeps_world_up_at_image_top():
    eye = torch.tensor([[0.0, 1.0, 3.0], [2.0, 2.5, -1.0], [-3.0, 0.2, 0.5]])
    target = torch.tensor([[0.0, 1.0, 0.0], [0.1, 0.9, 0.2], [0.0, 0.0, 0.0]])
    cams = Camera.look_at(eye, target, width=64, height=48, fov_x_rad=math.radians(60))
    px, depth = cams.project(target[:, None], return_depth=True)
    torch.testing.assert_close(px[:, 0], torch.tensor([[32.0, 24.0]] * 3), atol=1e-4, rtol=0)
    torch.testing.assert_close(depth[:, 0], (eye - target).norm(dim=-1))
    above = cams.project((target + torch.tensor([0.0, 0.3, 0.0]))[:, None])[:, 0]
    assert (above[:, 1] < 24.0 - 1.0).all(), "world up must map to image top (smaller row)"
    torch.testing.assert_close(above[:, 0], torch.full((3,), 32.0), atol=1e-4, rtol=0)
    # proper rotations, right-handed
    torch.testing.assert_close(torch.det(cams.R), torch.ones(3))
    torch.testing.assert_close(cams.center, eye)
    # image right = world +x when looking down -z from +z
    right = cams[0].project(torch.tensor([[[0.5, 1.0, 0.0]]]))[0, 0]
    assert right[0] > 32.0


def test_look_at_focal_and_degenerate_up():
    cam = Camera.look_at([0.0, 0.0, 2.0], [0.0, 0.0, 0.0], width=40, height=30, focal=50.0)
    assert float(cam.K[0, 0, 0]) == 50.0 and float(cam.K[0, 1, 2]) == 15.0
    with pytest.raises(ValueError, match="up"):
        Camera.look_at([0.0, 2.0, 0.0], [0.0, 0.0, 0.0], width=40, height=30)


def test_opengl_round_trip_and_axes():
    cams = random_cameras(3, dtype=torch.float64)
    c2w = cams.to_opengl_c2w()
    assert c2w.shape == (3, 4, 4)
    torch.testing.assert_close(c2w[:, 3], torch.tensor([[0.0, 0, 0, 1]] * 3, dtype=torch.float64))
    back = Camera.from_opengl_c2w(c2w, cams.K, cams.width, cams.height)
    torch.testing.assert_close(back.R, cams.R)
    torch.testing.assert_close(back.t, cams.t)
    torch.testing.assert_close(back.to_opengl_c2w(), c2w)
    # Blender identity pose: camera at (0, 0, 4) looking down world -z, y up.
    gl = torch.eye(4)
    gl[2, 3] = 4.0
    cam = Camera.from_opengl_c2w(gl, intrinsics_from_fov(1.0, 32, 32), 32, 32)
    px, depth = cam.project(torch.tensor([[[0.0, 0.0, 0.0], [0.0, 0.5, 0.0]]]), return_depth=True)
    torch.testing.assert_close(px[0, 0], torch.tensor([16.0, 16.0]))
    assert px[0, 1, 1] < 16.0 and float(depth[0, 0]) == pytest.approx(4.0)
    # 3x4 matrices are accepted too
    assert Camera.from_opengl_c2w(c2w[:, :3], cams.K, 80, 60).batch_size == 3


def test_getitem_to_and_cat():
    cams = random_cameras(4)
    assert cams[2].batch_size == 1 and cams[-1].batch_size == 1
    torch.testing.assert_close(cams[-1].R, cams.R[3:])
    assert cams[1:3].batch_size == 2 and cams[[0, 3]].batch_size == 2
    assert cams[torch.tensor([True, False, True, False])].batch_size == 2
    with pytest.raises(IndexError):
        cams[4]
    c64 = cams.to(dtype=torch.float64)
    assert c64.dtype == torch.float64 and c64.device == torch.device("cpu")
    cat = Camera.cat([cams[0], cams[1:]])
    torch.testing.assert_close(cat.K, cams.K)


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(K=torch.eye(4)), "K"),
        (dict(R=torch.eye(3)[:2]), "R"),
        (dict(t=torch.zeros(2, 4)), "t"),
        (dict(K=torch.eye(3).expand(2, 3, 3), R=torch.eye(3).expand(3, 3, 3)), "batch"),
    ],
)
def test_bad_shapes_raise_value_error_naming_argument(kwargs, name):
    args = dict(K=torch.eye(3), R=torch.eye(3), t=torch.zeros(3), width=8, height=8)
    args.update(kwargs)
    with pytest.raises(ValueError, match=name) as info:
        Camera(**args)
    if name != "batch":
        bad = tuple(kwargs[name].shape)
        assert str(bad) in str(info.value)


@pytest.mark.parametrize("name", ["K", "R", "t"])
def test_nan_raises_value_error_naming_argument(name):
    args = dict(K=torch.eye(3), R=torch.eye(3), t=torch.zeros(3))
    args[name] = args[name].clone()
    args[name].view(-1)[0] = float("nan")
    with pytest.raises(ValueError, match=rf"{name} must be finite"):
        Camera(**args, width=8, height=8)


def test_bad_image_size_and_point_shapes():
    with pytest.raises(ValueError, match="width"):
        Camera(torch.eye(3), torch.eye(3), torch.zeros(3), 0, 8)
    with pytest.raises(ValueError, match="height"):
        Camera(torch.eye(3), torch.eye(3), torch.zeros(3), 8, 2.5)
    cams = random_cameras(2)
    with pytest.raises(ValueError, match="points"):
        cams.project(torch.zeros(3, 5, 3))
    with pytest.raises(ValueError, match="pixels"):
        cams.unproject(torch.zeros(2, 5, 3), torch.ones(2, 5))
    with pytest.raises(ValueError, match="depth"):
        cams.unproject(torch.zeros(2, 5, 2), torch.ones(2, 4))


# ----------------------------------------------------------------------------- gradients
def test_gradcheck_project_wrt_points_and_t():
    cams = random_cameras(2, dtype=torch.float64)
    pts = points_near_origin(2, 5, dtype=torch.float64).requires_grad_(True)
    t = cams.t.clone().requires_grad_(True)

    def fn(points, trans):
        return Camera(cams.K, cams.R, trans, cams.width, cams.height).project(points)

    assert torch.autograd.gradcheck(fn, (pts, t))


def test_gradcheck_project_wrt_K_R_and_unproject():
    cams = random_cameras(1, dtype=torch.float64)
    pts = points_near_origin(1, 4, dtype=torch.float64)
    K = cams.K.clone().requires_grad_(True)
    R = cams.R.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda k, r: Camera(k, r, cams.t, 80, 60).project(pts), (K, R))
    px = torch.tensor([[[10.0, 20.0], [40.5, 30.25]]], dtype=torch.float64, requires_grad=True)
    depth = torch.tensor([[2.0, 3.0]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p, d: Camera(K, R, cams.t, 80, 60).unproject(p, d), (px, depth))
