"""The splat settings: each config owns its density settings, and bad values are one
clear InputError naming the field."""

from __future__ import annotations

import pytest

from humanrecon.errors import InputError
from humanrecon.splat.config import SHORT_RUN_DENSITY, SplatConfig
from humanrecon.splat.strategy_config import DensityConfig


def test_each_config_gets_its_own_density_settings():
    first = SplatConfig()
    first.density.grow_grad2d = 1.0
    first.density.refine_every = 7
    second = SplatConfig()
    assert second.density is not first.density
    assert second.density == DensityConfig(refine_start=100, refine_every=50, grow_grad2d=6e-5)
    assert SHORT_RUN_DENSITY.grow_grad2d == 6e-5 and SHORT_RUN_DENSITY.refine_every == 50
    mine = DensityConfig(refine_every=3)
    assert SplatConfig(density=mine).density is mine  # a given one is used as given


@pytest.mark.parametrize("changes, field", [
    (dict(steps=0), "steps"),
    (dict(steps=2.5), "steps"),
    (dict(max_seconds=0), "time budget"),
    (dict(init=""), "init"),
    (dict(init_points=0), "init_points"),
    (dict(sh_degree=4), "sh_degree"),
    (dict(sh_degree=-1), "sh_degree"),
    (dict(sh_increase_every=0), "sh_increase_every"),
    (dict(lr_means=0.0), "lr_means"),
    (dict(lr_means_final_fraction=-1e-6), "lr_means_final_fraction"),
    (dict(lr_means_final_fraction=2.0), "lr_means_final_fraction"),
    (dict(lr_opacities=float("nan")), "lr_opacities"),
    (dict(lr_shN=float("inf")), "lr_shN"),
    (dict(views_per_step=0), "views_per_step"),
    (dict(views_per_step=True), "views_per_step"),
    (dict(ssim_weight=1.5), "ssim_weight"),
    (dict(ssim_weight=-0.1), "ssim_weight"),
    (dict(backend="metal"), "backend"),
    (dict(checkpoint_every=-1), "checkpoint_every"),
    (dict(density={"refine_every": 10}), "density"),
])
def test_bad_splat_config_raises_naming_the_field(changes, field):
    with pytest.raises(InputError, match=field):
        SplatConfig(**changes)


@pytest.mark.parametrize("changes, field", [
    (dict(refine_start=-1), "refine_start"),
    (dict(refine_every=0), "refine_every"),
    (dict(reset_every=0), "reset_every"),
    (dict(grow_grad2d=0.0), "grow_grad2d"),
    (dict(grow_scale3d=-0.01), "grow_scale3d"),
    (dict(prune_opacity=0.0), "prune_opacity"),
    (dict(prune_opacity=0.5), "prune_opacity"),  # the reset caps opacities at twice it
    (dict(prune_scale3d=float("nan")), "prune_scale3d"),
    (dict(max_gaussians=0), "max_gaussians"),
])
def test_bad_density_config_raises_naming_the_field(changes, field):
    with pytest.raises(InputError, match=field):
        DensityConfig(**changes)


def test_edge_values_are_accepted():
    SplatConfig(steps=1, sh_degree=0, ssim_weight=0, views_per_step=1, checkpoint_every=0, backend="torch")
    SplatConfig(sh_degree=3, ssim_weight=1.0, max_seconds=0.5, init="some/cloud.ply")
    DensityConfig(refine_start=0, refine_stop=0, prune_opacity=0.49)
