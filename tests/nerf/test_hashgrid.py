"""HashGridEncoding against independent oracles: a per-point loop reference in numpy, the
hash on hand-computed values, gradcheck, the paper's resolution schedule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from humanrecon.nerf.hashgrid import HashGridEncoding, dense_index, grid_resolutions, spatial_hash
from tests import oracles

P1, P2 = 2654435761, 805459861


# --------------------------------------------------------------------------- numpy oracle
def reference_encoding(enc: HashGridEncoding, x: np.ndarray) -> np.ndarray:
    """The per-point loop of :func:`tests.oracles.hash_grid_encoding` on ``enc``'s table and
    settings (not its derived resolutions or offsets)."""
    return oracles.hash_grid_encoding(enc.table.detach().cpu().numpy(), x, enc.bounds.cpu().numpy(), enc.levels,
                                      enc.base_resolution, enc.finest_resolution, enc.log2_table_size)


def small_grid(**kw) -> HashGridEncoding:
    args = dict(levels=6, features_per_level=2, log2_table_size=12, base_resolution=4, finest_resolution=96)
    args.update(kw)
    return HashGridEncoding(**args)


@pytest.mark.parametrize("features", [2, 3, 4])
def test_matches_loop_reference_in_double(features):
    torch.manual_seed(0)
    enc = small_grid(features_per_level=features, bounds=[[-1.0, 0.0, 0.5], [1.0, 2.0, 1.5]]).double()
    assert 0 < enc.num_dense_levels < enc.levels  # both indexing rules are exercised
    with torch.no_grad():
        enc.table.uniform_(-1, 1)
    rng = np.random.default_rng(1)
    x = rng.uniform([-1.2, -0.1, 0.4], [1.2, 2.1, 1.6], size=(60, 3))  # some outside the box
    x[:3] = [[-1, 0, 0.5], [1, 2, 1.5], [0, 1, 1]]  # box corners and centre
    got = enc(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(got, reference_encoding(enc, x), atol=1e-6, rtol=0)


def test_matches_loop_reference_default_config_float32():
    torch.manual_seed(0)
    enc = HashGridEncoding()
    with torch.no_grad():
        enc.table.uniform_(-1, 1)
    x = np.random.default_rng(2).uniform(0, 1, size=(20, 3))
    got = enc(torch.from_numpy(x).float()).detach().double().numpy()
    # float32 vertex coordinates at resolution 2048 are good to ~1e-4 cell.
    np.testing.assert_allclose(got, reference_encoding(enc, x), atol=2e-3, rtol=0)


# --------------------------------------------------------------------------- hash and indexing
def test_spatial_hash_hand_computed_values():
    T = 2 ** 19
    coords = torch.tensor([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1], [3, 5, 7],
                           [2 ** 31, 2 ** 31 - 1, 2 ** 32 + 5], [-1, -2, -3], [2 ** 40, 3, 2 ** 35]])
    # Hand-computed: 2654435761 - 5062·2^19 = 489905, 805459861 - 1536·2^19 = 153493.
    expected = [0, 1, 489905, 153493, 1 ^ 489905 ^ 153493]
    got = spatial_hash(coords, T).tolist()
    assert got[:5] == expected
    for (x, y, z), h in zip(coords.tolist(), got):
        assert h == ((x * 1) ^ (y * P1) ^ (z * P2)) % T  # arbitrary precision: catches int64 overflow
        assert h == (((x * 1) ^ (y * P1) ^ (z * P2)) % 2 ** 32) % T  # tiny-cuda-nn's uint32 arithmetic
    assert got[5] == (3 ^ 5 * P1 ^ 7 * P2) % T
    with pytest.raises(ValueError):
        spatial_hash(coords, 1000)


def test_dense_levels_are_collision_free():
    enc = HashGridEncoding(levels=8, log2_table_size=14, base_resolution=4, finest_resolution=64)
    assert enc.num_dense_levels >= 2
    for level in range(enc.num_dense_levels):
        r = enc.resolutions[level]
        g = torch.arange(r + 1)
        verts = torch.stack(torch.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
        rows = dense_index(verts, r)
        assert enc.table_sizes[level] == (r + 1) ** 3
        assert rows.unique().numel() == (r + 1) ** 3 and rows.min() == 0 and rows.max() == (r + 1) ** 3 - 1
    # Level row ranges tile the table without overlap.
    ranges = sorted((int(o), int(o) + s) for o, s in zip(enc.offsets, enc.table_sizes))
    assert ranges[0][0] == 0 and ranges[-1][1] == enc.table.shape[0]
    assert all(a[1] == b[0] for a, b in zip(ranges[:-1], ranges[1:]))


def test_level_resolutions_follow_growth_factor():
    for levels, base, finest in [(16, 16, 2048), (8, 16, 512), (12, 10, 1000), (1, 16, 16)]:
        res = grid_resolutions(levels, base, finest)
        assert len(res) == levels and res[0] == base and res[-1] == finest
        if levels > 1:
            b = math.exp((math.log(finest) - math.log(base)) / (levels - 1))
            assert res == [int(np.floor(base * b ** l + 1e-6)) for l in range(levels)]
    enc = HashGridEncoding()
    assert enc.resolutions[0] == 16 and enc.resolutions[-1] == 2048
    assert enc.num_dense_levels == sum((r + 1) ** 3 <= 2 ** 19 for r in enc.resolutions)
    assert enc.table_sizes[-1] == 2 ** 19 and enc.output_dim == 32 == enc.out_dim
    assert "dense_levels=" in repr(enc)


# --------------------------------------------------------------------------- gradients
def test_gradcheck_table_and_points_double():
    torch.manual_seed(0)
    enc = HashGridEncoding(levels=3, log2_table_size=6, base_resolution=2, finest_resolution=8,
                           bounds=[[-1, -1, -1], [1, 1, 1]]).double()
    assert enc.num_dense_levels == 1 and enc.table.shape == (27 + 64 + 64, 2)
    with torch.no_grad():
        enc.table.uniform_(-1, 1)
    x = (torch.rand(12, 3, dtype=torch.float64) * 1.8 - 0.9).requires_grad_()
    table = enc.table.detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda t, p: _with_table(enc, t, p), (table, x))
    # second order (eikonal-style losses differentiate the point gradient w.r.t. the table)
    assert torch.autograd.gradgradcheck(lambda t, p: _with_table(enc, t, p), (table, x))


def _with_table(enc: HashGridEncoding, table: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.func.functional_call(enc, {"table": table}, (x,))


@pytest.mark.parametrize("features", [2, 3, 4])
def test_table_gradient_matches_plain_indexing(features):
    """The complex-view gather/scatter gives the same table gradient as autograd's indexing."""
    torch.manual_seed(0)
    enc = small_grid(features_per_level=features)
    x = torch.rand(500, 3)
    g = torch.randn(500, enc.output_dim)
    (enc(x) * g).sum().backward()
    ref = torch.zeros_like(enc.table)
    u = enc.normalize(x).t()
    for level in range(enc.levels):
        index, w = enc._level_corners(u, level)                       # (8, N)
        gl = g[:, level * features:(level + 1) * features]            # (N, F)
        ref.index_put_((index.reshape(-1),), (w[..., None] * gl).reshape(-1, features), accumulate=True)
    torch.testing.assert_close(enc.table.grad, ref, atol=1e-6, rtol=1e-5)


# --------------------------------------------------------------------------- bounds, dtype, device
def test_points_outside_bounds_are_clamped():
    enc = small_grid(bounds=torch.tensor([[-1.0, -2.0, 0.0], [1.0, 2.0, 3.0]]))
    with torch.no_grad():
        enc.table.uniform_(-1, 1)
    inside = torch.tensor([[1.0, 0.3, 3.0], [-1.0, -2.0, 0.0], [0.2, 2.0, 1.0]])
    outside = torch.tensor([[5.0, 0.3, 9.0], [-3.0, -7.0, -1.0], [0.2, 2.5, 1.0]])
    torch.testing.assert_close(enc(outside), enc(inside))
    x = outside.clone().requires_grad_()
    enc(x).sum().backward()
    assert x.grad[0, 0] == 0 and x.grad[1].abs().sum() == 0 and x.grad[0, 1] != 0  # clamped axes: no gradient
    with pytest.raises(ValueError):
        HashGridEncoding(bounds=[[0, 0, 0], [1, 0, 1]])


def test_float32_default_shapes_and_device():
    enc = small_grid()
    x = torch.rand(7, 3)
    out = enc(x)
    assert out.dtype == torch.float32 and out.device == x.device and out.shape == (7, enc.output_dim)
    assert enc.table.dtype == torch.float32 and enc.table.abs().max() <= 1e-4
    assert enc(torch.rand(2, 5, 3)).shape == (2, 5, enc.output_dim)
    assert enc(torch.rand(0, 3)).shape == (0, enc.output_dim)
    assert enc.double()(x.double()).dtype == torch.float64
    with pytest.raises(ValueError):
        enc(torch.rand(4, 2))
    assert len(list(enc.parameters())) == 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    torch.manual_seed(0)
    enc = small_grid()
    x = torch.rand(100, 3)
    cuda = small_grid().cuda()
    cuda.load_state_dict(enc.state_dict())
    out = cuda(x.cuda())
    assert out.device.type == "cuda"
    torch.testing.assert_close(out.cpu(), enc(x))


# --------------------------------------------------------------------------- learning
@pytest.fixture
def one_thread():
    """Small tensors: threading only adds synchronisation (and stalls on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_fits_a_3d_function(one_thread):
    torch.manual_seed(0)
    enc = HashGridEncoding(levels=8, log2_table_size=14, base_resolution=4, finest_resolution=64,
                           bounds=[[-1, -1, -1], [1, 1, 1]])
    head = torch.nn.Linear(enc.output_dim, 1)

    def target(p):
        return torch.sin(3 * p[:, 0]) + torch.sin(2 * p[:, 1] + 1) * torch.cos(3 * p[:, 2])

    opt = torch.optim.Adam([{"params": enc.parameters(), "lr": 2e-2}, {"params": head.parameters(), "lr": 1e-2}],
                           betas=(0.9, 0.99), eps=1e-15)
    gen = torch.Generator().manual_seed(1)
    for _ in range(300):
        p = torch.rand(2048, 3, generator=gen) * 2 - 1
        loss = ((head(enc(p))[:, 0] - target(p)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    p = torch.rand(4096, 3, generator=gen) * 2 - 1
    with torch.no_grad():
        mse = ((head(enc(p))[:, 0] - target(p)) ** 2).mean().item()
    assert mse < 1e-3 * target(p).var().item(), mse
