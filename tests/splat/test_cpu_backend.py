"""The compiled ``cpu`` splat backend (``humanrecon/splat/csrc/cpu.cpp`` via ``_backends``)
against the pure-PyTorch reference ``_torch_impl``: forward outputs, every gradient, the
tile binning, a float64 finite-difference check, the build cache and a missing compiler."""

from __future__ import annotations

import math
import subprocess

import pytest
import torch

from humanrecon.splat import _backends
from humanrecon.splat import _torch_impl as ref


@pytest.fixture(scope="module", autouse=True)
def cpu_backend():
    reason = _backends.unavailable_reason("cpu")  # builds (or reuses) the library
    if reason is not None:
        pytest.skip(f"cpu splat backend unavailable: {reason}")


def _rot_y(a: float, dtype) -> torch.Tensor:
    c, s = math.cos(a), math.sin(a)
    return torch.tensor([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]], dtype=dtype)


def make_scene(dtype=torch.float64, n=300, n_cams=3, width=64, height=48, channels=3, seed=0, elongated=True):
    """Random Gaussians around the origin seen by cameras ~4 m away: some behind the
    cameras or closer than the near plane, some off-screen, many overlapping, one nearly
    degenerate (a 1e-6 m scale), one huge and one very elongated.  Drawn in float64, then
    cast, so every dtype sees the same scene."""
    out_dtype, dtype = dtype, torch.float64
    n = max(n, 24)  # the special Gaussians below
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(n, 3, generator=g, dtype=dtype) * torch.tensor([1.6, 1.2, 1.6], dtype=dtype)
    means[:10, 2] = -4.5 - torch.rand(10, generator=g, dtype=dtype)  # behind camera 0
    means[10, :] = torch.tensor([0.0, 0.0, -3.995], dtype=dtype)  # inside the near plane of camera 0
    means[11:20, 0] = 9.0 + torch.rand(9, generator=g, dtype=dtype)  # off-screen to the right
    quats = torch.randn(n, 4, generator=g, dtype=dtype)
    scales = torch.rand(n, 3, generator=g, dtype=dtype) * 0.15 + 0.01
    scales[20, 1] = 1e-6  # nearly degenerate
    scales[21] = torch.tensor([1.5, 1.2, 1.0], dtype=dtype)  # huge
    if elongated:  # ill-conditioned: float32 gradients of any implementation carry ~1e-4 errors
        scales[22] = torch.tensor([2.0, 0.005, 0.005], dtype=dtype)
    opacities = torch.rand(n, generator=g, dtype=dtype) * 0.95 + 0.04
    opacities[23] = 0.999  # alpha clamped at 0.99 near its centre
    colors = torch.rand(n_cams, n, channels, generator=g, dtype=dtype)
    viewmats = torch.eye(4, dtype=dtype).repeat(n_cams, 1, 1)
    Ks = torch.zeros(n_cams, 3, 3, dtype=dtype)
    for c in range(n_cams):
        viewmats[c, :3, :3] = _rot_y(0.35 * c, dtype)
        viewmats[c, :3, 3] = torch.tensor([0.2 * c, -0.1 * c, 4.0], dtype=dtype)
        Ks[c] = torch.tensor([[55.0 + 5 * c, 0.0, width / 2 + c], [0.0, 57.0, height / 2 - c], [0.0, 0.0, 1.0]],
                             dtype=dtype)
    backgrounds = torch.rand(n_cams, channels, generator=g, dtype=dtype)
    scene = dict(means=means, quats=quats, scales=scales, opacities=opacities, colors=colors,
                 viewmats=viewmats, Ks=Ks, backgrounds=backgrounds)
    scene = {k: v.to(out_dtype) for k, v in scene.items()}
    return dict(scene, width=width, height=height)


_GRAD_NAMES = ("means", "quats", "scales", "viewmats", "opacities", "colors", "backgrounds")


def run(impl: str, scene: dict, use_bg: bool = True, near: float = 0.01):
    """Project + rasterize with ``impl`` ("torch" or "cpu"); a fixed random linear loss on
    the render, alphas, depths, means2d and conics; returns outputs and gradients."""
    leaves = {k: scene[k].clone().requires_grad_(True) for k in _GRAD_NAMES}
    W, H = scene["width"], scene["height"]
    bg = leaves["backgrounds"] if use_bg else None
    args = (leaves["means"], leaves["quats"], leaves["scales"], leaves["viewmats"], scene["Ks"], W, H, near, 1e10)
    if impl == "torch":
        proj = ref.project(*args)
    else:
        proj = _backends.project(*args, backend=impl)
    means2d, conics, depths, radii = proj
    rargs = (means2d, conics, leaves["colors"], leaves["opacities"], depths, radii, W, H, bg)
    render, alphas = ref.rasterize_pixels(*rargs) if impl == "torch" else _backends.rasterize_pixels(
        *rargs, backend=impl)
    g = torch.Generator().manual_seed(123)
    dt = render.dtype
    loss = sum((x * torch.randn(x.shape, generator=g, dtype=torch.float64).to(dt)).sum()
               for x in (render, alphas, 0.1 * depths, 0.01 * means2d, conics))
    loss.backward()
    grads = {k: v.grad for k, v in leaves.items() if v.grad is not None}
    return dict(means2d=means2d.detach(), conics=conics.detach(), depths=depths.detach(), radii=radii,
                render=render.detach(), alphas=alphas.detach()), grads


def _check_grads(g_ref: dict, g_cpu: dict, rtol: float, atol_frac: float):
    assert g_ref.keys() == g_cpu.keys()
    for k in g_ref:
        scale = float(g_ref[k].abs().max())
        torch.testing.assert_close(g_cpu[k], g_ref[k], rtol=rtol, atol=atol_frac * max(scale, 1e-30),
                                   msg=lambda m, k=k: f"gradient of {k}: {m}")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("channels,use_bg", [(3, True), (5, False)])
def test_matches_reference(dtype, channels, use_bg):
    scene = make_scene(dtype, channels=channels, elongated=dtype == torch.float64)
    out_r, g_r = run("torch", scene, use_bg)
    out_c, g_c = run("cpu", scene, use_bg)
    radii = out_r["radii"]
    # the scene exercises what it claims to
    assert (radii[0, :11] == 0).all()  # behind / inside the near plane
    assert (radii[:, 11:20] == 0).all()  # off-screen
    assert int((radii > 0).sum()) > 300
    assert float(out_r["alphas"].max()) > 0.9
    assert torch.equal(out_c["radii"], radii)
    assert out_c["radii"].dtype == torch.int32
    for k in ("means2d", "conics", "depths"):
        torch.testing.assert_close(out_c[k], out_r[k], rtol=1e-5, atol=1e-5 * float(out_r[k].abs().max()))
    for k in ("render", "alphas"):
        assert out_c[k].dtype == dtype and out_c[k].shape == out_r[k].shape
        torch.testing.assert_close(out_c[k], out_r[k], rtol=0, atol=1e-5)
    if dtype == torch.float64:
        _check_grads(g_r, g_c, rtol=1e-7, atol_frac=1e-10)
    else:
        _check_grads(g_r, g_c, rtol=1e-4, atol_frac=1e-5)


def test_float32_elongated_gaussian_as_accurate_as_reference():
    """A 2 m x 5 mm x 5 mm Gaussian: float32 gradients are ill-conditioned (the reference's
    own float32 error is ~1e-4 relative), so compare both float32 runs to float64 truth."""
    s64 = make_scene(torch.float64, n=60, n_cams=2)
    s32 = {k: v.float() if torch.is_tensor(v) else v for k, v in s64.items()}
    s64 = {k: v.double() if torch.is_tensor(v) else v for k, v in s32.items()}  # same rounded inputs
    _, g_true = run("torch", s64)
    _, g_ref = run("torch", s32)
    _, g_cpu = run("cpu", s32)
    for k in g_true:
        err_ref = float((g_ref[k].double() - g_true[k]).abs().max())
        err_cpu = float((g_cpu[k].double() - g_true[k]).abs().max())
        assert err_cpu <= 3 * err_ref + 1e-6 * float(g_true[k].abs().max()), (k, err_cpu, err_ref)


def test_binning_matches_reference():
    scene = make_scene(torch.float64)
    means2d, _, depths, radii = ref.project(scene["means"], scene["quats"], scene["scales"], scene["viewmats"],
                                            scene["Ks"], scene["width"], scene["height"])
    depths = depths.clone()
    depths[:, 30:40] = depths[:, 29:30]  # depth ties: lower index first
    lists, _, _ = ref.tile_intersections(means2d, radii, depths, scene["width"], scene["height"])
    offsets, ids = _backends.bin_gaussians(means2d, depths, radii, scene["width"], scene["height"], "cpu")
    assert torch.equal(offsets.long(), lists.offsets)
    assert torch.equal(ids[: lists.gauss_ids.numel()].long(), lists.gauss_ids)


def test_everything_culled():
    scene = make_scene(torch.float32, n=24, n_cams=2)
    scene["means"][:, 2] = -10.0  # behind every camera
    out, grads = run("cpu", scene)
    assert (out["radii"] == 0).all()
    bg = scene["backgrounds"]
    torch.testing.assert_close(out["render"], bg[:, None, None, :].expand_as(out["render"]))
    assert (out["alphas"] == 0).all()
    assert (grads["colors"] == 0).all() and (grads["opacities"] == 0).all()
    # depths are still differentiable for culled Gaussians (as in the reference)
    _, g_r = run("torch", scene)
    torch.testing.assert_close(grads["means"], g_r["means"])


def test_thread_count_does_not_change_results():
    scene = make_scene(torch.float64, n=120, n_cams=2)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        out1, g1 = run("cpu", scene)
        torch.set_num_threads(3)
        out3, g3 = run("cpu", scene)
    finally:
        torch.set_num_threads(before)
    for k in out1:
        assert torch.equal(out1[k], out3[k]), k
    _check_grads(g1, g3, rtol=1e-12, atol_frac=1e-14)


def test_finite_differences_float64():
    """gradcheck of project + rasterize on a tiny one-tile scene away from every threshold."""
    dtype = torch.float64
    g = torch.Generator().manual_seed(5)
    n, W, H = 4, 16, 12
    means = torch.randn(n, 3, generator=g, dtype=dtype) * 0.3
    quats = torch.randn(n, 4, generator=g, dtype=dtype)
    scales = torch.rand(n, 3, generator=g, dtype=dtype) * 0.2 + 0.15
    opacities = torch.rand(n, generator=g, dtype=dtype) * 0.4 + 0.3
    colors = torch.rand(1, n, 3, generator=g, dtype=dtype)
    viewmats = torch.eye(4, dtype=dtype)[None].clone()
    viewmats[0, :3, :3] = _rot_y(0.2, dtype)
    viewmats[0, :3, 3] = torch.tensor([0.05, -0.02, 3.0], dtype=dtype)
    Ks = torch.tensor([[[20.0, 0.0, 8.0], [0.0, 21.0, 6.0], [0.0, 0.0, 1.0]]], dtype=dtype)
    bg = torch.rand(1, 3, generator=g, dtype=dtype)

    def f(means, quats, scales, viewmats, opacities, colors, bg):
        m2, con, dep, rad = _backends.project(means, quats, scales, viewmats, Ks, W, H, backend="cpu")
        assert (rad > 0).all()
        img, alpha = _backends.rasterize_pixels(m2, con, colors, opacities, dep, rad, W, H, bg, backend="cpu")
        return img, alpha, dep, m2, con

    inputs = tuple(x.clone().requires_grad_(True) for x in (means, quats, scales, viewmats, opacities, colors, bg))
    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)


def test_build_cache_is_reused(monkeypatch):
    path, compiled = _backends.build_cpu_library()  # built by the fixture (or an earlier run)
    assert not compiled and path.is_file()
    mtime = path.stat().st_mtime_ns
    calls = []
    real_run = subprocess.run

    def spy(cmd, *a, **k):
        calls.append(list(cmd))
        return real_run(cmd, *a, **k)

    monkeypatch.setattr(_backends.subprocess, "run", spy)
    path2, compiled2 = _backends.build_cpu_library()
    assert path2 == path and not compiled2
    assert all("--version" in c for c in calls), calls  # the compiler only reported its version
    assert path.stat().st_mtime_ns == mtime
    assert path.name.startswith("libhrsplat_cpu_") and path.parent == _backends.cache_dir()


def test_cache_key_depends_on_compiler_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HUMANRECON_CACHE", str(tmp_path))
    assert _backends.cache_dir() == tmp_path / "splat"
    assert _backends.cpu_library_path().parent == tmp_path / "splat"


def test_missing_compiler_makes_cpu_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    monkeypatch.setenv("HUMANRECON_CACHE", str(tmp_path / "cache"))
    _backends._reset("cpu")
    try:
        assert not _backends.available("cpu")
        reason = _backends.unavailable_reason("cpu")
        assert reason and "no-such-compiler" in reason
        with pytest.raises(_backends.BackendUnavailable, match="no-such-compiler"):
            _backends.project(torch.zeros(1, 3), torch.tensor([[1.0, 0, 0, 0]]), torch.ones(1, 3),
                              torch.eye(4)[None], torch.eye(3)[None], 8, 8, backend="cpu")
        assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.so"))
    finally:
        monkeypatch.undo()
        _backends._reset("cpu")
    assert _backends.available("cpu")
