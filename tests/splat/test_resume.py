"""A resumed splat run is the uninterrupted run: Gaussians added and removed by density
control, Adam's moments, the density statistics and the random state all carry over."""

from __future__ import annotations

import pytest

from humanrecon.datasets import make_views, read_blender
from humanrecon.datasets.synthetic import default_body
from humanrecon.splat.config import CHECKPOINT, SplatConfig
from humanrecon.splat.strategy_config import DensityConfig
from humanrecon.splat.train import train_splats

from ..resume_check import assert_resume_equals_uninterrupted


@pytest.fixture(scope="module")
def views(tmp_path_factory):
    root = tmp_path_factory.mktemp("views")
    make_views(*default_body(), root, views=6, size=24, val=0, test=1, seed=0, progress=False)
    return root


@pytest.mark.parametrize("backend", ["torch", "cpu"])
def test_resume_equals_an_uninterrupted_run(views, tmp_path, backend):
    # refinement at steps 6, 12, 18 and an opacity reset at 15: both halves densify
    density = DensityConfig(refine_start=5, refine_every=6, reset_every=15, grow_grad2d=1e-6)
    config = SplatConfig(steps=20, init_points=300, init="random", views_per_step=2, backend=backend, progress=False,
                         density=density, sh_degree=1, sh_increase_every=8)
    assert_resume_equals_uninterrupted(train_splats, read_blender(views, "train"), config, CHECKPOINT, tmp_path)
