"""Single-shape training on an analytic sphere (IoU against the exact inside test),
checkpoints, and the divergence guard."""

from __future__ import annotations

import pytest
import torch

from humanrecon.implicit.train import (
    ImplicitShape,
    TrainConfig,
    build_shape,
    optimize,
    train_igr,
    train_occupancy,
    train_sdf,
)
from humanrecon.errors import TrainingDivergedError
from humanrecon.implicit.train import ShapeData, fit_shape
from tests import oracles
from tests.resume_check import assert_resume_equals_uninterrupted

RADIUS = 0.3
BOUNDS = [[-0.5] * 3, [0.5] * 3]
SMALL = {"bounds": BOUNDS, "hidden": 64, "layers": 4, "blocks": 2, "init_radius": 0.2}


sphere_sdf = oracles.on_torch(oracles.sphere_sdf, radius=RADIUS)


def sdf_sampler(n, generator):
    """Half uniform in the box, half within ~2 cm of the sphere (DeepSDF-style)."""
    p = (torch.rand(n, 3, generator=generator) * 2 - 1) * 0.5
    d = torch.nn.functional.normalize(torch.randn(n // 2, 3, generator=generator), dim=-1)
    p[: n // 2] = RADIUS * d + 0.02 * torch.randn(n // 2, 3, generator=generator)
    return p, sphere_sdf(p)


def occ_sampler(n, generator):
    p, s = sdf_sampler(n, generator)
    return p, (s < 0).float()


def iou_with_sphere(shape: ImplicitShape) -> float:
    g = torch.Generator().manual_seed(1)
    p = (torch.rand(100_000, 3, generator=g) * 2 - 1) * 0.5
    shape.eval()
    with torch.no_grad():
        v = shape(p)
    pred = v > 0 if shape.inside == "positive" else v < 0
    true = sphere_sdf(p) < 0
    return float((pred & true).sum() / (pred | true).sum())


QUICK = TrainConfig(steps=300, batch_points=4096, lr=1e-3, progress=False)


def test_occupancy_network_learns_sphere():
    shape = build_shape("occ", dict(SMALL, c_dim=8))
    train_occupancy(shape, occ_sampler, QUICK)
    assert iou_with_sphere(shape) >= 0.95


def test_deepsdf_learns_sphere():
    shape = build_shape("sdf", dict(SMALL, c_dim=8))
    history = train_sdf(shape, sdf_sampler, QUICK)
    assert iou_with_sphere(shape) >= 0.95
    assert history.losses[-1] < history.losses[0]


def test_igr_learns_sphere_from_points_only():
    g = torch.Generator().manual_seed(0)
    directions = torch.nn.functional.normalize(torch.randn(4000, 3, generator=g), dim=-1)
    shape = build_shape("igr", SMALL)
    train_igr(shape, RADIUS * directions, QUICK, normals=directions)
    assert iou_with_sphere(shape) >= 0.95
    # an SDF, not just a level set: distance at a known point
    with torch.no_grad():
        value = shape(torch.tensor([[0.0, 0.0, 0.45]]))
    assert abs(float(value) - 0.15) < 0.03


def test_checkpoint_round_trip(tmp_path):
    shape = build_shape("sdf", dict(SMALL, c_dim=4, frequencies=2))
    path = shape.save(tmp_path / "m.pt")
    loaded = ImplicitShape.load(path)
    p = torch.rand(10, 3) - 0.5
    with torch.no_grad():
        torch.testing.assert_close(loaded(p), shape.eval()(p))
    with pytest.raises(ValueError, match="not a humanrecon implicit-shape checkpoint"):
        (tmp_path / "bad.pt").write_bytes(b"garbage")
        ImplicitShape.load(tmp_path / "bad.pt")
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        ImplicitShape.load(tmp_path / "missing.pt")


def test_nan_stops_training_and_keeps_last_good_checkpoint(tmp_path):
    shape = build_shape("sdf", dict(SMALL, c_dim=0))
    ckpt = tmp_path / "ckpt.pt"
    config = TrainConfig(steps=100, batch_points=256, progress=False, checkpoint=ckpt, checkpoint_every=10)

    at_checkpoint = {}

    def loss_fn(step, generator):
        if step == 20:  # the weights the optimiser left after step 19, when the checkpoint was due
            at_checkpoint.update({k: v.detach().clone() for k, v in shape.state_dict().items()})
        p, s = sdf_sampler(256, generator)
        loss = (shape(p) - s).abs().mean()
        return loss * float("nan") if step == 25 else loss

    with pytest.raises(TrainingDivergedError, match=r"loss became nan at step 25; the last good checkpoint is .*ckpt\.pt"):
        optimize(shape, loss_fn, config)
    # the file holds exactly the weights after step 19 (checkpoint at 20 steps), not the
    # weights in memory after step 24 nor anything the NaN step touched
    restored = ImplicitShape.load(ckpt)
    assert restored.config["steps_trained"] == 20
    assert restored.state_dict().keys() == at_checkpoint.keys()
    for name, tensor in restored.state_dict().items():
        assert torch.equal(tensor, at_checkpoint[name]), name
    assert not all(torch.equal(tensor, shape.state_dict()[name]) for name, tensor in at_checkpoint.items())


def test_autodecoder_learns_codes_and_infers_a_new_shape():
    """Two spheres in one DeepSDF decoder; a third radius between them gets a code by
    optimisation and decodes to (roughly) that sphere."""
    from humanrecon.implicit.networks import ImplicitMLP
    from humanrecon.implicit.train import infer_code, train_autodecoder

    def sampler_for(radius):
        def sampler(n, generator):
            p = (torch.rand(n, 3, generator=generator) * 2 - 1) * 0.5
            d = torch.nn.functional.normalize(torch.randn(n // 2, 3, generator=generator), dim=-1)
            p[: n // 2] = radius * d + 0.03 * torch.randn(n // 2, 3, generator=generator)
            return p, oracles.on_torch(oracles.sphere_sdf, radius=radius)(p)
        return sampler

    torch.manual_seed(0)
    net = ImplicitMLP(c_dim=4, hidden=64, num_layers=4)
    codes, _ = train_autodecoder(net, [sampler_for(0.2), sampler_for(0.4)],
                                 TrainConfig(steps=400, batch_points=4096, lr=2e-3, progress=False))
    assert codes.shape == (2, 4)
    points, sdf = sampler_for(0.3)(4000, torch.Generator().manual_seed(5))
    code = infer_code(net, points, sdf, steps=300)
    probe = torch.tensor([[0.0, 0.0, 0.3], [0.0, 0.0, 0.2], [0.0, 0.0, 0.4]])
    with torch.no_grad():
        values = net(probe[None], code[None])[0]
    assert abs(float(values[0])) < 0.04  # on the inferred surface
    assert values[1] < 0 < values[2]


def test_learning_rate_schedule_by_steps_and_by_time():
    config = TrainConfig(steps=100, lr=1e-3, lr_final_fraction=0.1)

    def lr(cfg, step, elapsed):
        return cfg.learning_rate(cfg.budget.progress(step, elapsed))
    assert lr(config, 0, 0.0) == pytest.approx(1e-3)
    assert lr(config, 50, 0.0) == pytest.approx(0.55e-3)
    assert lr(config, 100, 0.0) == pytest.approx(1e-4)
    timed = TrainConfig(steps=10_000, lr=1e-3, lr_final_fraction=0.1, max_seconds=10.0)
    # a time budget that ends first still anneals to the minimum
    assert lr(timed, 10, 5.0) == pytest.approx(0.55e-3)
    assert lr(timed, 20, 10.0) == pytest.approx(1e-4)
    assert lr(timed, 20, 99.0) == pytest.approx(1e-4)


@pytest.mark.parametrize("kind", ["sdf", "igr"])
def test_resume_equals_an_uninterrupted_run(tmp_path, kind):
    """DeepSDF from a sampler and IGR from points with normals: 40 steps in one go equal 20,
    an interruption, and 20 resumed (weights, Adam's moments)."""
    if kind == "igr":
        directions = torch.nn.functional.normalize(torch.randn(500, 3, generator=torch.Generator().manual_seed(0)),
                                                   dim=-1)
        data = ShapeData("igr", SMALL, points=RADIUS * directions, normals=directions)
    else:
        data = ShapeData("sdf", dict(SMALL, c_dim=4), sampler=sdf_sampler)
    config = TrainConfig(steps=40, batch_points=256, progress=False)

    def train(split, out_dir, config, resume=False, hooks=()):
        return fit_shape(split, config, out_dir, resume=resume, hooks=hooks)
    assert_resume_equals_uninterrupted(train, data, config, "shape.pt", tmp_path)
