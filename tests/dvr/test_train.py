"""DVR training end to end on a small analytic scene, its CLI, and bad input.

Oracle: a sphere of known radius rendered by the shared view maker (RGBA, alpha = mask);
after a short run the extracted surface must lie on that sphere and the held-out
silhouettes must match the true ones.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh

from humanrecon.cli import main
from humanrecon.datasets import make_views, read_views
from humanrecon.dvr import train as dvr_train
from humanrecon.dvr.config import DVRConfig
from humanrecon.dvr.evaluate import extract_dvr_mesh
from humanrecon.dvr.model import CHECKPOINT, DVRModel
from humanrecon.dvr.render import render_rays
from humanrecon.errors import InputError, TrainingDivergedError
from humanrecon.geometry.scene import dataset_bounds as split_bounds
from humanrecon.geometry.scene import visual_hull_alpha
from humanrecon.render.novel_views import evaluate_split

from ..resume_check import assert_resume_equals_uninterrupted

RADIUS, CENTRE = 0.5, np.array([0.05, -0.02, 0.03])
STEPS = 100
SMALL = {"hidden": 64, "layers": 4, "texture_hidden": 32, "texture_layers": 2, "frequencies": 4}


def _config(**changes) -> DVRConfig:
    settings = dict(steps=STEPS, rays=512, rays_start=256, samples=48, samples_start=32, lr=1e-3, hull_fraction=0.3,
                    checkpoint_every=0, progress=False, **SMALL)
    settings.update(changes)
    return DVRConfig(**settings)


@pytest.fixture(scope="module")
def sphere_views(tmp_path_factory):
    """24 training and 4 test views (32 x 32) of a coloured sphere of radius 0.5 m."""
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=RADIUS)
    vertices = np.asarray(sphere.vertices) + CENTRE
    colours = 0.5 + 0.4 * np.asarray(sphere.vertices) / RADIUS
    root = tmp_path_factory.mktemp("sphere_views")
    make_views(vertices, np.asarray(sphere.faces), colours, root, views=24, size=32, val=0, test=4, seed=1,
               supersample=2, progress=False)
    return root


@pytest.fixture(scope="module")
def trained(sphere_views, tmp_path_factory):
    out = tmp_path_factory.mktemp("dvr_run")
    torch.set_num_threads(2)
    model, history = dvr_train.train_dvr(read_views(sphere_views, "train"), out, _config())
    return model, history, out


def test_training_recovers_the_sphere(trained, sphere_views):
    model, history, out = trained
    assert history.steps == STEPS and (out / CHECKPOINT).is_file()
    vertices, _ = extract_dvr_mesh(model, 64, initial_resolution=16)
    distance = np.abs(np.linalg.norm(vertices - CENTRE, axis=1) - RADIUS)
    # one training pixel is ~2 cm at the sphere here
    assert distance.mean() < 0.008 and distance.max() < 0.03  # measured 5.2 mm / 2.0 cm
    test = read_views(sphere_views, "test")
    model.render_samples = 64
    metrics = evaluate_split(model, test, progress=False)
    assert metrics["mask_iou"] > 0.96  # measured 0.980
    # the texture has learned the sphere's colours: at the surface points of rays inside the
    # true masks, its error is well below that of the untrained texture
    origins, directions = (x.reshape(-1, 3) for x in test.cameras.rays())
    inside = test.alpha.reshape(-1) > 0.5
    rendered = render_rays(model, origins[inside], directions[inside], samples=64)
    hit = rendered["hit"]
    truth = test.images.reshape(-1, 3)[inside][hit]
    trained_error = (rendered["rgb"][hit] - truth).abs().mean()
    with torch.no_grad():
        points = (origins[inside] + rendered["depth"][:, None] * directions[inside])[hit]
        untrained = DVRModel(model.bounds, **SMALL).color(points)
    assert trained_error < 0.85 * (untrained - truth).abs().mean()


def test_resume_equals_an_uninterrupted_run(sphere_views, tmp_path):
    # 20 steps: 6 of the hull start, then DVR's losses (the switch lies in the second half)
    config = _config(steps=20, rays=128, rays_start=64, samples=16, samples_start=16, hull_points=512,
                     hull_fraction=0.6)
    assert_resume_equals_uninterrupted(dvr_train.train_dvr, read_views(sphere_views, "train"), config, CHECKPOINT,
                                       tmp_path, dataset=str(sphere_views))
    assert torch.load(tmp_path / "cut" / CHECKPOINT, weights_only=True)["dataset"] == str(sphere_views)


def test_visual_hull_alpha_of_the_sphere(sphere_views):
    split = read_views(sphere_views, "train")
    directions = torch.nn.functional.normalize(torch.randn(400, 3, generator=torch.Generator().manual_seed(0)), dim=-1)
    centre = torch.as_tensor(CENTRE, dtype=torch.float32)
    inner = visual_hull_alpha(split.cameras, split.alpha, centre + 0.9 * RADIUS * directions)
    outer = visual_hull_alpha(split.cameras, split.alpha, centre + 1.1 * RADIUS * directions)
    # 24 views of a sphere: its hull is within a few per cent of it
    assert (inner > 0.5).float().mean() == 1.0
    assert (outer > 0.5).float().mean() < 0.1


def test_certainly_outside_points_are_outside_the_sphere(sphere_views):
    split = read_views(sphere_views, "train")
    generator = torch.Generator().manual_seed(0)
    hull = dvr_train.HullTargets(split, split_bounds(split), torch.device("cpu"), generator)
    points = hull.certainly_outside(20000, generator)
    distance = (points - torch.as_tensor(CENTRE, dtype=torch.float32)).norm(dim=-1)
    # much of the box is empty for sure; nothing inside the sphere is called empty, and
    # the grown masks keep a margin of ~2 pixels (2 x 3.8 cm at the sphere, 32² views)
    assert len(points) > 5000 and distance.min() > RADIUS + 0.02
    # the search box holds the sphere
    assert (hull.box[0] < torch.as_tensor(CENTRE - RADIUS)).all() and (hull.box[1] > torch.as_tensor(CENTRE + RADIUS)).all()


def test_ray_pools_split_the_rays_at_the_mask_edges(sphere_views):
    split = read_views(sphere_views, "train")
    rays = dvr_train.RayBatch(split, split_bounds(split), torch.device("cpu"))
    pools = [rays.band, rays.inner, rays.outer]
    joined = torch.cat(pools)
    assert len(joined.unique()) == len(joined) == int(rays.in_box.sum())  # disjoint, all rays in the box
    assert rays.inside[rays.inner].all() and not rays.inside[rays.outer].any()
    # the band is every pixel within BAND_PIXELS (Chebyshev) of a pixel on the mask's other side
    masks = split.alpha > 0.5
    view, row, col = np.unravel_index(rays.band.numpy(), masks.shape)
    b = dvr_train.BAND_PIXELS
    for v, r, c in list(zip(view, row, col))[::50]:
        window = masks[v, max(r - b, 0):r + b + 1, max(c - b, 0):c + b + 1]
        assert window.any() and not window.all()
    draw = rays.draw(400, torch.Generator().manual_seed(0))
    assert len(draw) == 400 and torch.isin(draw, rays.band).sum() == 200


def _split_like(split, **changes):
    values = {"images": split.images, "alpha": split.alpha, "cameras": split.cameras, "names": split.names,
              "root": split.root, "split": split.split, "bounds": split.bounds}
    values.update(changes)
    return type(split)(**values)


def test_images_without_masks_are_refused(sphere_views, tmp_path):
    split = read_views(sphere_views, "train")
    with pytest.raises(InputError, match="no masks"):
        dvr_train.train_dvr(_split_like(split, alpha=torch.ones_like(split.alpha)), tmp_path, _config())
    assert not (tmp_path / CHECKPOINT).exists()


def test_empty_masks_are_refused(sphere_views, tmp_path):
    split = read_views(sphere_views, "train")
    with pytest.raises(InputError, match="empty"):
        dvr_train.train_dvr(_split_like(split, alpha=torch.zeros_like(split.alpha)), tmp_path, _config())


def test_cameras_that_miss_the_box_are_refused(sphere_views, tmp_path):
    split = read_views(sphere_views, "train")
    far_box = torch.tensor([[50.0, 50.0, 50.0], [51.0, 51.0, 51.0]])
    with pytest.raises(InputError, match="do not see the scene"):
        dvr_train.train_dvr(_split_like(split, bounds=far_box), tmp_path, _config())


def test_masks_without_a_common_hull_are_refused(sphere_views, tmp_path):
    split = read_views(sphere_views, "train")
    alpha = torch.zeros_like(split.alpha)
    alpha[:, :4, :4] = 1.0  # a corner of every image: no point of the box projects into all of them
    with pytest.raises(InputError, match="no visual hull"):
        dvr_train.train_dvr(_split_like(split, alpha=alpha), tmp_path, _config())


def test_a_diverging_run_stops_with_the_last_checkpoint(sphere_views, tmp_path, monkeypatch):
    real = dvr_train.dvr_losses

    def poisoned(*args, **kwargs):
        loss, parts = real(*args, **kwargs)
        return loss * math.nan, parts

    monkeypatch.setattr(dvr_train, "dvr_losses", poisoned)
    with pytest.raises(TrainingDivergedError, match=CHECKPOINT):
        dvr_train.train_dvr(read_views(sphere_views, "train"), tmp_path, _config(steps=12, hull_fraction=0.5,
                                                                                  checkpoint_every=3))
    model, saved = DVRModel.restore(tmp_path / CHECKPOINT)
    assert saved["step"] == 6 and all(torch.isfinite(p).all() for p in model.parameters())


def test_cli_train_render_mesh(sphere_views, tmp_path):
    out = tmp_path / "run"
    assert main(["dvr", "train", str(sphere_views), "--out", str(out), "--steps", "6", "--rays", "64",
                 "--samples", "16", "--no-eval", "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 6 and (out / CHECKPOINT).is_file()
    # refuses to overwrite the run without --overwrite
    assert main(["dvr", "train", str(sphere_views), "--out", str(out), "--steps", "6", "--quiet"]) == 2
    assert main(["dvr", "render", str(out), "--view", "1", "--out", str(tmp_path / "v"), "--quiet"]) == 0
    assert len(list((tmp_path / "v").glob("*.png"))) == 1


def test_hull_of_views_that_crop_the_object_keeps_all_of_it():
    # oracle: a sphere (r = 0.5 about 0) whose analytic masks overflow every frame (DTU's
    # buildings do): the hull targets must not call any of the sphere empty, and must
    # reach beyond the middle that every frame holds
    from humanrecon.datasets import sphere_cameras
    from humanrecon.datasets.split import ViewSplit

    cameras = sphere_cameras((0.0, 0.0, 0.0), 0.5, 16, 48, seed=0, margin=0.85)
    origins, directions = cameras.rays()
    closest = origins - (origins * directions).sum(-1, keepdim=True) * directions
    masks = (closest.norm(dim=-1) < 0.5).float()
    split = ViewSplit(images=torch.full((16, 48, 48, 3), 0.5), alpha=masks, cameras=cameras,
                      names=[f"{i}.png" for i in range(16)], root=Path("sphere"), split="train",
                      bounds=torch.tensor([[-1.0] * 3, [1.0] * 3]))
    generator = torch.Generator().manual_seed(0)
    hull = dvr_train.HullTargets(split, split.bounds, torch.device("cpu"), generator)
    assert hull.crops.all()
    outside = hull.certainly_outside(20000, generator)
    assert len(outside) > 200 and outside.norm(dim=-1).min() > 0.5  # narrow frames: 313 of 20000
    assert hull.seeds.norm(dim=-1).max() > 0.45 and (hull.box[0] <= -0.5).all() and (hull.box[1] >= 0.5).all()
    points, target = hull.sample(4000, generator)
    assert (target[points.norm(dim=-1) < 0.45] > 0.5).all()
