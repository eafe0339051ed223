"""The public entry point ``humanrecon.splat.rasterize``: shapes, meta, dtype/device,
validation errors, empty scenes, backend dispatch and ``Camera.viewmats_and_Ks``."""

from __future__ import annotations

import importlib
import types
import warnings

import pytest
import torch

import humanrecon.splat
from humanrecon.errors import InputError
from humanrecon.geometry import Camera
from humanrecon.splat import rasterize as rasterize_module_attr
from humanrecon.splat.rendering import rasterize, resolve_backend


def scene(n=6, dtype=torch.float32, sh_k=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    colors = torch.rand(n, 3, generator=g) if sh_k is None else 0.3 * torch.randn(n, sh_k, 3, generator=g)
    s = {"means": (torch.rand(n, 3, generator=g) - 0.5), "quats": torch.randn(n, 4, generator=g),
         "scales": 0.05 + 0.1 * torch.rand(n, 3, generator=g), "opacities": 0.2 + 0.7 * torch.rand(n, generator=g),
         "colors": colors}
    return {k: v.to(dtype) for k, v in s.items()}


def cameras(c=2, w=20, h=14, dtype=torch.float32):
    cam = Camera.look_at(torch.tensor([[0.0, 0.0, -3.0], [1.0, -0.5, -2.5]][:c]), torch.zeros(c, 3),
                         (0.0, -1.0, 0.0), width=w, height=h, focal=25.0)
    vm, K = cam.viewmats_and_Ks()
    return vm.to(dtype), K.to(dtype)


def test_package_attribute_is_the_function():
    assert rasterize_module_attr is rasterize and humanrecon.splat.rasterize is rasterize
    module = importlib.import_module("humanrecon.splat.rendering")  # the module, named as gsplat's
    assert module.rasterize is rasterize and humanrecon.splat.rasterize is rasterize
    assert "rasterize" in dir(humanrecon.splat) and "rasterize" in humanrecon.splat.__all__
    # no submodule shadows the function, so the package is a plain module (no class hack)
    assert type(humanrecon.splat) is types.ModuleType
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("humanrecon.splat.rasterize")


def test_shapes_meta_and_means2d_grad():
    s = {k: v.requires_grad_(True) for k, v in scene().items()}
    vm, K = cameras()
    colors, alphas, meta = rasterize(**s, viewmats=vm, Ks=K, width=20, height=14, backend="torch")
    assert colors.shape == (2, 14, 20, 3) and alphas.shape == (2, 14, 20, 1)
    assert set(meta) >= {"radii", "means2d", "depths", "conics", "colors", "tiles_per_gauss", "tile_counts",
                         "width", "height", "tile_size"}
    assert meta["radii"].dtype == torch.int32 and meta["radii"].shape == (2, 6)
    assert meta["means2d"].shape == (2, 6, 2) and meta["conics"].shape == (2, 6, 3)
    assert meta["depths"].shape == (2, 6) and meta["colors"].shape == (2, 6, 3)
    assert meta["tiles_per_gauss"].shape == (2, 6) and meta["tile_counts"].shape == (2, 1, 2)
    assert meta["tile_counts"].sum() == meta["tiles_per_gauss"].sum()
    assert (meta["width"], meta["height"], meta["tile_size"], meta["backend"]) == (20, 14, 16, "torch")
    meta["means2d"].retain_grad()
    (colors.sum() + alphas.sum()).backward()
    assert meta["means2d"].grad is not None and meta["means2d"].grad.abs().sum() > 0
    assert all(v.grad is not None for v in s.values())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_and_device_follow_inputs(dtype):
    vm, K = cameras(1, dtype=dtype)
    colors, alphas, meta = rasterize(**scene(dtype=dtype, sh_k=16), viewmats=vm, Ks=K, width=20, height=14,
                                     sh_degree=2, render_mode="RGB+ED", backend="torch")
    assert colors.shape == (1, 14, 20, 4)
    for t in (colors, alphas, meta["means2d"], meta["depths"], meta["conics"], meta["colors"]):
        assert t.dtype == dtype and t.device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_inputs_stay_on_cuda():
    vm, K = cameras(1)
    s = {k: v.cuda() for k, v in scene().items()}
    colors, alphas, meta = rasterize(**s, viewmats=vm.cuda(), Ks=K.cuda(), width=20, height=14, backend="torch")
    assert colors.is_cuda and alphas.is_cuda and meta["radii"].is_cuda


def test_float32_matches_float64():
    vm, K = cameras()
    c32, a32, _ = rasterize(**scene(), viewmats=vm, Ks=K, width=20, height=14, backend="torch")
    c64, a64, _ = rasterize(**scene(dtype=torch.float64), viewmats=vm.double(), Ks=K.double(), width=20, height=14,
                            backend="torch")
    torch.testing.assert_close(c32.double(), c64, atol=1e-4, rtol=0)
    torch.testing.assert_close(a32.double(), a64, atol=1e-4, rtol=0)


def test_empty_scene_renders_background():
    vm, K = cameras()
    empty = {k: v[:0] for k, v in scene().items()}
    bg = torch.tensor([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    colors, alphas, meta = rasterize(**empty, viewmats=vm, Ks=K, width=20, height=14, backgrounds=bg,
                                     render_mode="RGB+ED", backend="torch")
    assert (alphas == 0).all() and colors.shape == (2, 14, 20, 4)
    assert torch.equal(colors[..., :3], bg[:, None, None, :].expand(2, 14, 20, 3))
    assert (colors[..., 3] == 0).all()
    assert meta["radii"].shape == (2, 0) and meta["tile_counts"].sum() == 0


def test_all_behind_camera_gives_background():
    vm, K = cameras(1)
    s = scene()
    s["means"] = s["means"] + torch.tensor([0.0, 0.0, -5.0])  # camera at z=-3 looks along +z
    bg = torch.tensor([0.7, 0.7, 0.7])
    colors, alphas, meta = rasterize(**s, viewmats=vm, Ks=K, width=20, height=14, backgrounds=bg, backend="torch")
    assert (meta["radii"] == 0).all() and (alphas == 0).all() and torch.allclose(colors, bg.expand_as(colors))


def _bad(**changes):
    s = scene(sh_k=9)
    vm, K = cameras()
    args = dict(s, viewmats=vm, Ks=K, width=20, height=14, sh_degree=2, backend="torch")
    args.update(changes)
    return args


@pytest.mark.parametrize("changes, match", [
    (dict(means=torch.zeros(6, 2)), "means must have shape"),
    (dict(quats=torch.zeros(5, 4) + 1), "quats must have shape"),
    (dict(scales=torch.ones(6, 3, dtype=torch.float64)), "dtype"),
    (dict(opacities=torch.ones(6, dtype=torch.int64)), "float32 or float64"),
    (dict(means=torch.full((6, 3), float("nan"))), "means must be finite"),
    (dict(Ks=torch.full((2, 3, 3), float("inf"))), "Ks must be finite"),
    (dict(scales=torch.zeros(6, 3)), "scales must be > 0"),
    (dict(quats=torch.zeros(6, 4)), "zero-length quaternion"),
    (dict(opacities=torch.full((6,), 1.5)), r"opacities must lie in \[0, 1\]"),
    (dict(width=0), "width must be an int >= 1"),
    (dict(height=2.5), "height must be an int >= 1"),
    (dict(render_mode="RGBA"), "render_mode must be one of"),
    (dict(backend="metal"), "backend must be one of"),
    (dict(sh_degree=3), "needs K >= 16"),
    (dict(sh_degree=4), "needs K >= 25|sh_degree must be an int in 0..3"),
    (dict(colors=torch.rand(6, 3), sh_degree=1), "needs SH colours"),
    (dict(colors=torch.rand(6, 5, 3), sh_degree=None), "not a square"),
    (dict(Ks=torch.eye(3).expand(3, 3, 3)), "Ks must have shape"),
    (dict(viewmats=torch.zeros(0, 4, 4), Ks=torch.zeros(0, 3, 3)), "at least one camera"),
    (dict(backgrounds=torch.zeros(2, 4)), "backgrounds must have shape"),
    (dict(near_plane=1.0, far_plane=0.5), "near_plane < far_plane"),
    (dict(means=[[0.0, 0.0, 0.0]] * 6), "means must be a torch.Tensor"),
    (dict(width=10**6, height=10**6), r"needs \d+\.\d GiB for the output alone, more than"),
])
def test_bad_inputs_raise_one_clear_input_error(changes, match):
    with pytest.raises(InputError, match=match):
        rasterize(**_bad(**changes))


def test_sh_degree_inferred_from_square_k():
    vm, K = cameras()
    s = scene(sh_k=4)
    _, _, meta_inferred = rasterize(**s, viewmats=vm, Ks=K, width=20, height=14, backend="torch")
    _, _, meta_given = rasterize(**s, viewmats=vm, Ks=K, width=20, height=14, sh_degree=1, backend="torch")
    torch.testing.assert_close(meta_inferred["colors"], meta_given["colors"])


def test_backend_dispatch_and_fallback_warning(monkeypatch):
    module = importlib.import_module("humanrecon.splat.rendering")

    cpu = torch.device("cpu")
    assert resolve_backend("torch", cpu) == "torch"
    monkeypatch.setattr(module, "_backends_module", lambda: None)  # as if _backends failed to import
    monkeypatch.setattr(module, "_warned", set())
    assert resolve_backend("auto", cpu) == "torch"
    with pytest.warns(RuntimeWarning, match="'cpu'"):
        assert resolve_backend("cpu", cpu) == "torch"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_backend("cpu", cpu) == "torch"  # warned once only

    class Fake:
        calls = []

        @staticmethod
        def available(name):
            return name == "cpu"

    monkeypatch.setattr(module, "_backends_module", lambda: Fake)
    assert resolve_backend("auto", cpu) == "cpu" and resolve_backend("cpu", cpu) == "cpu"
    assert resolve_backend("auto", torch.device("cuda")) == "torch"
    with pytest.warns(RuntimeWarning, match="'cuda'"):
        assert resolve_backend("cuda", cpu) == "torch"


def test_compiled_backend_receives_the_two_stages(monkeypatch):
    """rasterize routes project / rasterize_pixels through _backends with backend=name."""
    module = importlib.import_module("humanrecon.splat.rendering")
    from humanrecon.splat import _torch_impl

    seen = []

    class Fake:
        @staticmethod
        def available(name):
            return name == "cpu"

        @staticmethod
        def project(*args, backend):
            seen.append(("project", backend))
            return _torch_impl.project(*args)

        @staticmethod
        def rasterize_pixels(*args, backend):
            seen.append(("rasterize_pixels", backend))
            return _torch_impl.rasterize_pixels(*args)

    monkeypatch.setattr(module, "_backends_module", lambda: Fake)
    vm, K = cameras()
    c1, a1, meta = rasterize(**scene(), viewmats=vm, Ks=K, width=20, height=14)
    c2, a2, _ = rasterize(**scene(), viewmats=vm, Ks=K, width=20, height=14, backend="torch")
    assert seen == [("project", "cpu"), ("rasterize_pixels", "cpu")] and meta["backend"] == "cpu"
    assert torch.equal(c1, c2) and torch.equal(a1, a2)


def test_camera_viewmats_and_Ks_round_trip():
    cam = Camera.look_at(torch.tensor([[0.5, 1.0, -3.0], [2.0, 0.0, 1.0]], dtype=torch.float64),
                         torch.zeros(2, 3, dtype=torch.float64), width=32, height=24, fov_x_rad=0.9)
    vm, K = cam.viewmats_and_Ks()
    assert vm.shape == (2, 4, 4) and K.shape == (2, 3, 3) and vm.dtype == torch.float64
    torch.testing.assert_close(vm[:, 3], torch.tensor([[0.0, 0, 0, 1]] * 2, dtype=torch.float64))
    back = Camera(K, vm[:, :3, :3], vm[:, :3, 3], 32, 24)
    pts = torch.randn(2, 5, 3, dtype=torch.float64)
    homo = torch.cat([pts, torch.ones(2, 5, 1, dtype=torch.float64)], -1)
    torch.testing.assert_close((homo @ vm.transpose(1, 2))[..., :3], cam.world_to_camera(pts))
    torch.testing.assert_close(back.project(pts), cam.project(pts))
    # the rasterizer puts a Gaussian's 2D mean where Camera.project puts its centre
    s = scene(n=2, dtype=torch.float64)
    s["means"] = torch.tensor([[0.1, -0.2, 0.0], [0.3, 0.1, 0.2]], dtype=torch.float64)
    _, _, meta = rasterize(**s, viewmats=vm, Ks=K, width=32, height=24, backend="torch")
    torch.testing.assert_close(meta["means2d"], cam.project(s["means"]))


def test_validate_false_skips_the_value_checks_and_renders_the_same(monkeypatch):
    module = importlib.import_module("humanrecon.splat.rendering")
    vm, K = cameras()
    s = scene()
    bad = dict(s, means=s["means"].clone())
    bad["means"][2] = float("nan")
    with pytest.raises(InputError, match="means must be finite"):
        rasterize(**bad, viewmats=vm, Ks=K, width=20, height=14, backend="torch")
    # no check that needs a device-to-host sync runs: not the finite or value checks, nor
    # the free-memory probe
    monkeypatch.setattr(module, "available_memory", lambda device: pytest.fail("probed free memory"))
    colors, _, meta = rasterize(**bad, viewmats=vm, Ks=K, width=20, height=14, backend="torch", validate=False)
    assert (meta["radii"][:, 2] == 0).all() and torch.isfinite(colors).all()  # a NaN depth is culled
    rasterize(**dict(s, opacities=torch.full((6,), 1.5)), viewmats=vm, Ks=K, width=20, height=14, backend="torch",
              validate=False)
    with pytest.raises(InputError, match="means must have shape"):  # shapes are always checked
        rasterize(**dict(s, means=torch.zeros(6, 2)), viewmats=vm, Ks=K, width=20, height=14, validate=False)
    monkeypatch.undo()
    for backend in ("torch", "cpu"):
        checked = rasterize(**s, viewmats=vm, Ks=K, width=20, height=14, backend=backend)
        unchecked = rasterize(**s, viewmats=vm, Ks=K, width=20, height=14, backend=backend, validate=False)
        torch.testing.assert_close(unchecked[0], checked[0], atol=0, rtol=0)
        torch.testing.assert_close(unchecked[1], checked[1], atol=0, rtol=0)
        assert torch.equal(unchecked[2]["radii"], checked[2]["radii"])


def test_model_render_forwards_validate():
    from humanrecon.splat.model import SplatModel

    gen = torch.Generator().manual_seed(0)
    model = SplatModel.from_points(torch.rand(20, 3, generator=gen) - 0.5, sh_degree=1)
    with torch.no_grad():
        model.params["means"][3] = float("nan")
    camera = Camera.look_at(torch.tensor([[0.0, 0.0, 2.5]]), torch.zeros(1, 3), width=16, height=12, fov_x_rad=1.0)
    with pytest.raises(InputError, match="means must be finite"):
        model.render(camera, backend="torch")
    colors, _, meta = model.render(camera, backend="torch", validate=False)
    assert colors.shape == (1, 12, 16, 3) and meta["radii"][0, 3] == 0
