"""``read_views``: a COLMAP capture written from a Blender dataset reads back as the same
images and cameras (round trip), with the documented test split, its sparse points and box;
one clear error per broken capture."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from humanrecon.datasets import (ColmapScene, holdout_indices, is_colmap, make_views, read_blender, read_colmap_views,
                                 read_views, write_colmap_binary)
from humanrecon.datasets.synthetic import default_body
from humanrecon.errors import InputError, MissingFileError
from humanrecon.geometry import Camera
from humanrecon.io.images import save_image


def write_capture(blender: Path, out: Path, points: torch.Tensor | None = None) -> Path:
    """A COLMAP capture (binary model in sparse/0, RGB images in images/) holding every image
    of the Blender dataset's train and test splits, named so that sorting keeps their order."""
    splits = [read_blender(blender, s) for s in ("train", "test")]
    cameras = Camera.cat([s.cameras for s in splits])
    images = torch.cat([s.images for s in splits])
    names = [f"img_{i:03d}.png" for i in range(len(images))]
    for name, image in zip(names, images):
        save_image(out / "images" / name, image.numpy())
    points = torch.zeros(0, 3) if points is None else points
    write_colmap_binary(out / "sparse" / "0", ColmapScene.from_cameras(cameras, names, points))
    return out


@pytest.fixture(scope="module")
def blender(tmp_path_factory):
    root = tmp_path_factory.mktemp("blender")
    make_views(*default_body(), root, views=9, size=24, val=0, test=1, seed=0, progress=False)
    return root


@pytest.fixture(scope="module")
def capture(blender, tmp_path_factory):
    gen = torch.Generator().manual_seed(0)
    points = torch.rand(200, 3, generator=gen) - 0.5
    return write_capture(blender, tmp_path_factory.mktemp("capture"), points)


def test_capture_reads_back_the_same_cameras_and_images(blender, capture):
    assert is_colmap(capture) and not is_colmap(blender)
    everything = read_colmap_views(capture, "all")
    train, test = read_blender(blender, "train"), read_blender(blender, "test")
    assert len(everything) == len(train) + len(test) == 10
    torch.testing.assert_close(everything.images[:9], train.images, atol=1 / 255, rtol=0)  # 8-bit PNGs
    torch.testing.assert_close(everything.cameras.K[:9], train.cameras.K)
    torch.testing.assert_close(everything.cameras.R[9:], test.cameras.R, atol=1e-6, rtol=0)
    torch.testing.assert_close(everything.cameras.t[9:], test.cameras.t, atol=1e-5, rtol=0)
    assert (everything.alpha == 1).all() and everything.points.shape == (200, 3)


def test_every_eighth_image_is_held_out(capture):
    assert holdout_indices(10, "test") == [0, 8] and holdout_indices(10, "train") == [1, 2, 3, 4, 5, 6, 7, 9]
    test, train = read_views(capture, "test"), read_views(capture, "train")
    assert len(test) == 2 and len(train) == 8
    assert Path(test.names[1]).name == "img_008.png" and Path(train.names[0]).name == "img_001.png"
    assert not set(test.names) & set(train.names)


def test_points_give_the_box_and_downscale_scales_the_intrinsics(capture):
    full, half = read_views(capture, "train"), read_views(capture, "train", downscale=2)
    assert half.images.shape[1:3] == (12, 12)
    torch.testing.assert_close(half.cameras.K[:, :2], full.cameras.K[:, :2] / 2)
    lo, hi = full.bounds
    assert (lo < -0.45).all() and (hi > 0.45).all() and (lo > -0.7).all() and (hi < 0.7).all()
    torch.testing.assert_close(full.point_colors, torch.full((200, 3), 0.5), atol=1 / 255, rtol=0)


def test_blender_folders_still_read_as_blender(blender):
    split = read_views(blender, "train")
    assert len(split) == 9 and split.bounds is None and split.points is None


def test_broken_captures(capture, tmp_path):
    with pytest.raises(MissingFileError, match="not a dataset"):
        read_views(tmp_path, "train")
    broken = tmp_path / "broken"
    shutil.copytree(capture, broken)
    (broken / "images" / "img_003.png").unlink()
    with pytest.raises(MissingFileError, match="img_003.png"):
        read_views(broken, "train")
    save_image(broken / "images" / "img_003.png", np.zeros((10, 10, 3)))
    with pytest.raises(InputError, match=r"img_003.png. is 10x10 but the capture.s camera .or its first image. is 24x24"):
        read_views(broken, "train")
    shutil.rmtree(broken / "images")
    with pytest.raises(MissingFileError, match="no 'images' folder"):
        read_views(broken, "train")
    with pytest.raises(InputError, match="split must be one of"):
        read_views(capture, "validation")
