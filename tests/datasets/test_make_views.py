"""Synthetic views of a mesh (``make_views``, ``humanrecon views``, ``tools/make_views.py``):
a tiny body dataset read back with read_blender and checked against the projected mesh."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh

from humanrecon.cli import main
from humanrecon.datasets import read_blender
from humanrecon.datasets import synthetic as tool
from humanrecon.errors import OutputExistsError

ROOT = Path(__file__).resolve().parents[2]
SIZE = 32


def _dilate(mask: torch.Tensor) -> torch.Tensor:
    """``(N, H, W)`` bool mask grown by one pixel (3x3)."""
    return torch.nn.functional.max_pool2d(mask.float()[:, None], 3, 1, 1)[:, 0] > 0


@pytest.fixture(scope="module")
def body():
    return tool.default_body()


@pytest.fixture(scope="module")
def dataset(body, tmp_path_factory):
    out = tmp_path_factory.mktemp("views")
    cams = tool.make_views(*body, out, views=6, size=SIZE, val=2, test=2, seed=0, supersample=1,
                           overwrite=False, progress=False)
    return out, cams


def test_default_body_has_part_colours(body):
    vertices, faces, colors = body
    assert vertices.shape == colors.shape and faces.shape[1] == 3
    assert len(np.unique(colors, axis=0)) >= 20
    assert vertices[:, 1].max() - vertices[:, 1].min() > 1.0  # Y up, metres


def test_splits_read_back_with_the_cameras_used(dataset):
    out, cams = dataset
    for split, n in (("train", 6), ("val", 2), ("test", 2)):
        data = read_blender(out, split)
        assert len(data) == n and data.images.shape == (n, SIZE, SIZE, 3)
        for name in ("K", "R", "t"):
            torch.testing.assert_close(getattr(data.cameras, name), getattr(cams[split], name), atol=1e-5, rtol=1e-5)
    train_eyes, test_eyes = cams["train"].center, cams["test"].center
    assert torch.cdist(train_eyes, test_eyes).min() > 0.05  # novel test views


def test_mesh_fits_and_alpha_covers_projected_vertices(dataset, body):
    out, _ = dataset
    vertices = torch.as_tensor(body[0])
    data = read_blender(out, "train")
    pixels, depth = data.cameras.project(vertices, return_depth=True)
    assert bool((depth > 0).all())
    assert pixels.min() > 0 and pixels.max() < SIZE  # the whole body is in view
    ij = pixels.floor().long()
    views = torch.arange(len(data))[:, None]
    # at 32 px fingers are thinner than a pixel: compare within one pixel (3x3 dilation)
    silhouette = _dilate(data.alpha > 0)
    assert silhouette[views, ij[..., 1], ij[..., 0]].float().mean() > 0.95  # vertices land on the silhouette
    covered = torch.zeros_like(data.alpha, dtype=torch.bool)
    covered[views, ij[..., 1], ij[..., 0]] = True
    assert not bool(((data.alpha > 0) & ~_dilate(covered)).any())  # and alpha is nowhere else


def test_overwrite_is_refused(dataset, body):
    out, _ = dataset
    before = (out / "transforms_val.json").read_text()
    with pytest.raises(OutputExistsError, match="transforms_train.json"):
        tool.make_views(*body, out, views=6, size=SIZE, val=2, test=2, seed=1, supersample=1,
                        overwrite=False, progress=False)
    assert (out / "transforms_val.json").read_text() == before


def test_supersample_gives_fractional_alpha(body, tmp_path):
    tool.make_views(*body, tmp_path, views=2, size=SIZE, val=0, test=0, seed=0, supersample=2,
                    overwrite=False, progress=False)
    alpha = read_blender(tmp_path).alpha
    assert not (tmp_path / "transforms_val.json").exists()
    assert ((alpha > 0) & (alpha < 1)).sum() > 20
    assert set(torch.unique(torch.round(alpha * 4)).tolist()) <= {0.0, 1.0, 2.0, 3.0, 4.0}


def test_cli_with_mesh_file_and_overwrite(tmp_path, capsys):
    mesh = trimesh.creation.box(extents=(0.4, 0.8, 0.3))
    path = tmp_path / "box.ply"
    mesh.export(path)
    out = tmp_path / "ds"
    args = ["views", str(path), "--out", str(out), "--views", "2", "--val", "1", "--test", "1", "--size", "16",
            "--quiet"]
    assert main(args) == 0
    assert f"wrote {out}: 2 train, 1 val, 1 test views at 16x16" in capsys.readouterr().out
    data = read_blender(out, "val")
    grey = data.images[data.alpha > 0]
    torch.testing.assert_close(grey[:, 0], grey[:, 2])  # uncoloured mesh: grey
    before = (out / "val" / "r_000.png").read_bytes()
    assert main(args) == 2 and "--overwrite" in capsys.readouterr().err
    assert (out / "val" / "r_000.png").read_bytes() == before
    assert main(args + ["--overwrite", "--seed", "3"]) == 0
    assert (out / "val" / "r_000.png").read_bytes() != before


@pytest.mark.parametrize("flag, value", [("--views", "0"), ("--size", "-8"), ("--val", "-1"), ("--supersample", "0")])
def test_cli_refuses_bad_counts_before_any_work(tmp_path, capsys, flag, value):
    assert main(["views", "--out", str(tmp_path / "ds"), flag, value]) == 2
    assert flag in capsys.readouterr().err
    assert not (tmp_path / "ds").exists()


def test_tool_wrapper_runs_the_views_command(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "make_views.py"), "--out", str(tmp_path / "ds"),
                           "--views", "0"], capture_output=True, text=True)
    assert done.returncode == 2 and "humanrecon views: error: --views must be >= 1" in done.stderr
