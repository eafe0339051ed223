"""instant-ngp / nerfstudio ``transforms.json`` captures (humanrecon.datasets.nerfstudio).

Oracles: photos rendered through a known distorted lens (each pixel's ray found by OpenCV's
point undistortion, coloured by a smooth function of the ray) must read back as that
function seen by the returned pinhole camera; poses written in OpenGL camera-to-world read
back as the OpenCV cameras they came from; the real fox capture (skipped when absent).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from humanrecon.datasets import read_views
from humanrecon.datasets.nerfstudio import read_nerfstudio
from humanrecon.errors import InputError, MissingFileError
from humanrecon.geometry.camera import Camera
from humanrecon.io.images import save_image
from tests.oracles import distorted_render, pinhole_render

W, H = 64, 48
K = np.array([[58.0, 0.0, 33.2], [0.0, 57.0, 23.6], [0.0, 0.0, 1.0]])
RADTAN = {"k1": 0.25, "k2": -0.05, "p1": 0.002, "p2": -0.003}
FISHEYE = {"k1": 0.2, "k2": -0.02, "k3": 0.004, "k4": -0.001}
FOX = Path(__file__).resolve().parents[3] / "shared" / "data" / "captures" / "fox"


def cameras(n: int) -> Camera:
    angles = torch.linspace(0, 2 * math.pi, n + 1)[:n]
    eye = torch.stack([3 * torch.cos(angles), 0.5 * torch.ones(n), 3 * torch.sin(angles)], dim=-1)
    return Camera.look_at(eye, torch.zeros(n, 3), width=W, height=H, fov_x_rad=1.0).to(dtype=torch.float64)


def write_capture(root: Path, n: int = 10, lens: dict | None = None, model: str | None = "OPENCV",
                  images: np.ndarray | None = None, **top) -> tuple[Path, Camera]:
    """A transforms.json capture of ``n`` views (file names 00..n-1), every photo the oracle's
    distorted render (or ``images``), with ``lens`` coefficients."""
    cams = cameras(n)
    lens = RADTAN if lens is None else lens
    fisheye = model == "OPENCV_FISHEYE"
    photo = distorted_render(K, list(lens.values()), W, H, fisheye=fisheye) if lens else pinhole_render(K, W, H)
    frames = []
    for i, c2w in enumerate(cams.to_opengl_c2w().numpy()):
        save_image(root / "images" / f"{i:02d}.png", photo if images is None else images[i])
        frames.append({"file_path": f"images/{i:02d}.png", "transform_matrix": c2w.tolist()})
    meta = {"fl_x": K[0, 0], "fl_y": K[1, 1], "cx": K[0, 2], "cy": K[1, 2], "w": W, "h": H, **lens, **top,
            "frames": frames}
    if model is not None:
        meta["camera_model"] = model
    root.mkdir(parents=True, exist_ok=True)
    (root / "transforms.json").write_text(json.dumps(meta))
    return root, cams


def interior_error(split, index: int = 0, border: int = 2) -> float:
    K_read = split.cameras.K[index].double().numpy()
    expected = pinhole_render(K_read, split.width, split.height)
    diff = np.abs(split.images[index].numpy() - expected)[border:-border, border:-border]
    return float(diff.mean())


@pytest.mark.parametrize("model, lens", [("OPENCV", RADTAN), ("OPENCV_FISHEYE", FISHEYE)])
def test_distorted_photos_read_back_as_the_pinhole_camera_sees_them(tmp_path, model, lens):
    root, _ = write_capture(tmp_path, lens=lens, model=model)
    split = read_nerfstudio(root, "all")
    assert split.format == "nerfstudio" and split.images.shape == (10, H, W, 3)
    assert interior_error(split) < 0.003  # 8-bit photos, bilinear resampling
    # the oracle can fail: the same photos read as if they had no distortion are far off
    (root / "transforms.json").write_text(
        json.dumps({**json.loads((root / "transforms.json").read_text()), "camera_model": "PINHOLE"}))
    assert interior_error(read_nerfstudio(root, "all")) > 0.01


def test_instant_ngp_files_without_camera_model_are_radial_tangential(tmp_path):
    root, _ = write_capture(tmp_path, model=None, aabb_scale=4)
    split = read_views(root, "all")
    assert interior_error(split) < 0.003
    torch.testing.assert_close(split.bounds, torch.tensor([[-0.5 / 0.33] * 3, [0.5 / 0.33] * 3]))


def test_poses_and_pinhole_intrinsics_read_back(tmp_path):
    root, cams = write_capture(tmp_path, lens={}, model="PINHOLE")
    split = read_nerfstudio(root, "all")
    torch.testing.assert_close(split.cameras.R.double(), cams.R, atol=1e-6, rtol=0)
    torch.testing.assert_close(split.cameras.t.double(), cams.t, atol=1e-5, rtol=0)
    torch.testing.assert_close(split.cameras.K[0].double(), torch.from_numpy(K), atol=1e-5, rtol=0)
    half = read_nerfstudio(root, "all", downscale=2)
    assert half.images.shape[1:3] == (H // 2, W // 2)
    torch.testing.assert_close(half.cameras.K[:, :2], split.cameras.K[:, :2] / 2)


def test_splits_own_or_every_eighth_by_name(tmp_path):
    root, _ = write_capture(tmp_path / "a", n=10)
    test, train = read_views(root, "test"), read_views(root, "train")
    assert [Path(n).name for n in test.names] == ["00.png", "08.png"] and len(train) == 8
    assert "every 8th" in test.split_rule
    meta = json.loads((root / "transforms.json").read_text())
    meta.update(train_filenames=[f"images/{i:02d}.png" for i in range(1, 10)], test_filenames=["images/00.png"])
    (root / "transforms.json").write_text(json.dumps(meta))
    test, train = read_views(root, "test"), read_views(root, "train")
    assert len(test) == 1 and len(train) == 9 and "test_filenames" in test.split_rule


def test_masks_are_read_undistorted_and_sized(tmp_path):
    root, _ = write_capture(tmp_path)
    mask = np.zeros((H, W, 3), np.float32)
    mask[10:30, 20:40] = 1.0
    meta = json.loads((root / "transforms.json").read_text())
    for i, frame in enumerate(meta["frames"]):
        save_image(root / "masks" / f"{i:02d}.png", mask)
        frame["mask_path"] = f"masks/{i:02d}.png"
    (root / "transforms.json").write_text(json.dumps(meta))
    split = read_nerfstudio(root, "all")
    assert split.masks.shape == (10, H, W) and (split.alpha == 1).all()
    assert 0.1 < float(split.masks.mean()) < 0.2  # 400 of 3072 pixels, slightly zoomed by undistortion
    save_image(root / "masks" / "03.png", np.zeros((H + 1, W, 3)))
    with pytest.raises(InputError, match=r"frame 3 mask .*03.png' is 64x49 but its image is 64x48"):
        read_nerfstudio(root, "all")


def edit(root: Path, change) -> None:
    meta = json.loads((root / "transforms.json").read_text())
    change(meta)
    (root / "transforms.json").write_text(json.dumps(meta))


def test_bad_captures_name_the_file_and_the_frame(tmp_path):
    root, _ = write_capture(tmp_path, n=4)
    (root / "images" / "02.png").unlink()
    with pytest.raises(MissingFileError, match=r"transforms.json: image of frame 2 .*not found"):
        read_nerfstudio(root, "all")
    save_image(root / "images" / "02.png", np.zeros((H, W + 2, 3)))
    with pytest.raises(InputError, match=r"frame 2 image .*02.png' is 66x48"):
        read_nerfstudio(root, "all")
    save_image(root / "images" / "02.png", np.zeros((H, W, 3)))

    edit(root, lambda m: m["frames"][1].update(transform_matrix=np.diag([2.0, 1, 1, 1]).tolist()))
    with pytest.raises(InputError, match="frame 1 transform_matrix is not a camera pose"):
        read_nerfstudio(root, "all")
    edit(root, lambda m: m["frames"][1].update(transform_matrix=m["frames"][0]["transform_matrix"]))
    edit(root, lambda m: m.update(cx=W + 10.0))
    with pytest.raises(InputError, match=r"frame 0 puts the principal point .* outside its 64x48 image"):
        read_nerfstudio(root, "all")
    edit(root, lambda m: m.update(cx=K[0, 2], camera_model="EQUIRECTANGULAR"))
    with pytest.raises(InputError, match="camera model 'EQUIRECTANGULAR' is not supported"):
        read_nerfstudio(root, "all")
    edit(root, lambda m: m.update(camera_model="OPENCV", k1="a lot"))
    with pytest.raises(InputError, match="frame 0 has non-numeric distortion"):
        read_nerfstudio(root, "all")
    (root / "transforms.json").write_text("{ not json")
    with pytest.raises(InputError, match="transforms.json: malformed JSON"):
        read_nerfstudio(root, "all")


@pytest.mark.skipif(not (FOX / "transforms.json").is_file(), reason="shared fox capture absent")
def test_the_real_fox_capture_reads_undistorted():
    test = read_views(FOX, "test", downscale=8)
    assert test.format == "nerfstudio" and len(test) == 9 and test.images.shape[1:] == (240, 135, 3)
    # OpenCV's optimal pinhole for this lens (k1 = 0.058) zooms in a little: focal grows by ~1 %
    fx = float(test.cameras.K[0, 0, 0]) * 8
    assert 1375.52 < fx < 1375.52 * 1.03
    # the fox sits near the origin inside instant-ngp's unit cube: every camera looks at it
    pixels, depth = test.cameras.project(torch.zeros(len(test), 1, 3), return_depth=True)
    assert (depth > 0).all() and (pixels >= 0).all() and (pixels[..., 0] <= 135).all() and (pixels[..., 1] <= 240).all()
