"""Secant surface search against analytic spheres, and the implicit-gradient backward
against finite differences and autograd through the unrolled search (float64), plus the
memory each keeps for backward."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from humanrecon.dvr import OCCUPANCY, SDF, closest_approach, find_surface, saved_tensor_bytes, surface_depth, unrolled_surface_depth
from humanrecon.errors import InputError


def _rays(n=64, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    origins = torch.tensor([0.0, 0.0, -3.0], dtype=dtype).expand(n, 3).clone()
    target = (torch.rand(n, 3, generator=gen, dtype=dtype) - 0.5) * torch.tensor([1.2, 1.2, 0.0], dtype=dtype)
    directions = target - origins
    return origins, directions / directions.norm(dim=-1, keepdim=True)


def _sphere_depth(origins, directions, radius):
    b = (origins * directions).sum(-1)
    disc = b * b - (origins.square().sum(-1) - radius ** 2)
    return -b - disc.clamp(min=0).sqrt(), disc > 0


def _sphere_field(surface, radius):
    """A sphere of ``radius`` about 0: its signed distance, or a sharp occupancy."""
    if surface is SDF:
        return lambda p: p.norm(dim=-1) - radius
    return lambda p: torch.sigmoid(20 * (radius - p.norm(dim=-1)))


@pytest.mark.parametrize("surface", [SDF, OCCUPANCY])
def test_sphere_depths_and_misses(surface):
    origins, directions = _rays(200)
    radius = 0.5
    field = _sphere_field(surface, radius)
    hits = find_surface(field, origins, directions, 1.0, 5.0, samples=64, surface=surface, chunk=50)
    true_depth, true_hit = _sphere_depth(origins, directions, radius)
    grazing = (true_depth - hits.depth).abs() > 1e-6
    assert torch.equal(hits.hit, true_hit) or (hits.hit != true_hit).sum() <= 2  # tangent rays may go either way
    both = hits.hit & true_hit & ~grazing
    assert both.sum() > 50
    torch.testing.assert_close(hits.depth[hits.hit & true_hit], true_depth[hits.hit & true_hit], atol=1e-6, rtol=0)
    assert (hits.depth[~hits.hit] == 5.0).all()


@pytest.mark.parametrize("surface", [SDF, OCCUPANCY])
def test_closest_approach_is_the_point_nearest_the_sphere_centre(surface):
    # oracle: along any ray, the point nearest a sphere's centre (t* = −o·w) is both the
    # closest approach of a ray that misses and the deepest point of one that crosses
    origins, directions = _rays(200, seed=3)
    radius = 0.5
    field = _sphere_field(surface, radius)
    true = -(origins * directions).sum(-1)
    gen = torch.Generator().manual_seed(0)
    depth = closest_approach(field, origins, directions, 1.0, 5.0, samples=64, refine=64, surface=surface,
                             generator=gen, chunk=30)
    # 64 strata of 6.25 cm, then 64 points across two strata: within 2 mm
    assert (depth - true).abs().max() < 2e-3
    # a ray whose nearest point lies beyond its range: the end of the range
    depth = closest_approach(field, origins[:3], directions[:3], 1.0, 2.0, surface=surface)
    assert torch.allclose(depth, torch.full_like(depth, 2.0), atol=1e-3)
    with pytest.raises(InputError, match="samples >= 1"):
        closest_approach(field, origins, directions, 1.0, 5.0, samples=0)


class TinyField(nn.Module):
    """A smooth random occupancy field around a sphere (float64)."""

    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.net = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1)).double()
        with torch.no_grad():
            self.net[2].weight.mul_(0.3)

    def forward(self, p):
        return torch.sigmoid(8 * (0.6 - p.norm(dim=-1)) + self.net(p)[:, 0])


def test_implicit_gradient_equals_unrolled_and_finite_differences():
    field = TinyField()
    origins, directions = _rays(32)
    origins.requires_grad_(True)
    hits = find_surface(field, origins.detach(), directions, 1.0, 5.0, samples=256, secant_steps=30)
    assert hits.hit.sum() > 10
    depth, _ = surface_depth(field, origins, directions, hits)
    params = [origins] + list(field.parameters())
    grads = torch.autograd.grad(depth.square().sum(), params)
    ref_depth, ref_hit = unrolled_surface_depth(field, origins, directions, 1.0, 5.0, samples=256, secant_steps=30)
    assert torch.equal(ref_hit, hits.hit)
    torch.testing.assert_close(depth, ref_depth[hits.hit], atol=1e-9, rtol=0)
    ref = torch.autograd.grad(ref_depth[hits.hit].square().sum(), params)
    for g, r in zip(grads, ref):
        torch.testing.assert_close(g, r, atol=1e-6, rtol=1e-5)
    # finite differences on one weight and one origin coordinate
    weight = field.net[0].weight
    eps = 1e-6

    def total():
        h = find_surface(field, origins.detach(), directions, 1.0, 5.0, samples=256, secant_steps=30)
        return h.depth[hits.hit].square().sum()

    for tensor, index, grad in ((weight, (3, 1), grads[1]), (origins, (5, 0), grads[0])):
        with torch.no_grad():
            tensor[index] += eps
            up = total()
            tensor[index] -= 2 * eps
            down = total()
            tensor[index] += eps
        assert abs((up - down) / (2 * eps) - grad[index]) < 1e-5 * max(1.0, abs(float(grad[index])))


def test_analytic_backward_keeps_far_less_memory_than_unrolled():
    field = TinyField()
    origins, directions = _rays(256)
    hits = find_surface(field, origins, directions, 1.0, 5.0)

    def analytic():
        return surface_depth(field, origins, directions, hits)[0].sum()

    def unrolled():
        depth, hit = unrolled_surface_depth(field, origins, directions, 1.0, 5.0)
        return depth[hit].sum()

    _, analytic_bytes = saved_tensor_bytes(analytic)
    _, unrolled_bytes = saved_tensor_bytes(unrolled)
    assert analytic_bytes * 20 < unrolled_bytes, (analytic_bytes, unrolled_bytes)


def test_bad_rays_and_settings():
    origins, directions = _rays(4)
    with pytest.raises(InputError, match=r"\(R, 3\)"):
        find_surface(lambda p: p[:, 0], origins[:, :2], directions, 1.0, 2.0)
    with pytest.raises(InputError, match="samples >= 2"):
        find_surface(lambda p: p[:, 0], origins, directions, 1.0, 2.0, samples=1)


def _sphere_and_plate(points):
    """Exact signed distance (1-Lipschitz) of a sphere (r = 0.4 about (0, 0.2, 0)) joined
    with a thin plate |y + 0.3| < 0.01, |x|, |z| < 0.5 (2 cm thick)."""
    sphere = (points - points.new_tensor([0.0, 0.2, 0.0])).norm(dim=-1) - 0.4
    q = (points - points.new_tensor([0.0, -0.3, 0.0])).abs() - points.new_tensor([0.5, 0.01, 0.5])
    plate = q.clamp(min=0).norm(dim=-1) + q.amax(-1).clamp(max=0)
    return torch.minimum(sphere, plate)


def test_coarse_march_finds_what_the_dense_march_finds():
    # oracle: the dense march on an exact distance; its 2 cm plate slips between the
    # coarse march's samples (25 cm apart) on most rays that cross it
    gen = torch.Generator().manual_seed(0)
    n = 3000
    origins = torch.tensor([0.3, 1.5, -3.0], dtype=torch.float64).expand(n, 3).clone()
    target = (torch.rand(n, 3, generator=gen, dtype=torch.float64) - 0.5) * 1.4
    directions = torch.nn.functional.normalize(target - origins, dim=-1)
    near, far = 1.5, 6.0
    dense = find_surface(_sphere_and_plate, origins, directions, near, far, samples=256, surface=SDF)
    sparse = find_surface(_sphere_and_plate, origins, directions, near, far, samples=19, surface=SDF)
    both = find_surface(_sphere_and_plate, origins, directions, near, far, samples=256, coarse=19, surface=SDF)
    assert (dense.hit & ~sparse.hit).sum() > 100  # the coarse march alone misses the plate there
    assert torch.equal(both.hit, dense.hit)
    torch.testing.assert_close(both.depth, dense.depth, atol=1e-6, rtol=0)
    # fewer field points than the dense march, even here where half the rays pass within a
    # coarse spacing of the plate and are marched again: count them
    calls = []

    def counted(points):
        calls.append(len(points))
        return _sphere_and_plate(points)

    find_surface(counted, origins, directions, near, far, samples=256, coarse=19, surface=SDF, secant_steps=0)
    assert sum(calls) < 0.75 * n * 256  # measured 0.61
    with pytest.raises(InputError, match="coarse"):
        find_surface(_sphere_and_plate, origins, directions, near, far, coarse=1, surface=SDF)
