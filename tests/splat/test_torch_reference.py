"""The pure-PyTorch reference rasterizer against independent oracles (conventions.md):
a plain-loop per-pixel reference, hand-computed single-Gaussian values, and finite
differences of the full ``rasterize`` in float64."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from humanrecon.splat import _torch_impl
from humanrecon.splat.rendering import rasterize

C0 = 0.28209479177387814


# ----------------------------------------------------------------------------- scenes
def look_at(eye, target=(0.0, 0.0, 0.0), up=(0.0, -1.0, 0.0)):
    """(4, 4) world-to-camera OpenCV viewmat (float64) at ``eye`` looking at ``target``."""
    eye, target, up = (np.asarray(v, dtype=np.float64) for v in (eye, target, up))
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(up, z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    vm = np.eye(4)
    vm[:3, :3], vm[:3, 3] = R, -R @ eye
    return torch.tensor(vm)


def intrinsics(f, w, h, dx=0.0, dy=0.0):
    return torch.tensor([[f, 0.0, w / 2 + dx], [0.0, f * 1.05, h / 2 + dy], [0.0, 0.0, 1.0]], dtype=torch.float64)


def random_scene(n, seed, spread=0.6, scale=(0.05, 0.25), opacity=(0.2, 0.95)):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.rand(*s, generator=g, dtype=torch.float64)
    return {
        "means": (r(n, 3) * 2 - 1) * spread,
        "quats": torch.randn(n, 4, generator=g, dtype=torch.float64),
        "scales": scale[0] + (scale[1] - scale[0]) * r(n, 3),
        "opacities": opacity[0] + (opacity[1] - opacity[0]) * r(n),
        "colors": r(n, 3),
    }


# ----------------------------------------------------------------------------- loop oracle
def _rotmat(q):
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def loop_reference(scene, viewmat, K, W, H, bg, near=0.01, far=1e10, ts=16):
    """conventions.md in plain Python: one camera, returns (rgb (H,W,3), alpha (H,W), radii, means2d)."""
    means, quats, scales = (scene[k].detach().numpy() for k in ("means", "quats", "scales"))
    op, col = scene["opacities"].detach().numpy(), scene["colors"].detach().numpy()
    vm, K = viewmat.numpy(), K.numpy()
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    proj = []
    for k in range(len(means)):
        M = _rotmat(quats[k]) @ np.diag(scales[k])
        p = vm[:3, :3] @ means[k] + vm[:3, 3]
        cov = vm[:3, :3] @ M @ M.T @ vm[:3, :3].T
        z = p[2]
        if not near < z < far:
            proj.append(None)
            continue
        tfx, tfy = 0.5 * W / fx, 0.5 * H / fy
        tx = z * min(max(p[0] / z, -(cx / fx + 0.3 * tfx)), (W - cx) / fx + 0.3 * tfx)
        ty = z * min(max(p[1] / z, -(cy / fy + 0.3 * tfy)), (H - cy) / fy + 0.3 * tfy)
        J = np.array([[fx / z, 0, -fx * tx / z**2], [0, fy / z, -fy * ty / z**2]])
        S = J @ cov @ J.T + 0.3 * np.eye(2)
        a, b, c = S[0, 0], S[0, 1], S[1, 1]
        det = a * c - b * b
        m = np.array([fx * p[0] / z + cx, fy * p[1] / z + cy])
        mid = 0.5 * (a + c)
        r = math.ceil(3 * math.sqrt(mid + math.sqrt(max(0.1, mid * mid - det))))
        if det <= 0 or not (m[0] + r > 0 and m[0] - r < W and m[1] + r > 0 and m[1] - r < H):
            proj.append(None)
            continue
        proj.append((m, (c / det, -b / det, a / det), z, r))
    rgb, alpha = np.zeros((H, W, 3)), np.zeros((H, W))
    for j in range(H):
        for i in range(W):
            tile = (i // ts, j // ts)
            members = []
            for k, pr in enumerate(proj):
                if pr is None:
                    continue
                m, _, z, r = pr
                xs = range(max(0, math.floor((m[0] - r) / ts)), math.ceil((m[0] + r) / ts))
                ys = range(max(0, math.floor((m[1] - r) / ts)), math.ceil((m[1] + r) / ts))
                if tile[0] in xs and tile[1] in ys:
                    members.append((z, k))
            T, C = 1.0, np.zeros(3)
            for _, k in sorted(members):  # depth, ties by index
                m, con, _, _ = proj[k]
                d = m - (i + 0.5, j + 0.5)
                s = 0.5 * (con[0] * d[0] ** 2 + con[2] * d[1] ** 2) + con[1] * d[0] * d[1]
                if s < 0:
                    continue
                a = min(0.99, op[k] * math.exp(-s))
                if a < 1 / 255:
                    continue
                if T * (1 - a) < 1e-4:
                    break
                C += a * T * col[k]
                T *= 1 - a
            rgb[j, i], alpha[j, i] = C + T * bg, 1 - T
    radii = np.array([0 if pr is None else pr[3] for pr in proj])
    means2d = np.array([[0.0, 0.0] if pr is None else pr[0] for pr in proj])
    return rgb, alpha, radii, means2d


def test_matches_loop_reference_on_random_overlapping_scene():
    W, H = 24, 20
    scene = random_scene(20, seed=3)
    scene["means"][5] = scene["means"][4]  # an exact depth tie: lower index first
    scene["means"][7, 2] = -3.5  # behind camera 0 (at z = -3 looking along +z)
    viewmats = torch.stack([look_at((0.0, 0.0, -3.0)), look_at((1.5, -0.5, -2.5))])
    Ks = torch.stack([intrinsics(30.0, W, H), intrinsics(26.0, W, H, 0.7, -0.4)])
    bg = torch.tensor([[0.1, 0.2, 0.3], [1.0, 1.0, 1.0]], dtype=torch.float64)
    colors, alphas, meta = rasterize(**scene, viewmats=viewmats, Ks=Ks, width=W, height=H, backgrounds=bg,
                                     backend="torch")
    assert meta["tile_counts"].shape == (2, 2, 2)
    assert (meta["tile_counts"] > 0).all()  # every tile non-trivial
    for c in range(2):
        rgb, alpha, radii, means2d = loop_reference(scene, viewmats[c], Ks[c], W, H, bg[c].numpy())
        np.testing.assert_array_equal(meta["radii"][c].numpy(), radii)
        np.testing.assert_allclose(meta["means2d"][c].detach().numpy(), means2d, atol=1e-9)
        np.testing.assert_allclose(alphas[c, ..., 0].detach().numpy(), alpha, atol=1e-6, rtol=0)
        np.testing.assert_allclose(colors[c].detach().numpy(), rgb, atol=1e-6, rtol=0)
    assert meta["radii"][0, 7] == 0 and (alphas > 0.05).double().mean() > 0.4 and alphas.max() > 0.9


# ----------------------------------------------------------------------------- hand oracles
def _one(z=2.0, s=0.1, o=0.7, dx=0.3, dy=-0.2, f=40.0, W=21, H=17, **kw):
    scene = {"means": torch.tensor([[0.0, 0.0, z]], dtype=torch.float64),
             "quats": torch.tensor([[0.3, 0.0, 0.0, 0.0]], dtype=torch.float64),
             "scales": torch.full((1, 3), s, dtype=torch.float64),
             "opacities": torch.tensor([o], dtype=torch.float64),
             "colors": torch.tensor([[0.9, 0.5, 0.1]], dtype=torch.float64)}
    K = torch.tensor([[[f, 0, W / 2 + dx], [0, f, H / 2 + dy], [0, 0, 1]]], dtype=torch.float64)
    return rasterize(**scene, viewmats=torch.eye(4, dtype=torch.float64)[None], Ks=K, width=W, height=H,
                     backend="torch", **kw)


def test_single_isotropic_gaussian_alpha_by_hand():
    z, s, o, f, W, H, dx, dy = 2.0, 0.1, 0.7, 40.0, 21, 17, 0.3, -0.2
    colors, alphas, meta = _one(z, s, o, dx, dy, f, W, H)
    var = (f * s / z) ** 2 + 0.3
    m = (W / 2 + dx, H / 2 + dy)
    for i, j in ((10, 8), (11, 8), (9, 7), (13, 10)):
        d2 = (m[0] - i - 0.5) ** 2 + (m[1] - j - 0.5) ** 2
        want = o * math.exp(-0.5 * d2 / var)
        assert alphas[0, j, i, 0].item() == pytest.approx(want, abs=1e-12)
        np.testing.assert_allclose(colors[0, j, i].numpy(), want * np.array([0.9, 0.5, 0.1]), atol=1e-12)
    assert meta["radii"][0, 0] == math.ceil(3 * math.sqrt(var))
    np.testing.assert_allclose(meta["conics"][0, 0].numpy(), [1 / var, 0.0, 1 / var], atol=1e-12)
    assert meta["depths"][0, 0].item() == z


@pytest.mark.parametrize("z, far", [(-2.0, 1e10), (0.005, 1e10), (5.0, 4.0)])
def test_behind_camera_near_or_beyond_far_contributes_nothing(z, far):
    bg = torch.tensor([[0.2, 0.4, 0.6]], dtype=torch.float64)
    colors, alphas, meta = _one(z=z, far_plane=far, backgrounds=bg)
    assert meta["radii"][0, 0] == 0 and meta["tiles_per_gauss"][0, 0] == 0
    assert (alphas == 0).all()
    assert torch.equal(colors, bg[:, None, None, :].expand_as(colors))


def test_background_blending():
    bg = torch.tensor([[0.2, 0.4, 0.6]], dtype=torch.float64)
    plain, alphas, _ = _one()
    blended, alphas_bg, _ = _one(backgrounds=bg)
    assert torch.equal(alphas, alphas_bg)
    torch.testing.assert_close(blended, plain + (1 - alphas) * bg[:, None, None, :], rtol=0, atol=1e-15)


def test_sh_degree0_colour_and_higher_bands_follow_view_direction():
    sh = torch.zeros(1, 9, 3, dtype=torch.float64)
    sh[0, 0] = torch.tensor([0.4, -0.3, 2.0])
    scene = {"means": torch.tensor([[0.0, 0.0, 2.0]], dtype=torch.float64),
             "quats": torch.tensor([[1.0, 0, 0, 0]], dtype=torch.float64),
             "scales": torch.full((1, 3), 0.1, dtype=torch.float64),
             "opacities": torch.tensor([0.5], dtype=torch.float64), "colors": sh}
    vm = torch.eye(4, dtype=torch.float64)[None]
    K = intrinsics(30.0, 16, 16)[None]
    _, _, meta = rasterize(**scene, viewmats=vm, Ks=K, width=16, height=16, sh_degree=0, backend="torch")
    want = torch.clamp(C0 * sh[0, 0] + 0.5, min=0)
    torch.testing.assert_close(meta["colors"][0, 0], want, rtol=0, atol=1e-15)
    # degree 1: the band-1 term -C1 y sh1 + C1 z sh2 - C1 x sh3 with dir = (0, 0, 1)
    sh[0, 2] = torch.tensor([0.1, 0.2, 0.3])
    _, _, meta1 = rasterize(**scene, viewmats=vm, Ks=K, width=16, height=16, sh_degree=1, backend="torch")
    want1 = torch.clamp(C0 * sh[0, 0] + 0.4886025119029199 * sh[0, 2] + 0.5, min=0)
    torch.testing.assert_close(meta1["colors"][0, 0], want1, rtol=0, atol=1e-15)


def test_transmittance_early_stop_later_gaussians_add_nothing():
    n = 6
    scene = {"means": torch.tensor([[0.0, 0.0, 2.0 + 0.1 * k] for k in range(n)], dtype=torch.float64),
             "quats": torch.tensor([[1.0, 0, 0, 0]] * n, dtype=torch.float64),
             "scales": torch.full((n, 3), 0.2, dtype=torch.float64),
             "opacities": torch.ones(n, dtype=torch.float64),
             "colors": torch.eye(3, dtype=torch.float64).repeat(2, 1).requires_grad_(True)}
    K = torch.tensor([[[40.0, 0, 8.5], [0, 40.0, 8.5], [0, 0, 1]]], dtype=torch.float64)  # mean at pixel centre
    args = dict(viewmats=torch.eye(4, dtype=torch.float64)[None], Ks=K, width=17, height=17, backend="torch")
    colors, alphas, _ = rasterize(**scene, **args)
    centre = colors[0, 8, 8]
    # alpha = 0.99 (clamped) for the first two; T = 0.01 * 0.01 >= 1e-4; the third would drop T below
    assert alphas[0, 8, 8, 0].item() == pytest.approx(1 - (1 - 0.99) ** 2, abs=1e-12)
    torch.testing.assert_close(centre, torch.tensor([0.99, 0.01 * 0.99, 0.0], dtype=torch.float64))
    centre.sum().backward()
    assert (scene["colors"].grad[2:] == 0).all() and (scene["colors"].grad[:2] != 0).any()
    # changing the stopped ones changes nothing at that pixel
    scene2 = dict(scene, colors=torch.rand(n, 3, dtype=torch.float64))
    scene2["colors"][:2] = scene["colors"][:2].detach()
    colors2, _, _ = rasterize(**scene2, **args)
    assert torch.equal(colors2[0, 8, 8], centre.detach())


def test_expected_depth_of_single_opaque_splat_is_its_z():
    colors, alphas, _ = _one(z=2.5, o=1.0, s=0.3, render_mode="RGB+ED",
                             backgrounds=torch.tensor([[1.0, 1.0, 1.0]], dtype=torch.float64))
    assert colors.shape == (1, 17, 21, 4)
    covered = alphas[0, ..., 0] > 1e-3
    assert covered.sum() > 20
    torch.testing.assert_close(colors[0, ..., 3][covered], torch.full_like(colors[0, ..., 3][covered], 2.5))
    assert (colors[0, ..., 3][alphas[0, ..., 0] == 0] == 0).all()


def test_depth_ties_keep_lower_index_in_front():
    W, H = 16, 16
    scene = {"means": torch.tensor([[0.0, 0.0, 2.0], [0.0, 0.0, 2.0]], dtype=torch.float64),
             "quats": torch.tensor([[1.0, 0, 0, 0]] * 2, dtype=torch.float64),
             "scales": torch.full((2, 3), 0.1, dtype=torch.float64),
             "opacities": torch.tensor([0.8, 0.8], dtype=torch.float64),
             "colors": torch.tensor([[1.0, 0, 0], [0, 1.0, 0]], dtype=torch.float64)}
    args = dict(viewmats=torch.eye(4, dtype=torch.float64)[None], Ks=intrinsics(30.0, W, H)[None], width=W,
                height=H, backend="torch")
    colors, _, _ = rasterize(**scene, **args)
    assert colors[0, 8, 8, 0] > colors[0, 8, 8, 1] > 0


# ----------------------------------------------------------------------------- chunking
def test_chunked_compositing_matches_single_pass(monkeypatch):
    scene = {k: v.requires_grad_(True) for k, v in random_scene(40, seed=5, scale=(0.02, 0.1)).items()}
    args = dict(viewmats=torch.stack([look_at((0.0, 0.0, -3.0)), look_at((1.0, 0.2, -2.0))]),
                Ks=torch.stack([intrinsics(40.0, 40, 36), intrinsics(30.0, 40, 36)]), width=40, height=36,
                backend="torch")

    def run():
        colors, alphas, _ = rasterize(**scene, **args)
        loss = (colors * torch.linspace(0, 1, 3, dtype=torch.float64)).sum() + alphas.square().sum()
        grads = torch.autograd.grad(loss, list(scene.values()))
        return colors.detach(), alphas.detach(), grads

    ref = run()
    monkeypatch.setattr(_torch_impl, "CHUNK_PAIRS", 256 * 3)  # many chunks, checkpointed
    got = run()
    torch.testing.assert_close(got[0], ref[0], rtol=0, atol=1e-12)
    torch.testing.assert_close(got[1], ref[1], rtol=0, atol=1e-12)
    for a, b in zip(got[2], ref[2]):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


# ----------------------------------------------------------------------------- gradients
def _grad_scene(n=4, seed=0):
    """Big, semi-transparent splats covering all of a 12x10 image: every alpha lies well
    inside (1/255, 0.99), T stays > 1e-4 and depths are distinct (no discontinuities)."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.rand(*s, generator=g, dtype=torch.float64)
    means = (r(n, 3) - 0.5) * torch.tensor([0.3, 0.3, 0.6], dtype=torch.float64)
    means[:, 2] += torch.linspace(-0.3, 0.3, n, dtype=torch.float64)
    scene = {"means": means, "quats": torch.randn(n, 4, generator=g, dtype=torch.float64),
             "scales": 1.0 + 0.5 * r(n, 3), "opacities": 0.3 + 0.4 * r(n), "colors": r(n, 3)}
    viewmats = torch.stack([look_at((0.0, 0.0, -3.0)), look_at((0.4, -0.3, -2.8))])
    Ks = torch.stack([intrinsics(12.0, 12, 10), intrinsics(11.0, 12, 10, 0.3, -0.2)])
    return scene, viewmats, Ks


def test_grad_scene_is_away_from_thresholds():
    scene, viewmats, Ks = _grad_scene()
    proj = _torch_impl.project(scene["means"], scene["quats"], scene["scales"], viewmats, Ks, 12, 10)
    means2d, conics = proj[0], proj[1]
    ys, xs = torch.meshgrid(torch.arange(10.0, dtype=torch.float64) + 0.5,
                            torch.arange(12.0, dtype=torch.float64) + 0.5, indexing="ij")
    dx = means2d[..., 0, None, None] - xs
    dy = means2d[..., 1, None, None] - ys
    sig = 0.5 * (conics[..., 0, None, None] * dx**2 + conics[..., 2, None, None] * dy**2) + conics[..., 1, None, None] * dx * dy
    alpha = scene["opacities"][None, :, None, None] * torch.exp(-sig)
    assert alpha.min() > 2 / 255 and alpha.max() < 0.95
    assert (proj[3] > 0).all()


def _check(fn, inputs):
    """Full (non-fast) gradcheck over every input element of ``fn``'s outputs projected on
    16 fixed random directions (one backward each instead of one per pixel)."""
    proj = {}

    def projected(*args):
        flat = torch.cat([o.reshape(-1) for o in fn(*args)])
        if "P" not in proj:
            g = torch.Generator().manual_seed(7)
            proj["P"] = torch.randn(16, flat.numel(), generator=g, dtype=flat.dtype)
        return proj["P"] @ flat

    assert torch.autograd.gradcheck(projected, inputs, eps=1e-6, atol=1e-7, rtol=1e-5)


def test_gradcheck_geometry_opacity_colour_and_viewmats():
    scene, viewmats, Ks = _grad_scene()
    bg = torch.tensor([[0.3, 0.6, 0.9], [1.0, 0.5, 0.0]], dtype=torch.float64)

    def fn(means, quats, scales, opacities, colors, vm):
        c, a, _ = rasterize(means, quats, scales, opacities, colors, vm, Ks, 12, 10, backgrounds=bg,
                            render_mode="RGB+ED", backend="torch")
        return c, a

    inputs = [scene[k].clone().requires_grad_(True) for k in ("means", "quats", "scales", "opacities", "colors")]
    _check(fn, (*inputs, viewmats.clone().requires_grad_(True)))


def test_gradcheck_sh_coefficients_degree3_and_intrinsics():
    scene, viewmats, Ks = _grad_scene(n=3, seed=1)
    g = torch.Generator().manual_seed(2)
    sh = 0.2 * torch.randn(3, 16, 3, generator=g, dtype=torch.float64)
    sh[:, 0] += 0.5  # rgb stays > 0 (away from the clamp)

    def fn(sh, means, vm, K):
        c, a, _ = rasterize(means, scene["quats"], scene["scales"], scene["opacities"], sh, vm, K, 12, 10,
                            sh_degree=3, backend="torch")
        return c, a

    _, _, meta = rasterize(scene["means"], scene["quats"], scene["scales"], scene["opacities"], sh, viewmats, Ks,
                           12, 10, sh_degree=3, backend="torch")
    assert meta["colors"].min() > 0.05
    _check(fn, (sh.requires_grad_(True), scene["means"].clone().requires_grad_(True),
                viewmats.clone().requires_grad_(True), Ks.clone().requires_grad_(True)))


def test_project_stage_gradcheck():
    scene, viewmats, Ks = _grad_scene(n=3, seed=4)

    def fn(means, quats, scales, vm):
        m, c, d, _ = _torch_impl.project(means, quats, scales, vm, Ks, 12, 10)
        return m, c, d

    _check(fn, tuple(x.clone().requires_grad_(True) for x in (scene["means"], scene["quats"], scene["scales"],
                                                                viewmats)))


def test_tile_coverage_counts_equal_the_tile_lists():
    """The O(N) counts the compiled backends report equal those of the sorted lists."""
    from humanrecon.splat._torch_impl import tile_coverage, tile_intersections

    gen = torch.Generator().manual_seed(3)
    means2d = torch.rand(2, 300, 2, generator=gen) * torch.tensor([90.0, 70.0]) - 10
    radii = (torch.rand(2, 300, generator=gen) * 30).int() * (torch.rand(2, 300, generator=gen) > 0.2)
    depths = torch.rand(2, 300, generator=gen)
    _, per_gauss, per_tile = tile_intersections(means2d, radii, depths, 70, 50)
    got_gauss, got_tile = tile_coverage(means2d, radii, 70, 50)
    assert torch.equal(got_gauss, per_gauss) and torch.equal(got_tile, per_tile)
