"""Every scene trainer takes a real-style capture: photos with a background and object masks
(here a nerfstudio ``transforms.json`` made from renders of the open body over a textured
backdrop). Checks what ``metrics.json`` says (format, split rule, what was trained on) and
that the masks are used as the docs say: DVR trains on the object, NeRF and splats on the
whole photo unless ``masks="object"``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from humanrecon import pipeline
from humanrecon.datasets import default_body, make_views, read_blender, read_views
from humanrecon.datasets.nerfstudio import write_nerfstudio
from humanrecon.errors import InputError

TINY_NERF = {"log2_table_size": 12, "finest_resolution": 64, "levels": 4, "samples_per_diagonal": 64,
             "grid_resolution": 16}


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    renders = tmp_path_factory.mktemp("renders")
    make_views(*default_body(), renders, views=16, size=24, val=0, test=0, seed=0, progress=False)
    split = read_blender(renders, "train")
    v, u = np.mgrid[0:24, 0:24]
    backdrop = torch.from_numpy(np.stack([(u // 4 + v // 4) % 2 * 0.6 + 0.2, 0.3 + 0.02 * u, 0.5 + 0.0 * v],
                                         -1)).float()
    a = split.alpha[..., None]
    photos = split.images * a + backdrop * (1 - a)
    root = tmp_path_factory.mktemp("capture")
    write_nerfstudio(root, photos, split.cameras, masks=split.alpha)
    return root


def test_the_capture_reads_as_photos_with_masks(capture):
    split = read_views(capture, "all")
    assert split.format == "nerfstudio" and (split.alpha == 1).all() and split.masks.shape == (16, 24, 24)
    assert 0.05 < float(split.masks.mean()) < 0.6
    assert (split.on_masks().alpha == split.masks).all()


def test_dvr_trains_on_the_object_and_reports_the_split(capture, tmp_path):
    config = {"steps": 4, "rays": 64, "rays_start": 64, "samples": 16, "samples_start": 16, "hidden": 32,
              "layers": 2, "texture_hidden": 16, "texture_layers": 1, "frequencies": 2, "checkpoint_every": 0}
    run = pipeline.run("dvr", capture, tmp_path, config, progress=False)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["format"] == "nerfstudio" and metrics["images"].startswith("object")
    assert "every 8th" in metrics["split_rule"] and metrics["views"] == 2 and metrics["train_views"] == 14
    assert metrics["mask_iou"] is not None and 0 <= metrics["mask_iou"] <= 1
    assert run.metrics == metrics


def test_splats_train_on_the_whole_photo_and_report_masked_metrics(capture, tmp_path):
    config = {"steps": 4, "init_points": 200, "backend": "torch", "checkpoint_every": 0}
    pipeline.run("splat", capture, tmp_path, config, progress=False)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["images"] == "whole images" and metrics["mask_iou"] is None
    assert metrics["psnr_masked"] is not None and metrics["ssim_masked"] is not None


def test_nerf_on_the_object_when_asked(capture, tmp_path):
    config = {"steps": 3, "samples_per_batch": 1 << 10, "model": TINY_NERF, "checkpoint_every": 0}
    pipeline.run("nerf", capture, tmp_path, config, progress=False, masks="object")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["images"].startswith("object") and metrics["mask_iou"] is not None


def test_masks_object_without_masks_is_refused(tmp_path):
    make_views(*default_body(), tmp_path / "renders", views=3, size=16, val=0, test=1, seed=0, progress=False)
    with pytest.raises(InputError, match="has no object masks"):
        pipeline.run("splat", tmp_path / "renders", tmp_path / "out", {"steps": 1}, progress=False, masks="object")
