"""Volume rendering: ray–box slabs, marching, compositing against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from humanrecon.nerf.volume import (
    PackedSamples,
    composite,
    exclusive_segment_cumsum,
    march_rays,
    ray_aabb,
)

BOX = torch.tensor([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]])


def test_composite_matches_hand_computation():
    # ray 0: two samples; ray 1: none; ray 2: one empty sample
    samples = PackedSamples(torch.tensor([0, 0, 2]), torch.tensor([1.0, 1.5, 0.0]),
                            torch.tensor([1.5, 2.0, 1.0]), n_rays=3)
    sigmas = torch.tensor([1.0, 2.0, 0.0])
    colors = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    out = composite(sigmas, colors, samples, background=torch.tensor([0.0, 0.0, 0.5]))
    w0 = 1 - math.exp(-0.5)
    w1 = math.exp(-0.5) * (1 - math.exp(-1.0))
    assert out.weights.tolist() == pytest.approx([w0, w1, 0.0], abs=1e-6)
    assert out.opacity.tolist() == pytest.approx([1 - math.exp(-1.5), 0.0, 0.0], abs=1e-6)
    rest = math.exp(-1.5)
    assert out.rgb[0].tolist() == pytest.approx([w0, w1, 0.5 * rest], abs=1e-6)
    assert out.rgb[1].tolist() == pytest.approx([0.0, 0.0, 0.5])
    assert out.rgb[2].tolist() == pytest.approx([0.0, 0.0, 0.5])
    assert out.depth[0].item() == pytest.approx(w0 * 1.25 + w1 * 1.75, abs=1e-6)


def test_exclusive_segment_cumsum_and_its_gradient():
    values = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=torch.float64, requires_grad=True)
    rays = torch.tensor([0, 0, 3, 3, 3])
    assert exclusive_segment_cumsum(values, rays).tolist() == [0.0, 1.0, 0.0, 3.0, 7.0]
    assert torch.autograd.gradcheck(lambda v: exclusive_segment_cumsum(v, rays), (values,))


def test_float32_cumsum_keeps_precision_over_many_rays():
    n = 200_000
    values = torch.full((2 * n,), 100.0)
    rays = torch.arange(n).repeat_interleave(2)
    values[1::2] = 1e-3
    out = exclusive_segment_cumsum(values, rays)
    assert torch.equal(out[1::2], torch.full((n,), 100.0))  # no drift from 1e7 running sums


def test_ray_aabb():
    origins = torch.tensor([[0.0, 0.0, -3.0], [0.0, 0.0, 0.0], [0.0, 5.0, -3.0], [2.0, 0.0, 0.0]])
    dirs = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    t_near, t_far, hit = ray_aabb(origins, dirs, BOX)
    assert hit.tolist() == [True, True, False, False]
    assert t_near[:2].tolist() == [2.0, 0.0] and t_far[:2].tolist() == [4.0, 1.0]


def test_march_rays_uniform_and_culled():
    origins = torch.tensor([[0.0, 0.0, -3.0], [0.0, 5.0, -3.0]])
    dirs = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    s = march_rays(origins, dirs, BOX, step=0.25)
    assert s.ray_indices.tolist() == [0] * 8
    assert s.t_starts.tolist() == pytest.approx([2.0 + 0.25 * k for k in range(8)])
    culled = march_rays(origins, dirs, BOX, step=0.25, occupied=lambda p: p[:, 2] > 0)
    assert culled.t_starts.tolist() == pytest.approx([3.0, 3.25, 3.5, 3.75])
    jittered = march_rays(origins, dirs, BOX, step=0.25, jitter=True, generator=torch.Generator().manual_seed(0))
    assert 2.0 <= jittered.t_starts[0].item() < 2.25 and len(jittered) in (7, 8)
    empty = march_rays(origins[1:], dirs[1:], BOX, step=0.25)
    assert len(empty) == 0 and composite(torch.zeros(0), torch.zeros(0, 3), empty).rgb.tolist() == [[1.0] * 3]


def test_composite_converges_to_analytic_slab():
    """A homogeneous slab of density σ and thickness L seen through: opacity 1 − e^{−σL}."""
    origins = torch.tensor([[0.0, 0.0, -3.0]])
    dirs = torch.tensor([[0.0, 0.0, 1.0]])
    s = march_rays(origins, dirs, BOX, step=0.01)
    pts = s.points(origins, dirs)
    sigma = torch.where(pts[:, 2].abs() < 0.5, 3.0, 0.0)
    out = composite(sigma, torch.ones(len(s), 3), s, background=0.0)
    assert out.opacity.item() == pytest.approx(1 - math.exp(-3.0), abs=1e-3)
    # expected depth: ∫ t σ T(t) dt over the slab entered at t = 2.5
    expected = 2.5 + (1 - math.exp(-3.0) * 4.0) / 3.0 / (1 - math.exp(-3.0))
    assert (out.depth / out.opacity).item() == pytest.approx(expected, abs=5e-3)
