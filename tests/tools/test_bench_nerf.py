"""tools/bench_nerf.py and what it reports: foreground PSNR of ``evaluate_split`` against
a hand computation, the density-mesh comparison on an analytic density, the run plan."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import trimesh

from humanrecon.nerf.evaluate import FOREGROUND_OPACITY, density_level, evaluate_split

TOOL = Path(__file__).resolve().parents[2] / "tools" / "bench_nerf.py"


def _load_tool():
    spec = importlib.util.spec_from_file_location("bench_nerf_tool", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = _load_tool()
S = 16  # image side (SSIM needs at least 11 pixels)


class _Split:
    """The parts of a BlenderSplit that evaluate_split reads; camera i is just i."""

    def __init__(self, images, alpha):
        self.images, self.alpha = images, alpha
        self.cameras = list(range(len(images)))
        self.names = [f"view_{i}.png" for i in range(len(images))]

    def composite(self, background):
        a = self.alpha.unsqueeze(-1)
        return self.images * a + background * (1 - a)


class _Renders:
    """A 'model' whose render of camera i is given."""

    def __init__(self, rgb, opacity):
        self.rgb, self.opacity = rgb, opacity

    def render_image(self, camera, background):
        return {"rgb": self.rgb[camera], "opacity": self.opacity[camera]}


def test_foreground_psnr_hand_computed():
    # view 0: a 4x4 grey body (0.2) on white. The rendering has the body at 0.3 (error 0.1),
    # a 2x2 floater of opacity 0.5 showing 0.5 over white (error 0.5), and a faint 2x2
    # haze of opacity 0.05 (error 0.02, below the 0.1 opacity threshold: background).
    # view 1: empty in both: no foreground, left out of the foreground mean.
    images = torch.zeros(2, S, S, 3)
    alpha = torch.zeros(2, S, S)
    images[0, 4:8, 4:8] = 0.2
    alpha[0, 4:8, 4:8] = 1.0
    rgb = torch.ones(2, S, S, 3)
    opacity = torch.zeros(2, S, S)
    rgb[0, 4:8, 4:8], opacity[0, 4:8, 4:8] = 0.3, 1.0
    rgb[0, 12:14, 12:14], opacity[0, 12:14, 12:14] = 0.5, 0.5
    rgb[0, 0:2, 0:2], opacity[0, 0:2, 0:2] = 0.98, 0.05
    assert FOREGROUND_OPACITY == 0.1
    m = evaluate_split(_Renders(rgb, opacity), _Split(images, alpha), progress=False)
    fg_mse = (16 * 0.1**2 + 4 * 0.5**2) / 20
    whole_mse = (16 * 0.1**2 + 4 * 0.5**2 + 4 * 0.02**2) / S**2
    assert m["psnr_foreground"] == pytest.approx(10 * math.log10(1 / fg_mse), abs=1e-4)
    assert m["per_image"]["psnr_foreground"][1] is None
    assert m["per_image"]["psnr"][0] == pytest.approx(10 * math.log10(1 / whole_mse), abs=1e-4)
    assert m["per_image"]["psnr"][1] == math.inf  # identical empty views
    assert m["foreground_fraction"] == pytest.approx((20 / S**2 + 0) / 2)
    assert m["psnr_foreground"] < m["per_image"]["psnr"][0] - 10  # the whole image flatters it
    # a stricter threshold leaves the floater out
    strict = evaluate_split(_Renders(rgb, opacity), _Split(images, alpha), progress=False, foreground_opacity=0.6)
    assert strict["psnr_foreground"] == pytest.approx(10 * math.log10(1 / 0.01), abs=1e-4)


class _SphereDensity:
    """A density that crosses the default meshing level on a sphere of radius 0.5 m,
    linearly in the radius (so marching cubes places the surface exactly)."""

    bounds = torch.tensor([[-0.6, -0.6, -0.6], [0.6, 0.6, 0.6]])

    def __init__(self):
        level = density_level(self)
        self.field = SimpleNamespace(density=lambda p: (level + 200 * (0.5 - p.norm(dim=-1))).clamp_min(0))


def test_density_mesh_metrics_on_an_analytic_sphere():
    truth = trimesh.creation.icosphere(subdivisions=5, radius=0.5)
    m = tool.density_mesh_metrics(_SphereDensity(), (truth.vertices, truth.faces), resolution=64)
    assert m["completeness_mm"] < 1 and m["accuracy_mm"] < 1 and m["iou"] > 0.99, m
    assert m["normal_consistency"] > 0.99 and m["f_score_1cm"] == 1.0
    empty = SimpleNamespace(bounds=_SphereDensity.bounds, field=SimpleNamespace(density=lambda p: 0 * p[:, 0]))
    assert "no surface" in tool.density_mesh_metrics(empty, (truth.vertices, truth.faces), resolution=64)["error"]


def test_run_plan_keeps_the_default_budgets():
    assert tool.plan_runs(None, "") == [("budget", 300.0), ("budget", 900.0)]
    assert tool.plan_runs(None, "1000,3000") == [("steps", 1000), ("steps", 3000)]
    assert tool.plan_runs("120", "500") == [("budget", 120.0), ("steps", 500)]
    assert tool.plan_runs("", "") == []
