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


def test_opacity_reset_zeroes_the_optimizer_state_of_the_opacities():
    params, optimizer = _scene()
    opacity_state = optimizer.state[params["logit_opacities"]]
    assert (opacity_state["exp_avg"] != 0).all() and (opacity_state["exp_avg_sq"] != 0).all()
    means_before = optimizer.state[params["means"]]["exp_avg"].clone()
    DensityControl(params, optimizer, 1.0).reset_opacities()
    state = optimizer.state[params["logit_opacities"]]  # as gsplat's reset_opa: moments zeroed
    assert torch.equal(state["exp_avg"], torch.zeros(4)) and torch.equal(state["exp_avg_sq"], torch.zeros(4))
    assert float(state["step"]) == 1  # the step count stays
    assert torch.sigmoid(params["logit_opacities"]).max() <= 0.01 + 1e-6  # the clamp still holds
    torch.testing.assert_close(optimizer.state[params["means"]]["exp_avg"], means_before)  # the others untouched
    # the next step (Adam's 2nd) moves the opacities by the fresh gradient g only:
    # m = (1 - b1) g, v = (1 - b2) g², update = lr · m / (1 - b1²) / sqrt(v / (1 - b2²))
    before = params["logit_opacities"].detach().clone()
    params["logit_opacities"].grad = torch.ones(4)
    optimizer.step()
    b1, b2 = 0.9, 0.999
    update = 0.01 * (1 - b1) / (1 - b1**2) / math.sqrt((1 - b2) / (1 - b2**2))
    torch.testing.assert_close(before - params["logit_opacities"].detach(), torch.full((4,), update),
                               rtol=1e-4, atol=0)


def _one_gaussian_stat(n_cameras: int) -> tuple[float, float]:
    """Render one Gaussian into ``n_cameras`` copies of one camera (one step, the loss
    averaged over the images, as the trainer's), accumulate, return ``(grad2d, count)``."""
    from humanrecon.geometry import Camera
    from humanrecon.splat.rendering import rasterize

    params = nn.ParameterDict({
        "means": nn.Parameter(torch.tensor([[0.05, -0.03, 0.0]], dtype=torch.float64)),
        "quats": nn.Parameter(torch.tensor([[1.0, 0.1, 0.2, 0.0]], dtype=torch.float64)),
        "log_scales": nn.Parameter(torch.log(torch.tensor([[0.2, 0.1, 0.15]], dtype=torch.float64))),
        "logit_opacities": nn.Parameter(torch.logit(torch.tensor([0.8], dtype=torch.float64))),
        "sh0": nn.Parameter(torch.tensor([[[0.9, 0.2, 0.4]]], dtype=torch.float64)),
    })
    optimizer = torch.optim.Adam([{"params": [p], "name": k} for k, p in params.items()], lr=0.01)
    camera = Camera.look_at(torch.tensor([[0.0, 0.0, 2.0]], dtype=torch.float64).repeat(n_cameras, 1),
                            torch.zeros(n_cameras, 3, dtype=torch.float64), width=24, height=16, fov_x_rad=1.0)
    viewmats, Ks = camera.viewmats_and_Ks()
    p = params
    colors, _, meta = rasterize(p["means"], p["quats"], p["log_scales"].exp(), torch.sigmoid(p["logit_opacities"]),
                                p["sh0"][:, 0], viewmats, Ks, 24, 16, backend="torch")
    meta["means2d"].retain_grad()
    target = torch.linspace(0, 1, 24 * 16 * 3, dtype=torch.float64).reshape(1, 16, 24, 3)
    (colors - target).abs().mean().backward()
    control = DensityControl(params, optimizer, 1.0, DensityConfig(refine_start=10, refine_every=10))
    control.after_step(0, meta)
    return float(control.grad2d[0]), float(control.count[0]), meta["means2d"].grad[0, 0]


def test_screen_space_gradient_is_normalised_by_the_camera_count():
    grad2d_1, count_1, pixel_grad = _one_gaussian_stat(1)
    assert count_1 == 1 and pixel_grad.abs().sum() > 0
    # by hand (gsplat's DefaultStrategy): |(gx · W/2 · C, gy · H/2 · C)| with C = 1
    expected = float(torch.hypot(pixel_grad[0] * 24 / 2, pixel_grad[1] * 16 / 2))
    assert math.isclose(grad2d_1, expected, rel_tol=1e-6)  # accumulated in float32, as gsplat
    # the same camera twice in one step: each image has half the weight in the averaged
    # loss, each camera counts once, the average is the same
    grad2d_2, count_2, half_grad = _one_gaussian_stat(2)
    torch.testing.assert_close(half_grad, pixel_grad / 2)
    assert count_2 == 2 and math.isclose(grad2d_2 / count_2, grad2d_1 / count_1, rel_tol=1e-6)


def test_gradient_normalisation_by_hand_with_two_cameras():
    params, optimizer = _scene()
    control = DensityControl(params, optimizer, scene_scale=1.0)
    means2d = torch.zeros(2, 4, 2, requires_grad=True)
    means2d.grad = torch.zeros(2, 4, 2)
    means2d.grad[:, 0] = torch.tensor([[0.003, 0.004], [0.006, 0.008]])  # pixels
    radii = torch.tensor([[1, 1, 0, 1], [1, 0, 0, 1]], dtype=torch.int32)  # row 1 seen by camera 0 only
    means2d.grad[1, 1] = 1.0  # not seen there: ignored
    control.after_step(1, {"means2d": means2d, "radii": radii, "width": 200, "height": 100, "n_cameras": 2})
    # row 0: |(0.003·100·2, 0.004·50·2)| + |(0.006·100·2, 0.008·50·2)| = |(0.6, 0.4)| + |(1.2, 0.8)|
    torch.testing.assert_close(control.grad2d, torch.tensor([3 * math.hypot(0.6, 0.4), 0.0, 0.0, 0.0]))
    torch.testing.assert_close(control.count, torch.tensor([2.0, 1.0, 0.0, 2.0]))
