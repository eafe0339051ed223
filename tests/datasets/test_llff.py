"""Tests for the LLFF reader and writer (humanrecon.datasets.llff).

Oracles: a write -> read round trip; a hand-made ``poses_bounds`` row whose projection is
worked out by hand from LLFF's [down, right, backwards] axes; the real DTU scan 24 (skipped
when absent) for the file's own image size.
"""

import io
import math
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from humanrecon.datasets.llff import (POSES_FILE, is_llff, load_poses_bounds, poses_bounds_array, read_llff,
                                      read_llff_cameras, write_llff)
from humanrecon.datasets.split import holdout_rule, scale_cameras
from humanrecon.errors import InputError, MissingFileError, OutputExistsError
from humanrecon.geometry.camera import Camera
from humanrecon.io.images import save_image

W, H = 12, 10  # non-square, to catch width/height swaps
DTU = Path("/work/shared/data/captures/dtu_scan24")


def random_cameras(n: int, seed: int = 0, width: int = W, height: int = H) -> Camera:
    """Look-at cameras (centred principal point, fx = fy) 2-4 m from points near the origin."""
    g = torch.Generator().manual_seed(seed)
    direction = torch.nn.functional.normalize(torch.randn(n, 3, generator=g), dim=-1)
    direction[:, 1] = direction[:, 1].clamp(-0.8, 0.8)
    eye = direction * (2.0 + 2.0 * torch.rand(n, 1, generator=g))
    target = 0.1 * torch.randn(n, 3, generator=g)
    return Camera.look_at(eye, target, width=width, height=height, fov_x_rad=math.radians(50))


def random_images(n: int, seed: int = 0, width: int = W, height: int = H) -> np.ndarray:
    """Images exactly representable in 8 bits."""
    return np.random.default_rng(seed).integers(0, 256, (n, height, width, 3)).astype(np.float32) / 255.0


def near_far(n: int) -> np.ndarray:
    return np.stack([np.linspace(0.5, 1.0, n), np.linspace(5.0, 6.0, n)], axis=-1)


def make_capture(root: Path, n: int = 5, seed: int = 0) -> tuple[Camera, np.ndarray]:
    cams, images = random_cameras(n, seed), random_images(n, seed)
    write_llff(root, cams, near_far(n), images=images)
    return cams, images


def assert_cameras_close(a: Camera, b: Camera, tol: float = 1e-5) -> None:
    assert (a.width, a.height, a.batch_size) == (b.width, b.height, b.batch_size)
    for name in ("K", "R", "t"):
        torch.testing.assert_close(getattr(a, name).double(), getattr(b, name).double(), atol=tol, rtol=tol)


def rows(root: Path) -> np.ndarray:
    return np.load(root / POSES_FILE)


def save_rows(root: Path, data: np.ndarray) -> None:
    np.save(root / POSES_FILE, data)


# --------------------------------------------------------------------------- round trip
def test_write_read_round_trip(tmp_path):
    cams, images = make_capture(tmp_path, 5)
    assert is_llff(tmp_path) and not is_llff(tmp_path / "images")
    views = read_llff(tmp_path, "all")
    assert views.format == "llff" and views.split == "all" and len(views) == 5
    assert views.split_rule == holdout_rule(8)
    assert_cameras_close(views.cameras, cams)
    assert views.cameras.dtype == torch.float32
    torch.testing.assert_close(views.images, torch.from_numpy(images), atol=1e-6, rtol=0)
    assert torch.equal(views.alpha, torch.ones(5, H, W))
    torch.testing.assert_close(views.near_far, torch.from_numpy(near_far(5)).float())
    assert [Path(p).name for p in views.names] == [f"{i:03d}.png" for i in range(5)]
    assert views.masks is None and views.bounds is None
    # the cameras-only reader agrees
    only, nf = read_llff_cameras(tmp_path)
    assert_cameras_close(only, cams)
    torch.testing.assert_close(nf, views.near_far)


def test_hand_made_pose_projects_as_llff_axes_say(tmp_path):
    """A camera at (0, 0, 5) whose LLFF columns are down = -y, right = +x, backwards = +z
    looks down world -z with world +y up in the image: the projection follows by hand."""
    f = 20.0
    pose = np.array([[0.0, 1.0, 0.0, 0.0, H],
                     [-1.0, 0.0, 0.0, 0.0, W],
                     [0.0, 0.0, 1.0, 5.0, f]])
    save_rows(tmp_path, np.concatenate([pose.ravel(), [1.0, 9.0]])[None])
    save_image(tmp_path / "images" / "a.png", np.zeros((H, W, 3)))
    cam = read_llff(tmp_path, "all").cameras
    points = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0]])
    px, depth = cam.project(points, return_depth=True)
    cx, cy = W / 2, H / 2
    want = torch.tensor([[cx, cy], [cx + f / 5, cy], [cx, cy - f / 5], [cx, cy]])
    torch.testing.assert_close(px[0], want)
    torch.testing.assert_close(depth[0], torch.tensor([5.0, 5.0, 5.0, 2.0]))


def test_writer_layout_matches_llff(tmp_path):
    """Columns [down, right, backwards, centre, hwf]: down = OpenCV +y, right = +x, back = -z."""
    cams = random_cameras(3)
    data = poses_bounds_array(cams, near_far(3))
    poses = data[:, :15].reshape(3, 3, 5)
    R = cams.R.double().numpy()
    np.testing.assert_allclose(poses[:, :, 0], R[:, 1], atol=1e-6)  # camera y (down) in world
    np.testing.assert_allclose(poses[:, :, 1], R[:, 0], atol=1e-6)  # camera x (right)
    np.testing.assert_allclose(poses[:, :, 2], -R[:, 2], atol=1e-6)  # backwards
    np.testing.assert_allclose(poses[:, :, 3], cams.center.double().numpy(), atol=1e-6)
    np.testing.assert_allclose(poses[:, :, 4], [[H, W, float(cams.fx[0])]] * 3, rtol=1e-6)


def test_splits_every_8th(tmp_path):
    make_capture(tmp_path, 17)
    test, train = read_llff(tmp_path, "test"), read_llff(tmp_path, "train")
    names = lambda v: [Path(p).name for p in v.names]
    assert names(test) == ["000.png", "008.png", "016.png"]
    assert len(train) == 14 and not set(names(train)) & set(names(test))
    assert names(read_llff(tmp_path, "val")) == names(test)
    assert names(read_llff(tmp_path, "test", holdout_every=5)) == ["000.png", "005.png", "010.png", "015.png"]
    torch.testing.assert_close(test.near_far, torch.from_numpy(near_far(17)[[0, 8, 16]]).float())
    with pytest.raises(InputError, match="split"):
        read_llff(tmp_path, "bogus")


# --------------------------------------------------------------------------- downscales
def test_downscale_in_memory_when_no_images_n(tmp_path):
    cams, images = make_capture(tmp_path, 3)
    views = read_llff(tmp_path, "all", downscale=2)
    assert views.images.shape == (3, H // 2, W // 2, 3)
    assert_cameras_close(views.cameras, scale_cameras(cams, 0.5, W // 2, H // 2))
    want = torch.from_numpy(images).reshape(3, H // 2, 2, W // 2, 2, 3).mean(dim=(2, 4))
    torch.testing.assert_close(views.images, want, atol=1e-5, rtol=0)


def test_images_n_folder_is_used(tmp_path):
    cams, _ = make_capture(tmp_path, 3)
    small = random_images(3, seed=7, width=W // 2, height=H // 2)
    for i, image in enumerate(small):
        save_image(tmp_path / "images_2" / f"img_{i}.png", image)
    views = read_llff(tmp_path, "all", downscale=2)
    assert [Path(p).parent.name for p in views.names] == ["images_2"] * 3
    torch.testing.assert_close(views.images, torch.from_numpy(small), atol=1e-6, rtol=0)
    K = views.cameras.K
    torch.testing.assert_close(K[:, 0, 0], cams.fx / 2)
    torch.testing.assert_close(K[:, 1, 1], cams.fy / 2)
    assert torch.all(K[:, 0, 2] == W / 4) and torch.all(K[:, 1, 2] == H / 4)
    torch.testing.assert_close(views.cameras.R, cams.R)


def test_images_n_of_the_wrong_size_names_file_and_frame(tmp_path):
    make_capture(tmp_path, 3)
    for i in range(3):
        size = (H // 2, W // 2) if i != 1 else (H // 2 - 2, W // 2)
        save_image(tmp_path / "images_2" / f"img_{i}.png", np.zeros((*size, 3)))
    with pytest.raises(InputError, match=r"frame 1 image '.*img_1.png' is 6x3 .* / 2 = 6x5"):
        read_llff(tmp_path, "all", downscale=2)


def test_no_images_folder_hints_at_downscales(tmp_path):
    make_capture(tmp_path, 2)
    (tmp_path / "images").rename(tmp_path / "images_4")
    with pytest.raises(MissingFileError, match="images_4"):
        read_llff(tmp_path, "all")


# --------------------------------------------------------------------------- writing
def test_write_refuses_to_overwrite(tmp_path):
    cams = random_cameras(2)
    path = write_llff(tmp_path, cams, near_far(2))
    assert path == tmp_path / POSES_FILE and not (tmp_path / "images").exists()
    before = path.read_bytes()
    with pytest.raises(OutputExistsError, match=POSES_FILE):
        write_llff(tmp_path, random_cameras(2, seed=3), near_far(2))
    assert path.read_bytes() == before
    write_llff(tmp_path, random_cameras(2, seed=3), near_far(2), overwrite=True)
    assert path.read_bytes() != before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_write_refuses_what_llff_cannot_store(tmp_path):
    cams = random_cameras(2)
    K = cams.K.clone()
    K[1, 0, 2] += 1.0
    with pytest.raises(InputError, match="camera 1: .*principal point"):
        write_llff(tmp_path, Camera(K, cams.R, cams.t, W, H), near_far(2))
    K = cams.K.clone()
    K[0, 1, 1] *= 1.1
    with pytest.raises(InputError, match="camera 0: .*one focal length"):
        write_llff(tmp_path, Camera(K, cams.R, cams.t, W, H), near_far(2))
    with pytest.raises(InputError, match="camera 1 .*near < far"):
        write_llff(tmp_path, cams, [[1.0, 2.0], [3.0, 2.0]])
    with pytest.raises(InputError, match="images must have shape"):
        write_llff(tmp_path, cams, near_far(2), images=np.zeros((2, H, W + 1, 3)))
    assert not (tmp_path / POSES_FILE).exists()


# --------------------------------------------------------------------------- bad input
def test_missing_image_names_file_and_frame(tmp_path):
    make_capture(tmp_path, 4)
    (tmp_path / "images" / "003.png").unlink()
    with pytest.raises(MissingFileError, match=rf"{POSES_FILE}: 4 poses but .*3 images: frame 3 has no image"):
        read_llff(tmp_path, "all")


def test_extra_image_names_it(tmp_path):
    make_capture(tmp_path, 3)
    save_image(tmp_path / "images" / "zzz.png", np.zeros((H, W, 3)))
    with pytest.raises(InputError, match=r"3 poses but .*4 images .*frame 3, 'zzz.png'"):
        read_llff(tmp_path, "all")


def test_pose_that_is_not_a_rotation(tmp_path):
    make_capture(tmp_path, 4)
    data = rows(tmp_path)
    pose = data[2, :15].reshape(3, 5)
    pose[:, 0] *= 1.5  # a scaled axis
    data[2, :15] = pose.ravel()
    save_rows(tmp_path, data)
    with pytest.raises(InputError, match=rf"{POSES_FILE}: frame 2 is not a camera pose.*not a rotation"):
        read_llff(tmp_path, "all")
    pose[:, 0] /= -1.5  # a mirror: det -1
    data[2, :15] = pose.ravel()
    save_rows(tmp_path, data)
    with pytest.raises(InputError, match="frame 2 is not a camera pose"):
        read_llff(tmp_path, "test")  # the whole file is checked, whatever the split


@pytest.mark.parametrize("column, value, message", [
    (14, -3.0, "frame 1 has focal length -3"),   # hwf: focal
    (4, 0.0, "frame 1 has image size h=0"),        # hwf: h
    (9, 11.5, "frame 1 has image size .*w=11.5"),  # hwf: w
    (16, 0.2, "frame 1 has near=.*far=0.2"),
])
def test_bad_intrinsics_or_bounds(tmp_path, column, value, message):
    """LLFF has no principal point of its own (it is the image centre): its intrinsics go
    wrong as a focal length or an image size; its bounds as near >= far."""
    make_capture(tmp_path, 3)
    data = rows(tmp_path)
    data[1, column] = value
    save_rows(tmp_path, data)
    with pytest.raises(InputError, match=rf"{POSES_FILE}: {message}"):
        read_llff(tmp_path, "all")


def test_file_size_that_is_not_the_images(tmp_path):
    make_capture(tmp_path, 3)
    data = rows(tmp_path)
    data[:, 9] = W + 2  # every row says w = 14
    save_rows(tmp_path, data)
    with pytest.raises(InputError, match=rf"{POSES_FILE}: frame 0 image '.*000.png' is 12x10 but the file's h, w "
                                         r"give 14x10"):
        read_llff(tmp_path, "all")
    data[:, 9] = W
    data[2, 9] = W + 2  # one row differs from the others
    save_rows(tmp_path, data)
    with pytest.raises(InputError, match="frame 2 has image size 14x10 but frame 0 has 12x10"):
        read_llff(tmp_path, "all")


def test_garbage_truncated_and_misshapen_files(tmp_path):
    make_capture(tmp_path, 3)
    path = tmp_path / POSES_FILE
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(InputError, match=rf"{POSES_FILE}: not a readable .npy"):
        read_llff(tmp_path)
    path.write_bytes(b"\x00garbage" * 20)
    with pytest.raises(InputError, match=rf"{POSES_FILE}: not a readable .npy"):
        read_llff(tmp_path)
    np.save(path, np.zeros((3, 15)))
    with pytest.raises(InputError, match=r"expected shape \(N, 17\)"):
        read_llff(tmp_path)
    data = np.load(io.BytesIO(good))
    data[0, 3] = np.nan
    np.save(path, data)
    with pytest.raises(InputError, match="frame 0 contains NaN"):
        read_llff(tmp_path)
    path.unlink()
    with pytest.raises(MissingFileError, match=POSES_FILE):
        read_llff(tmp_path)
    assert not is_llff(tmp_path)


def test_load_poses_bounds_checks_everything_cheaply(tmp_path):
    make_capture(tmp_path, 2)
    assert load_poses_bounds(tmp_path / POSES_FILE).shape == (2, 17)


# --------------------------------------------------------------------------- real data
def png_size(path: Path) -> tuple[int, int]:
    """(W, H) from a PNG's IHDR chunk, without decoding it."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", head[16:24])


@pytest.mark.skipif(not (DTU / POSES_FILE).is_file(), reason="DTU scan 24 (shared data) not present")
def test_real_dtu_scan24_poses_bounds():
    cams, nf = read_llff_cameras(DTU)
    assert cams.batch_size == 49 and (cams.width, cams.height) == (1600, 1200)
    files = sorted((DTU / "images").glob("*.png"))
    assert len(files) == 49 and {png_size(p) for p in files} == {(1600, 1200)}  # the file's h, w match the photos
    eye = torch.eye(3).expand(49, 3, 3)
    torch.testing.assert_close(cams.R @ cams.R.transpose(1, 2), eye, atol=1e-5, rtol=0)
    assert bool((nf[:, 0] > 0).all() and (nf[:, 1] > nf[:, 0]).all())
    # the axes convention is right: the point nearest to every optical axis (the object the
    # cameras converge on) lies in front of each camera and projects inside each photo
    C, d = cams.center.double(), cams.optical_axis.double()
    proj = torch.eye(3, dtype=torch.float64) - d[:, :, None] * d[:, None, :]
    focus = torch.linalg.solve(proj.sum(0), (proj @ C[:, :, None]).sum(0))[:, 0]
    px, depth = cams.project(focus[None].float(), return_depth=True)
    assert bool((depth > 0).all())
    assert bool(((px >= 0) & (px <= torch.tensor([1600.0, 1200.0]))).all())
    views = read_llff(DTU, "test", downscale=8, holdout_every=25)  # frames 0 and 25: fast
    assert views.images.shape == (2, 150, 200, 3) and [Path(p).name for p in views.names] == ["000000.png",
                                                                                              "000025.png"]
    assert_cameras_close(views.cameras, scale_cameras(cams[[0, 25]], 1 / 8, 200, 150), tol=1e-4)
    torch.testing.assert_close(views.near_far, nf[[0, 25]])
