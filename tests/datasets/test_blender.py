"""Tests for the Blender / NeRF-synthetic reader and writer (humanrecon.datasets.blender).

Oracles: a write -> read round trip, and a hand-made json in the original NeRF-synthetic
style whose projection is computed by hand in the OpenGL convention.
"""

import json
import math

import cv2
import numpy as np
import pytest
import torch

from humanrecon.datasets import BlenderSplit, downscale_rgba, read_blender, scale_cameras, write_blender
from humanrecon.geometry.camera import Camera, intrinsics_from_focal

W, H = 12, 10  # non-square, to catch width/height swaps


def random_cameras(n: int, seed: int = 0, width: int = W, height: int = H) -> Camera:
    """Look-at cameras on random eyes 2-4 m from points near the origin, Y up."""
    g = torch.Generator().manual_seed(seed)
    direction = torch.nn.functional.normalize(torch.randn(n, 3, generator=g), dim=-1)
    direction[:, 1] = direction[:, 1].clamp(-0.8, 0.8)
    eye = direction * (2.0 + 2.0 * torch.rand(n, 1, generator=g))
    target = 0.1 * torch.randn(n, 3, generator=g)
    return Camera.look_at(eye, target, width=width, height=height, fov_x_rad=math.radians(45))


def random_rgba(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, H, W, 4)).astype(np.float32)


def assert_cameras_close(a: Camera, b: Camera, tol: float = 1e-5) -> None:
    assert (a.width, a.height, a.batch_size) == (b.width, b.height, b.batch_size)
    for name in ("K", "R", "t"):
        torch.testing.assert_close(getattr(a, name), getattr(b, name), atol=tol, rtol=tol)


def write_png(path, rgba_u8: np.ndarray) -> None:
    """Write an RGBA (or RGB) uint8 image with OpenCV (BGR(A) on disk)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    code = cv2.COLOR_RGBA2BGRA if rgba_u8.shape[-1] == 4 else cv2.COLOR_RGB2BGR
    assert cv2.imwrite(str(path), cv2.cvtColor(rgba_u8, code))


def write_json(root, split: str, meta) -> None:
    (root / f"transforms_{split}.json").write_text(json.dumps(meta) if not isinstance(meta, str) else meta)


# --------------------------------------------------------------------------- round trip
def test_write_read_round_trip(tmp_path):
    cams = random_cameras(5)
    rgba = random_rgba(5)
    json_path = write_blender(tmp_path, "train", rgba, cams)
    assert json_path == tmp_path / "transforms_train.json"
    assert sorted(p.name for p in (tmp_path / "train").iterdir()) == [f"r_{i:03d}.png" for i in range(5)]
    split = read_blender(tmp_path, "train")
    assert isinstance(split, BlenderSplit) and len(split) == 5 and split.split == "train"
    assert split.images.dtype == torch.float32 and split.images.shape == (5, H, W, 3)
    assert split.alpha.shape == (5, H, W)
    np.testing.assert_allclose(split.images.numpy(), rgba[..., :3], atol=0.5 / 255 + 1e-6)
    np.testing.assert_allclose(split.alpha.numpy(), rgba[..., 3], atol=0.5 / 255 + 1e-6)
    assert split.cameras.dtype == torch.float32
    assert_cameras_close(split.cameras, cams)


def test_round_trip_of_non_square_off_centre_and_per_frame_intrinsics(tmp_path):
    base = random_cameras(3, seed=1)
    fx = torch.tensor([20.0, 20.0, 31.5])
    K = intrinsics_from_focal(fx, torch.tensor([23.25, 23.25, 30.0]), torch.tensor([5.3, 5.3, 6.1]),
                              torch.tensor([4.1, 4.1, 5.9]))
    cams = Camera(K, base.R, base.t, W, H)
    write_blender(tmp_path, "val", random_rgba(3), cams)
    meta = json.loads((tmp_path / "transforms_val.json").read_text())
    assert (meta["w"], meta["h"], meta["fl_x"], meta["cy"]) == (W, H, 20.0, pytest.approx(4.1))
    assert meta["camera_angle_x"] == pytest.approx(2 * math.atan(0.5 * W / 20.0))
    assert "fl_x" not in meta["frames"][0] and meta["frames"][2]["fl_x"] == 31.5
    assert_cameras_close(read_blender(tmp_path, "val").cameras, cams)


def test_opaque_rgb_images_get_alpha_one_and_composite(tmp_path):
    rgb = np.random.default_rng(2).random((2, H, W, 3)).astype(np.float32)
    write_blender(tmp_path, "test", rgb, random_cameras(2))
    split = read_blender(tmp_path, "test")
    assert torch.all(split.alpha == 1.0)
    torch.testing.assert_close(split.composite([0.0, 1.0, 0.0]), split.images)


def test_composite_blends_over_background(tmp_path):
    rgba = random_rgba(2, seed=3)
    write_blender(tmp_path, "train", rgba, random_cameras(2))
    split = read_blender(tmp_path)
    bg = torch.tensor([0.2, 0.4, 0.9])
    a = split.alpha[..., None]
    torch.testing.assert_close(split.composite(bg), split.images * a + bg * (1 - a))
    with pytest.raises(ValueError, match=r"\(3,\)"):
        split.composite([1.0, 1.0])


def test_max_images_and_downscale(tmp_path):
    cams = random_cameras(3, seed=4)
    rgba = random_rgba(3, seed=4)
    rgba[0, :2, :2, 3] = [[1.0, 0.0], [0.0, 0.0]]  # one opaque pixel in a 2x2 block
    write_blender(tmp_path, "train", rgba, cams)
    full = read_blender(tmp_path, max_images=2)
    assert len(full) == 2 and len(full.names) == 2
    half = read_blender(tmp_path, max_images=2, downscale=2)
    assert half.images.shape == (2, H // 2, W // 2, 3) and (half.width, half.height) == (W // 2, H // 2)
    # premultiplied area average: the block keeps the opaque pixel's colour at alpha 1/4
    assert half.alpha[0, 0, 0].item() == pytest.approx(full.alpha[0, 0, 0].item() / 4, abs=1e-6)
    torch.testing.assert_close(half.images[0, 0, 0], full.images[0, 0, 0])
    torch.testing.assert_close(half.alpha.mean(), full.alpha.mean(), atol=1e-6, rtol=0)
    point = torch.tensor([[0.05, -0.1, 0.2]])
    torch.testing.assert_close(half.cameras.project(point), full.cameras.project(point) / 2)


def test_downscale_crops_remainder_and_keeps_intrinsics_exact():
    rgb, alpha = torch.rand(5, 7, 3), torch.ones(5, 7)
    small_rgb, small_alpha = downscale_rgba(rgb, alpha, 2)
    assert small_rgb.shape == (2, 3, 3) and small_alpha.shape == (2, 3)
    torch.testing.assert_close(small_rgb[1, 2], rgb[2:4, 4:6].mean(dim=(0, 1)))
    cam = Camera.from_fov(1.0, 7, 5)
    small = scale_cameras(cam, 0.5, 3, 2)
    assert (small.width, small.height) == (3, 2)
    torch.testing.assert_close(small.K[0, :2], cam.K[0, :2] * 0.5)
    with pytest.raises(ValueError, match="integer >= 1"):
        downscale_rgba(rgb, alpha, 0)


def test_overwrite_is_refused_unless_asked(tmp_path):
    cams, rgba = random_cameras(2), random_rgba(2)
    write_blender(tmp_path, "train", rgba, cams)
    with pytest.raises(FileExistsError, match="transforms_train.json"):
        write_blender(tmp_path, "train", rgba, cams)
    (tmp_path / "transforms_train.json").unlink()
    with pytest.raises(FileExistsError, match="r_000.png"):
        write_blender(tmp_path, "train", rgba, cams)
    write_blender(tmp_path, "train", 1.0 - rgba, cams, overwrite=True)
    assert not list(tmp_path.glob("*.tmp"))
    np.testing.assert_allclose(read_blender(tmp_path).alpha.numpy(), 1.0 - rgba[..., 3], atol=1 / 255)


def test_write_rejects_images_not_matching_cameras(tmp_path):
    with pytest.raises(ValueError, match=r"\(N, H, W, 4\)"):
        write_blender(tmp_path, "train", random_rgba(3), random_cameras(2))


# --------------------------------------------------------------------------- original NeRF-synthetic style
def _c2w_oracle() -> np.ndarray:
    """A camera-to-world matrix (OpenGL axes): rotated about world x then z, placed at (0.5, -3.8, 1.2)."""
    a, b = math.radians(72.0), math.radians(-25.0)
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    rz = np.array([[math.cos(b), -math.sin(b), 0], [math.sin(b), math.cos(b), 0], [0, 0, 1]])
    c2w = np.eye(4)
    c2w[:3, :3] = rz @ rx
    c2w[:3, 3] = [0.5, -3.8, 1.2]
    return c2w


def test_original_nerf_synthetic_json_matches_hand_projection(tmp_path):
    angle_x = 0.6911112070083618
    c2w = _c2w_oracle()
    image = np.zeros((H, W, 4), np.uint8)
    image[1, 2] = (255, 0, 0, 255)  # a red opaque pixel at row 1, column 2
    image[3, 4] = (0, 0, 255, 128)  # a half-transparent blue one
    write_png(tmp_path / "train" / "r_0.png", image)
    write_json(tmp_path, "train", {"camera_angle_x": angle_x,
                                   "frames": [{"file_path": "./train/r_0", "rotation": 0.012566,
                                               "transform_matrix": c2w.tolist()}]})
    split = read_blender(tmp_path, "train")
    assert split.names == [str(tmp_path / "train" / "r_0.png")]
    np.testing.assert_allclose(split.images[0, 1, 2].numpy(), [1, 0, 0])
    np.testing.assert_allclose(split.images[0, 3, 4].numpy(), [0, 0, 1])
    assert split.alpha[0, 3, 4].item() == pytest.approx(128 / 255)
    assert split.alpha[0, 0, 0].item() == 0.0

    # hand computation in the OpenGL convention
    f = 0.5 * W / math.tan(0.5 * angle_x)
    cx, cy = W / 2, H / 2
    for p_cam_gl in ([0.3, -0.2, -3.0], [-0.7, 0.4, -2.0], [0.0, 0.0, -5.0]):
        p_world = (c2w @ np.array([*p_cam_gl, 1.0]))[:3]
        x, y, z = (np.linalg.inv(c2w) @ np.array([*p_world, 1.0]))[:3]
        expected = [cx + f * x / (-z), cy - f * y / (-z)]
        pixel, depth = split.cameras.project(torch.tensor(p_world[None], dtype=torch.float32), return_depth=True)
        np.testing.assert_allclose(pixel[0, 0].numpy(), expected, atol=1e-4)
        assert depth[0, 0].item() == pytest.approx(-z, rel=1e-5)
    torch.testing.assert_close(split.cameras.center[0], torch.tensor(c2w[:3, 3], dtype=torch.float32))


def test_per_frame_focal_overrides_and_camera_angle_y(tmp_path):
    write_png(tmp_path / "images" / "a.png", np.zeros((H, W, 3), np.uint8))
    write_png(tmp_path / "images" / "b.png", np.zeros((H, W, 3), np.uint8))
    eye = np.eye(4).tolist()
    write_json(tmp_path, "train", {
        "camera_angle_x": 1.0, "camera_angle_y": 0.8,
        "frames": [{"file_path": "images/a.png", "transform_matrix": eye},
                   {"file_path": "images/b.png", "transform_matrix": eye,
                    "fl_x": 9.0, "fl_y": 8.0, "cx": 5.5, "cy": 4.5, "w": W, "h": H}]})
    cams = read_blender(tmp_path).cameras
    fx0, fy0 = 0.5 * W / math.tan(0.5), 0.5 * H / math.tan(0.4)
    expected = intrinsics_from_focal(torch.tensor([fx0, 9.0]), torch.tensor([fy0, 8.0]),
                                     torch.tensor([W / 2, 5.5]), torch.tensor([H / 2, 4.5]))
    torch.testing.assert_close(cams.K, expected)


# --------------------------------------------------------------------------- bad input
def _one_frame_dataset(root, **frame_overrides) -> dict:
    write_png(root / "train" / "r_0.png", np.zeros((H, W, 4), np.uint8))
    frame = {"file_path": "./train/r_0", "transform_matrix": np.eye(4).tolist(), **frame_overrides}
    return {"camera_angle_x": 0.7, "frames": [frame]}


def test_missing_transforms_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="transforms_val.json"):
        read_blender(tmp_path, "val")


def test_malformed_json_names_file_and_position(tmp_path):
    write_json(tmp_path, "train", '{"camera_angle_x": 0.7,\n "frames": [}')
    with pytest.raises(ValueError, match=r"transforms_train\.json: malformed JSON at line 2 column"):
        read_blender(tmp_path)


@pytest.mark.parametrize("meta", [{"camera_angle_x": 0.7, "frames": []}, {"camera_angle_x": 0.7}, [1, 2]])
def test_no_frames(tmp_path, meta):
    write_json(tmp_path, "train", meta)
    with pytest.raises(ValueError, match="transforms_train.json"):
        read_blender(tmp_path)


def test_missing_image_names_json_and_path(tmp_path):
    meta = _one_frame_dataset(tmp_path)
    meta["frames"].append({"file_path": "./train/r_1", "transform_matrix": np.eye(4).tolist()})
    write_json(tmp_path, "train", meta)
    with pytest.raises(FileNotFoundError, match=r"transforms_train\.json.*frame 1.*r_1\.png"):
        read_blender(tmp_path)


def test_inconsistent_image_sizes_name_both(tmp_path):
    meta = _one_frame_dataset(tmp_path)
    write_png(tmp_path / "train" / "r_1.png", np.zeros((H + 2, W, 4), np.uint8))
    meta["frames"].append({"file_path": "./train/r_1", "transform_matrix": np.eye(4).tolist()})
    write_json(tmp_path, "train", meta)
    with pytest.raises(ValueError, match=rf"r_0\.png is {W}x{H} but .*r_1\.png is {W}x{H + 2}"):
        read_blender(tmp_path)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_transform_matrix_names_frame(tmp_path, bad):
    meta = _one_frame_dataset(tmp_path)
    matrix = np.eye(4)
    matrix[1, 3] = bad
    meta["frames"].append({"file_path": "./train/r_0", "transform_matrix": matrix.tolist()})
    write_json(tmp_path, "train", meta)
    with pytest.raises(ValueError, match=r"transforms_train\.json: frame 1 transform_matrix contains NaN or inf"):
        read_blender(tmp_path)


@pytest.mark.parametrize("matrix", [np.eye(3).tolist(), [[1, 0, 0, 0]], "identity"])
def test_wrong_transform_matrix_shape_names_frame(tmp_path, matrix):
    write_json(tmp_path, "train", _one_frame_dataset(tmp_path, transform_matrix=matrix))
    with pytest.raises(ValueError, match=r"frame 0 transform_matrix"):
        read_blender(tmp_path)


def test_missing_intrinsics(tmp_path):
    meta = _one_frame_dataset(tmp_path)
    del meta["camera_angle_x"]
    write_json(tmp_path, "train", meta)
    with pytest.raises(ValueError, match=r"transforms_train\.json: frame 0 .*camera_angle_x.*fl_x"):
        read_blender(tmp_path)


def test_size_in_json_must_match_image(tmp_path):
    write_json(tmp_path, "train", _one_frame_dataset(tmp_path, w=2 * W))
    with pytest.raises(ValueError, match=rf"w={2 * W} but its image is {W}x{H}"):
        read_blender(tmp_path)


def test_non_numeric_intrinsics(tmp_path):
    write_json(tmp_path, "train", _one_frame_dataset(tmp_path, fl_x="50"))
    with pytest.raises(ValueError, match=r"frame 0 has non-numeric intrinsics \{'fl_x': '50'\}"):
        read_blender(tmp_path)
