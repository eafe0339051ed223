"""Adaptive density control: which Gaussians are cloned, split and pruned, and that the
optimiser state follows the rows."""

from __future__ import annotations

import math

import torch
from torch import nn

from humanrecon.splat.strategy import DensityConfig, DensityControl, edit_rows


def _scene():
    params = nn.ParameterDict({
        "means": nn.Parameter(torch.tensor([[0.0, 0, 0], [1.0, 0, 0], [2.0, 0, 0], [3.0, 0, 0]])),
        "quats": nn.Parameter(torch.tensor([[1.0, 0, 0, 0]]).repeat(4, 1)),
        "log_scales": nn.Parameter(torch.log(torch.tensor([[0.005] * 3, [0.5, 0.1, 0.1], [0.005] * 3, [0.005] * 3]))),
        "logit_opacities": nn.Parameter(torch.logit(torch.tensor([0.9, 0.9, 0.001, 0.9]))),
        "sh0": nn.Parameter(torch.rand(4, 1, 3)),
    })
    optimizer = torch.optim.Adam([{"params": [p], "name": k} for k, p in params.items()], lr=0.01)
    sum(p.sum() for p in params.values()).backward()
    optimizer.step()  # Adam state exists for 4 rows
    return params, optimizer


def _meta(grad_rows):
    means2d = torch.zeros(1, 4, 2, requires_grad=True)
    means2d.grad = torch.zeros(1, 4, 2)
    means2d.grad[0, grad_rows, 0] = 0.01  # pixels; x width/2 = 1.0 NDC
    return {"means2d": means2d, "radii": torch.ones(1, 4, dtype=torch.int32), "width": 200, "height": 200}


def test_clone_small_split_large_prune_transparent():
    params, optimizer = _scene()
    control = DensityControl(params, optimizer, scene_scale=1.0, config=DensityConfig(refine_start=0, refine_every=1))
    control.after_step(0, _meta([0, 1]))  # accumulate only
    counts = control.refine(1)
    assert counts == {"step": 1, "before": 4, "cloned": 1, "split": 1, "pruned": 1, "after": 5}
    means = params["means"].detach()
    # kept: 0 and 3, the clone of 0, the two halves of 1 (near x = 1, scales / 1.6)
    # (one Adam step of lr 0.01 moved everything by 0.01)
    assert torch.allclose(means[:2], torch.tensor([[0.0, 0, 0], [3.0, 0, 0]]), atol=0.02)
    assert torch.equal(means[2], means[0])
    assert ((means[3:, 0] - 1.0).abs() < 3 * 0.5).all()
    torch.testing.assert_close(params["log_scales"].detach()[3:].exp(), torch.tensor([[0.5, 0.1, 0.1]]).repeat(2, 1) / 1.6,
                               rtol=0.02, atol=0)
    for group in optimizer.param_groups:  # state follows the rows; new rows start at zero
        param = group["params"][0]
        assert param is params[group["name"]]
        state = optimizer.state[param]
        assert state["exp_avg"].shape == param.shape
        assert (state["exp_avg"][:2] != 0).any() and (state["exp_avg"][2:] == 0).all()


def test_edit_rows_keeps_and_appends():
    params, optimizer = _scene()
    before = optimizer.state[params["means"]]["exp_avg"].clone()
    edit_rows(params, optimizer, keep=torch.tensor([3, 1]), append={k: v.detach()[:1] for k, v in params.items()})
    assert params["means"].shape == (3, 3)
    torch.testing.assert_close(optimizer.state[params["means"]]["exp_avg"][:2], before[[3, 1]])


def test_opacity_reset_caps_opacities():
    params, optimizer = _scene()
    DensityControl(params, optimizer, 1.0).reset_opacities()
    assert torch.sigmoid(params["logit_opacities"]).max() <= 0.01 + 1e-6
    assert math.isclose(float(torch.sigmoid(params["logit_opacities"].detach()[2])), 0.001, rel_tol=0.05)
