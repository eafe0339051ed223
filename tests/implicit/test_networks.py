"""Network building blocks: shapes, invariances, initialisation, gradients."""

from __future__ import annotations

import math

import pytest
import torch

from humanrecon.implicit import (
    FourierFeatures,
    OccupancyNetwork,
    PointNetEncoder,
    deepsdf_decoder,
    eikonal_loss,
    gradient,
    igr_network,
)
from tests import oracles


def test_fourier_features_values():
    enc = FourierFeatures(num_frequencies=2, scale=1.0)
    x = torch.tensor([[0.25, 0.0, -0.5]])
    out = enc(x)
    assert out.shape == (1, 3 + 12) and enc.out_dim == 15
    torch.testing.assert_close(out[0, :3], x[0])
    # sin(2^k pi x) for k = 0, 1 of the first coordinate
    sines = out[0, 3:].reshape(3, 4)[0, :2]
    torch.testing.assert_close(sines, torch.tensor([math.sin(math.pi * 0.25), math.sin(2 * math.pi * 0.25)]))


def test_pointnet_is_permutation_invariant():
    torch.manual_seed(0)
    enc = PointNetEncoder(c_dim=16, hidden=32)
    pts = torch.randn(2, 50, 3)
    perm = torch.randperm(50)
    torch.testing.assert_close(enc(pts), enc(pts[:, perm]))


def test_occupancy_network_conditioning_changes_output():
    torch.manual_seed(0)
    net = OccupancyNetwork(c_dim=8, hidden=32, num_blocks=2)
    for p in net.parameters():  # leave the zero/identity init so the code matters
        torch.nn.init.normal_(p, std=0.3)
    net.eval()
    pts = torch.randn(1, 20, 3)
    a, b = net(pts, torch.zeros(1, 8)), net(pts, torch.ones(1, 8))
    assert a.shape == (1, 20) and not torch.allclose(a, b)


def test_geometric_init_starts_near_a_sphere_sdf():
    torch.manual_seed(0)
    net = igr_network(hidden=256, num_layers=6, init_radius=0.4)
    x = torch.randn(1, 2000, 3) * 0.5
    with torch.no_grad():
        y = net(x)[0]
    truth = torch.from_numpy(oracles.sphere_sdf(x[0].numpy(), 0.4))
    assert torch.corrcoef(torch.stack([y, truth]))[0, 1] > 0.9
    assert ((y < 0) == (truth < 0)).float().mean() > 0.85


def test_deepsdf_decoder_needs_a_code():
    net = deepsdf_decoder(c_dim=4, hidden=16, num_layers=4)
    assert net(torch.zeros(1, 5, 3), torch.zeros(1, 4)).shape == (1, 5)
    with pytest.raises(ValueError, match="needs a code"):
        net(torch.zeros(1, 5, 3))


def test_gradient_and_eikonal_on_an_exact_sdf():
    x = torch.randn(1, 100, 3, dtype=torch.float64, requires_grad=True)
    values = x.norm(dim=-1) - 0.3
    grad = gradient(values, x)
    torch.testing.assert_close(grad, (x / x.norm(dim=-1, keepdim=True)).detach())
    assert eikonal_loss(grad).item() < 1e-20
    # and the second-order graph exists (IGR differentiates the eikonal term)
    assert torch.autograd.gradcheck(lambda p: eikonal_loss(gradient(p.norm(dim=-1) * 1.3, p)), (x,))
