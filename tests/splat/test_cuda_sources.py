"""The CUDA kernels of the splat rasterizer (``humanrecon/splat/csrc/cuda.cu``):

(a) they build with ``nvcc -c -arch=sm_80`` (needs nvcc, no GPU), so a kernel that does
    not compile fails CI;
(b) they build through NVRTC exactly as ``_backends`` does at run time (needs a GPU);
(c) the ``cuda`` backend matches the torch reference (needs a GPU).
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
import torch

from humanrecon.splat import _backends
from humanrecon.splat import _torch_impl as ref

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU (torch.cuda.is_available() is False)")


def test_cuda_source_compiles_with_nvcc(tmp_path):
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc not found on PATH: cannot check that cuda.cu compiles")
    cmd = [nvcc, "-c", "-arch=sm_80", "-std=c++17", f"-I{_backends.CSRC}", str(_backends.CSRC / "cuda.cu"),
           "-o", str(tmp_path / "cuda.o")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stderr}"
    assert (tmp_path / "cuda.o").stat().st_size > 0


def test_nvrtc_source_is_self_contained():
    src = _backends.cuda_source()
    assert '#include "splat_math.h"' not in src  # the header is inlined for NVRTC
    assert "#include <" not in src.split("#else", 1)[0]  # no std headers on the device path
    for kernel in ("hr_project_fwd", "hr_project_bwd", "hr_rasterize_fwd", "hr_rasterize_bwd"):
        for suffix in ("f32", "f64"):
            assert f"{kernel}_##SUF" in src or f"{kernel}_{suffix}" in src


@needs_gpu
def test_cuda_source_compiles_with_nvrtc():
    major, minor = torch.cuda.get_device_capability()
    cubin = _backends.nvrtc_compile(_backends.cuda_source(), f"sm_{major}{minor}")
    assert len(cubin) > 1000
    reason = _backends.unavailable_reason("cuda")
    assert reason is None, reason


def _scene(dtype, device, n=400, n_cams=2, width=70, height=50):
    g = torch.Generator().manual_seed(3)
    f64 = torch.float64
    means = torch.randn(n, 3, generator=g, dtype=f64) * 1.5
    means[:8, 2] = -6.0  # behind the cameras
    means[8:14, 0] = 12.0  # off-screen
    quats = torch.randn(n, 4, generator=g, dtype=f64)
    scales = torch.rand(n, 3, generator=g, dtype=f64) * 0.15 + 0.01
    scales[14, 2] = 1e-6
    opacities = torch.rand(n, generator=g, dtype=f64) * 0.95 + 0.04
    colors = torch.rand(n_cams, n, 4, generator=g, dtype=f64)
    viewmats = torch.eye(4, dtype=f64).repeat(n_cams, 1, 1)
    viewmats[:, :3, 3] = torch.tensor([0.0, 0.0, 4.0], dtype=f64)
    viewmats[1, :3, 3] = torch.tensor([0.3, 0.1, 4.5], dtype=f64)
    Ks = torch.tensor([[60.0, 0.0, width / 2], [0.0, 60.0, height / 2], [0.0, 0.0, 1.0]], dtype=f64).repeat(
        n_cams, 1, 1)
    bg = torch.rand(n_cams, 4, generator=g, dtype=f64)
    tensors = dict(means=means, quats=quats, scales=scales, viewmats=viewmats, opacities=opacities, colors=colors,
                   backgrounds=bg)
    return {k: v.to(device=device, dtype=dtype) for k, v in tensors.items()}, Ks.to(device=device, dtype=dtype), \
        width, height


def _run(impl, leaves, Ks, W, H):
    leaves = {k: v.clone().requires_grad_(True) for k, v in leaves.items()}
    pargs = (leaves["means"], leaves["quats"], leaves["scales"], leaves["viewmats"], Ks, W, H)
    proj = ref.project(*pargs) if impl == "torch" else _backends.project(*pargs, backend=impl)
    m2, con, dep, rad = proj
    rargs = (m2, con, leaves["colors"], leaves["opacities"], dep, rad, W, H, leaves["backgrounds"])
    img, alpha = ref.rasterize_pixels(*rargs) if impl == "torch" else _backends.rasterize_pixels(*rargs, backend=impl)
    g = torch.Generator().manual_seed(9)
    loss = sum((x * torch.randn(x.shape, generator=g, dtype=torch.float64).to(x)).sum()
               for x in (img, alpha, 0.1 * dep, 0.01 * m2, con))
    loss.backward()
    return (m2.detach(), con.detach(), dep.detach(), rad, img.detach(), alpha.detach()), \
        {k: v.grad for k, v in leaves.items()}


@needs_gpu
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_cuda_backend_matches_reference(dtype):
    leaves, Ks, W, H = _scene(dtype, "cuda")
    out_r, g_r = _run("torch", leaves, Ks, W, H)
    out_c, g_c = _run("cuda", leaves, Ks, W, H)
    assert torch.equal(out_r[3], out_c[3])
    for a, b in zip(out_c[:3], out_r[:3]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5 * float(b.abs().max()))
    for a, b in zip(out_c[4:], out_r[4:]):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
    rtol, frac = (1e-7, 1e-10) if dtype == torch.float64 else (1e-4, 1e-5)
    for k in g_r:
        torch.testing.assert_close(g_c[k], g_r[k], rtol=rtol, atol=frac * float(g_r[k].abs().max()),
                                   msg=lambda m, k=k: f"gradient of {k}: {m}")


@needs_gpu
def test_cuda_matches_cpu_backend():
    if not _backends.available("cpu"):
        pytest.skip("cpu backend unavailable")
    leaves, Ks, W, H = _scene(torch.float64, "cuda")
    out_c, g_c = _run("cuda", leaves, Ks, W, H)
    cpu = {k: v.cpu() for k, v in leaves.items()}
    out_h, g_h = _run("cpu", cpu, Ks.cpu(), W, H)
    for a, b in zip(out_c, out_h):
        torch.testing.assert_close(a.cpu(), b, rtol=1e-9, atol=1e-9)
    for k in g_h:
        torch.testing.assert_close(g_c[k].cpu(), g_h[k], rtol=1e-7, atol=1e-10 * float(g_h[k].abs().max()))
