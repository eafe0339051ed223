"""Compiled backends of the splat rasterizer: ``"cpu"`` (C++ threads) and ``"cuda"`` (NVRTC).

Both run the same two differentiable stages as the pure-PyTorch reference
(:mod:`._torch_impl`), with exactly its signatures plus ``backend``:

* :func:`project` -> ``means2d (C,N,2), conics (C,N,3), depths (C,N), radii (C,N) int32``;
  gradients for ``means, quats, scales, viewmats`` (from ``means2d``, ``conics`` and
  ``depths``; ``Ks`` gets none; ``radii`` is not differentiable);
* :func:`rasterize_pixels` -> ``render (C,H,W,D), alphas (C,H,W,1)``; gradients for
  ``means2d, conics, colors, opacities, backgrounds`` (``depths``/``radii`` are only the
  sort key / cull flag).

Each is a :class:`torch.autograd.Function` whose backward calls hand-written backward
kernels.  All math lives in ``csrc/splat_math.h`` (``__host__ __device__`` inline
functions), shared by ``csrc/cpu.cpp`` and ``csrc/cuda.cu``; ``conventions.md`` is the
specification and ``_torch_impl`` the oracle the tests compare against.

dtypes: the kernels are templates instantiated for float32 and float64; inputs run in
their own dtype (the common promoted dtype of the float inputs; anything other than
float64 runs in float32 and results are cast back).

How the code is built
---------------------
* ``cpu``: ``csrc/cpu.cpp`` is compiled with ``$CXX`` (default ``g++``)
  ``-O3 -std=c++17 -shared -fPIC -pthread`` in a subprocess into a cache folder
  (``$HUMANRECON_CACHE/splat``, default ``~/.cache/humanrecon/splat``), the file name keyed
  by a hash of the sources, the flags and the compiler's ``--version``; it is written to a
  temporary name and renamed atomically, built at most once per process (under a lock) and
  loaded with :mod:`ctypes`; tensors are passed as ``data_ptr()`` of contiguous CPU
  tensors.  We deliberately do not use torch's C++ extension loader: compiling against the
  torch headers takes about a minute, a plain C++ library about 3 s, and raw-pointer
  kernels are what NVRTC needs anyway.  Without a working compiler ``available("cpu")`` is
  False and :func:`unavailable_reason` says why.
* ``cuda``: ``csrc/cuda.cu`` (with ``splat_math.h`` inlined in place of its ``#include``)
  is compiled at run time with NVRTC (through :mod:`ctypes` on the ``libnvrtc`` torch
  itself uses; ``torch.cuda._compile_kernel`` is the fallback, though it needs a CUDA
  toolkit for its include paths and compiles one kernel per call) once per device, then
  loaded and launched with torch's driver-API helpers (``torch.cuda._utils``).  Tile
  binning and the per-tile depth sort use the reference's
  :func:`._torch_impl.tile_intersections` (torch ops, on the GPU).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import tempfile
import threading
from pathlib import Path

import torch

from humanrecon.errors import InputError, MissingDependencyError

BACKENDS = ("cpu", "cuda")
CSRC = Path(__file__).resolve().parent / "csrc"
TILE_SIZE = 16
CXX_FLAGS = ("-O3", "-std=c++17", "-shared", "-fPIC", "-pthread")
_SOURCES = ("splat_math.h", "cpu.cpp")
_CUDA_KERNELS = ("hr_project_fwd", "hr_project_bwd", "hr_rasterize_fwd", "hr_rasterize_bwd")
_NVRTC_OPTIONS = ("-std=c++17",)


class BackendUnavailable(MissingDependencyError):
    """A compiled backend cannot be built or loaded here (the message says why); in the
    error family, and still an ``ImportError``."""


# --------------------------------------------------------------------------- CPU build
def cache_dir() -> Path:
    """Where compiled libraries are kept: ``$HUMANRECON_CACHE/splat`` or
    ``~/.cache/humanrecon/splat``."""
    root = os.environ.get("HUMANRECON_CACHE")
    return Path(root) / "splat" if root else Path.home() / ".cache" / "humanrecon" / "splat"


def _compiler() -> str:
    return os.environ.get("CXX") or "g++"


def cpu_library_path(cxx: str | None = None, cache: Path | None = None) -> Path:
    """The cache path of the CPU library for compiler ``cxx`` (raises
    :class:`BackendUnavailable` if the compiler does not run)."""
    cxx = cxx or _compiler()
    try:
        proc = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as err:
        raise BackendUnavailable(f"C++ compiler {cxx!r} does not run ({err}); set $CXX to a g++/clang++") from err
    if proc.returncode != 0:
        raise BackendUnavailable(f"C++ compiler {cxx!r} --version failed: {proc.stderr.strip()[:500]}")
    h = hashlib.sha256()
    for name in _SOURCES:
        h.update((CSRC / name).read_bytes())
    h.update(" ".join(CXX_FLAGS).encode())
    h.update(proc.stdout.encode())
    return (cache or cache_dir()) / f"libhrsplat_cpu_{h.hexdigest()[:20]}.so"


def build_cpu_library(cxx: str | None = None, cache: Path | None = None) -> tuple[Path, bool]:
    """Compile ``csrc/cpu.cpp`` into the cache unless it is there already.

    Returns ``(path, compiled)``; ``compiled`` is False when the cached file was reused.
    Safe against concurrent builds (each writes a temporary file, then renames atomically).
    Raises :class:`BackendUnavailable` with the reason when the compiler is missing or fails.
    """
    cxx = cxx or _compiler()
    path = cpu_library_path(cxx, cache)
    if path.is_file():
        return path, False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.stem + ".", suffix=".tmp.so", dir=path.parent)
        os.close(fd)
    except OSError as err:
        raise BackendUnavailable(f"cannot write the splat library cache {path.parent}: {err}") from err
    cmd = [cxx, *CXX_FLAGS, str(CSRC / "cpu.cpp"), "-o", tmp]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise BackendUnavailable(f"compiling the splat CPU kernels failed ({' '.join(cmd)}):\n"
                                     f"{proc.stderr.strip()[-4000:]}")
        os.replace(tmp, path)
    except (OSError, subprocess.SubprocessError) as err:
        raise BackendUnavailable(f"compiling the splat CPU kernels failed ({' '.join(cmd)}): {err}") from err
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path, True


_P = ctypes.c_void_p
_I = ctypes.c_int
_D = ctypes.c_double
_SIGNATURES = {
    "hr_project_fwd": ([_P] * 5 + [_I] * 4 + [_D, _D] + [_P] * 4 + [_I], None),
    "hr_project_bwd": ([_P] * 5 + [_I] * 4 + [_D, _D] + [_P] * 8 + [_I], None),
    "hr_tiles_per_gauss": ([_P, _P] + [_I] * 4 + [_P], ctypes.c_int64),
    "hr_bin_and_sort": ([_P] * 3 + [_I] * 4 + [_P, _P, _I], None),
    "hr_rasterize_fwd": ([_P] * 5 + [_I] * 5 + [_P] * 6 + [_I], None),
    "hr_rasterize_bwd": ([_P] * 5 + [_I] * 5 + [_P] * 10 + [_I], None),
}


def _load_cpu_library(path: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(path))
    for name, (args, res) in _SIGNATURES.items():
        for suffix in ("f32", "f64"):
            fn = getattr(lib, f"{name}_{suffix}")
            fn.argtypes = args
            fn.restype = res
    return lib


_lock = threading.Lock()
_state: dict[str, object] = {}  # backend -> loaded library/kernels, or BackendUnavailable


def _reset(name: str | None = None) -> None:
    """Forget the (failed or successful) build state, so the next call builds again."""
    with _lock:
        if name is None:
            _state.clear()
        else:
            _state.pop(name, None)


def _cpu_lib() -> ctypes.CDLL:
    with _lock:
        st = _state.get("cpu")
        if st is None:
            try:
                path, _ = build_cpu_library()
                st = _load_cpu_library(path)
            except BackendUnavailable as err:
                st = err
            except OSError as err:  # dlopen failed
                st = BackendUnavailable(f"cannot load the splat CPU library: {err}")
            _state["cpu"] = st
    if isinstance(st, BackendUnavailable):
        raise st
    return st  # type: ignore[return-value]


# --------------------------------------------------------------------------- CUDA build
def cuda_source() -> str:
    """``cuda.cu`` with ``splat_math.h`` inlined (what NVRTC compiles)."""
    header = (CSRC / "splat_math.h").read_text()
    src = (CSRC / "cuda.cu").read_text()
    return src.replace('#include "splat_math.h"', header, 1)


def _nvrtc_library() -> ctypes.CDLL:
    try:
        from torch.cuda._utils import _get_nvrtc_library

        return _get_nvrtc_library()
    except Exception:  # noqa: BLE001 - any failure: probe the usual names
        pass
    major = (torch.version.cuda or "12").split(".")[0]
    for name in (f"libnvrtc.so.{major}", "libnvrtc.so"):
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    raise BackendUnavailable("NVRTC (libnvrtc) not found")


def nvrtc_compile(source: str, arch: str, options: tuple[str, ...] = _NVRTC_OPTIONS) -> bytes:
    """Compile CUDA ``source`` with NVRTC for ``arch`` (e.g. ``"sm_90"``); returns the cubin.
    Raises :class:`BackendUnavailable` with NVRTC's log on failure."""
    lib = _nvrtc_library()

    def check(res: int, what: str) -> None:
        if res != 0:
            lib.nvrtcGetErrorString.restype = ctypes.c_char_p
            err = lib.nvrtcGetErrorString(res)
            raise BackendUnavailable(f"NVRTC {what} failed: {err.decode() if err else res}")

    prog = ctypes.c_void_p()
    check(lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), b"splat_cuda.cu", 0, None, None), "create")
    try:
        opts = [f"--gpu-architecture={arch}".encode(), *(o.encode() for o in options)]
        arr = (ctypes.c_char_p * len(opts))(*opts)
        res = lib.nvrtcCompileProgram(prog, len(opts), arr)
        if res != 0:
            size = ctypes.c_size_t()
            lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
            log = ctypes.create_string_buffer(size.value)
            lib.nvrtcGetProgramLog(prog, log)
            raise BackendUnavailable(f"NVRTC compilation of cuda.cu failed:\n{log.value.decode(errors='replace')}")
        size = ctypes.c_size_t()
        check(lib.nvrtcGetCUBINSize(prog, ctypes.byref(size)), "GetCUBINSize")
        cubin = ctypes.create_string_buffer(size.value)
        check(lib.nvrtcGetCUBIN(prog, cubin), "GetCUBIN")
        return cubin.raw
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(prog))


def _cuda_kernels(device: torch.device) -> dict:
    """The kernels loaded on ``device`` (compiled on first use, cached per device)."""
    if not torch.cuda.is_available():
        raise BackendUnavailable("torch.cuda.is_available() is False")
    index = device.index if device.index is not None else torch.cuda.current_device()
    key = f"cuda:{index}"
    with _lock:
        st = _state.get(key)
        if st is None:
            try:
                st = _compile_cuda(index)
            except BackendUnavailable as err:
                st = err
            except Exception as err:  # noqa: BLE001 - driver/NVRTC errors of any kind
                st = BackendUnavailable(f"building the splat CUDA kernels failed: {type(err).__name__}: {err}")
            _state[key] = st
    if isinstance(st, BackendUnavailable):
        raise st
    return st  # type: ignore[return-value]


def _compile_cuda(index: int) -> dict:
    names = [f"{k}_{s}" for k in _CUDA_KERNELS for s in ("f32", "f64")]
    major, minor = torch.cuda.get_device_capability(index)
    source = cuda_source()
    with torch.cuda.device(index):
        try:
            from torch.cuda._utils import _cuda_load_module
        except ImportError:
            _cuda_load_module = None
        if _cuda_load_module is not None:
            try:
                cubin = nvrtc_compile(source, f"sm_{major}{minor}")
            except BackendUnavailable as err:
                if "NVRTC compilation" in str(err) or not hasattr(torch.cuda, "_compile_kernel"):
                    raise
            else:
                return dict(_cuda_load_module(cubin, names))
        if not hasattr(torch.cuda, "_compile_kernel"):
            raise BackendUnavailable("this torch has neither torch.cuda._utils._cuda_load_module nor "
                                     "torch.cuda._compile_kernel (needs torch >= 2.8)")
        return {n: torch.cuda._compile_kernel(source, n, compute_capability=f"{major}{minor}",
                                              nvcc_options=list(_NVRTC_OPTIONS)) for n in names}


# --------------------------------------------------------------------------- availability
def available(name: str) -> bool:
    """Whether backend ``name`` (``"cpu"`` or ``"cuda"``) can run here; builds it on first call."""
    return unavailable_reason(name) is None


def unavailable_reason(name: str) -> str | None:
    """None if backend ``name`` works, else why not (for the caller's warning)."""
    if name not in BACKENDS:
        raise InputError(f"backend must be one of {BACKENDS}, got {name!r}")
    try:
        if name == "cpu":
            _cpu_lib()
        else:
            _cuda_kernels(torch.device("cuda"))
    except BackendUnavailable as err:
        return str(err)
    return None


# --------------------------------------------------------------------------- helpers
def _compute_dtype(*tensors: torch.Tensor | None) -> torch.dtype:
    dt = None
    for t in tensors:
        if t is not None and t.is_floating_point():
            dt = t.dtype if dt is None else torch.promote_types(dt, t.dtype)
    return torch.float64 if dt == torch.float64 else torch.float32


def _prep(t: torch.Tensor | None, dtype: torch.dtype, device: torch.device) -> torch.Tensor | None:
    if t is None:
        return None
    return t.detach().to(device=device, dtype=dtype).contiguous()


def _ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def _suffix(dtype: torch.dtype) -> str:
    return "f64" if dtype == torch.float64 else "f32"


def _n_threads() -> int:
    return max(1, torch.get_num_threads())


def _check_device(backend: str, t: torch.Tensor) -> torch.device:
    if backend not in BACKENDS:
        raise InputError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if t.device.type != backend:
        raise InputError(f"backend {backend!r} needs {backend} tensors, got {t.device}")
    return t.device


def _grid(n: int, block: int = 256) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    return (max(1, (n + block - 1) // block), 1, 1), (block, 1, 1)


# --------------------------------------------------------------------------- project
class _Project(torch.autograd.Function):
    @staticmethod
    def forward(ctx, means, quats, scales, viewmats, Ks, width, height, near_plane, far_plane, backend):
        device = _check_device(backend, means)
        dt = _compute_dtype(means, quats, scales, viewmats, Ks)
        m, q, s, v, k = (_prep(t, dt, device) for t in (means, quats, scales, viewmats, Ks))
        C, N = int(v.shape[0]), int(m.shape[0])
        W, H = int(width), int(height)
        means2d = m.new_empty((C, N, 2))
        conics = m.new_empty((C, N, 3))
        depths = m.new_empty((C, N))
        radii = torch.empty((C, N), dtype=torch.int32, device=device)
        if C * N > 0:
            if backend == "cpu":
                fn = getattr(_cpu_lib(), f"hr_project_fwd_{_suffix(dt)}")
                fn(m.data_ptr(), q.data_ptr(), s.data_ptr(), v.data_ptr(), k.data_ptr(), C, N, W, H,
                   float(near_plane), float(far_plane), means2d.data_ptr(), conics.data_ptr(), depths.data_ptr(),
                   radii.data_ptr(), _n_threads())
            else:
                kern = _cuda_kernels(device)[f"hr_project_fwd_{_suffix(dt)}"]
                grid, block = _grid(C * N)
                with torch.cuda.device(device):
                    kern(grid=grid, block=block, args=[m, q, s, v, k, C, N, W, H, float(near_plane),
                                                       float(far_plane), means2d, conics, depths, radii])
        ctx.save_for_backward(m, q, s, v, k, radii)
        ctx.meta = (W, H, float(near_plane), float(far_plane), backend,
                    [t.dtype for t in (means, quats, scales, viewmats)])
        ctx.mark_non_differentiable(radii)
        out_dt = means.dtype
        return means2d.to(out_dt), conics.to(out_dt), depths.to(out_dt), radii

    @staticmethod
    def backward(ctx, v_means2d, v_conics, v_depths, _v_radii):
        m, q, s, v, k, radii = ctx.saved_tensors
        W, H, near, far, backend, dtypes = ctx.meta
        dt, device = m.dtype, m.device
        C, N = int(v.shape[0]), int(m.shape[0])

        def grad(g, shape):
            return torch.zeros(shape, dtype=dt, device=device) if g is None else _prep(g, dt, device)

        gm2 = grad(v_means2d, (C, N, 2))
        gc = grad(v_conics, (C, N, 3))
        gd = grad(v_depths, (C, N))
        if backend == "cpu":
            v_means, v_quats, v_scales = m.new_zeros((N, 3)), m.new_zeros((N, 4)), m.new_zeros((N, 3))
            v_view = m.new_zeros((C, 4, 4))
            if C * N > 0:
                fn = getattr(_cpu_lib(), f"hr_project_bwd_{_suffix(dt)}")
                fn(m.data_ptr(), q.data_ptr(), s.data_ptr(), v.data_ptr(), k.data_ptr(), C, N, W, H, near, far,
                   radii.data_ptr(), gm2.data_ptr(), gc.data_ptr(), gd.data_ptr(), v_means.data_ptr(),
                   v_quats.data_ptr(), v_scales.data_ptr(), v_view.data_ptr(), _n_threads())
        else:
            vm_cn, vq_cn = m.new_zeros((C, N, 3)), m.new_zeros((C, N, 4))
            vs_cn, vv_cn = m.new_zeros((C, N, 3)), m.new_zeros((C, N, 12))
            if C * N > 0:
                kern = _cuda_kernels(device)[f"hr_project_bwd_{_suffix(dt)}"]
                grid, block = _grid(C * N)
                with torch.cuda.device(device):
                    kern(grid=grid, block=block, args=[m, q, s, v, k, C, N, W, H, near, far, radii, gm2, gc, gd,
                                                       vm_cn, vq_cn, vs_cn, vv_cn])
            v_means, v_quats, v_scales = vm_cn.sum(0), vq_cn.sum(0), vs_cn.sum(0)
            v_view = torch.cat([vv_cn.sum(1).reshape(C, 3, 4), m.new_zeros((C, 1, 4))], dim=1)
        grads = [g.to(d) for g, d in zip((v_means, v_quats, v_scales, v_view), dtypes)]
        return (*grads, None, None, None, None, None, None)


def project(means: torch.Tensor, quats: torch.Tensor, scales: torch.Tensor, viewmats: torch.Tensor,
            Ks: torch.Tensor, width: int, height: int, near_plane: float = 0.01, far_plane: float = 1e10,
            *, backend: str = "cpu"):
    """:func:`._torch_impl.project` run by the compiled ``backend`` (same arguments and
    outputs: ``means2d (C,N,2), conics (C,N,3), depths (C,N), radii (C,N) int32``)."""
    return _Project.apply(means, quats, scales, viewmats, Ks, int(width), int(height), float(near_plane),
                          float(far_plane), backend)


# --------------------------------------------------------------------------- rasterize
def _bin_cpu(lib, m2: torch.Tensor, depths: torch.Tensor, radii: torch.Tensor, W: int, H: int):
    """Per-tile depth-sorted Gaussian lists (CSR, int32) from the C++ binning."""
    C, N = radii.shape
    suf = _suffix(m2.dtype)
    tpg = torch.empty((C, N), dtype=torch.int32)
    total = int(getattr(lib, f"hr_tiles_per_gauss_{suf}")(m2.data_ptr(), radii.data_ptr(), C, N, W, H,
                                                           tpg.data_ptr()))
    tx, ty = -(-W // TILE_SIZE), -(-H // TILE_SIZE)
    offsets = torch.empty(C * tx * ty + 1, dtype=torch.int32)
    ids = torch.empty(max(total, 1), dtype=torch.int32)
    getattr(lib, f"hr_bin_and_sort_{suf}")(m2.data_ptr(), depths.data_ptr(), radii.data_ptr(), C, N, W, H,
                                           offsets.data_ptr(), ids.data_ptr(), _n_threads())
    return offsets, ids


def bin_gaussians(means2d: torch.Tensor, depths: torch.Tensor, radii: torch.Tensor, width: int, height: int,
                  backend: str = "cpu"):
    """``(tile_offsets (C*tiles_y*tiles_x + 1,), gauss_ids (M,))`` int32: the per-tile
    front-to-back lists (same as ``_torch_impl.tile_intersections``), from the C++ binning
    (``"cpu"``) or the torch one (``"cuda"``)."""
    W, H = int(width), int(height)
    if backend == "cpu":
        dt = _compute_dtype(means2d, depths)
        dev = torch.device("cpu")
        return _bin_cpu(_cpu_lib(), _prep(means2d, dt, dev), _prep(depths, dt, dev),
                        radii.detach().to(torch.int32).contiguous(), W, H)
    from humanrecon.splat._torch_impl import tile_intersections

    lists, _, _ = tile_intersections(means2d.detach(), radii, depths.detach(), W, H, TILE_SIZE)
    ids = lists.gauss_ids.to(torch.int32)
    if ids.numel() == 0:
        ids = torch.zeros(1, dtype=torch.int32, device=means2d.device)
    return lists.offsets.to(torch.int32).contiguous(), ids.contiguous()


class _Rasterize(torch.autograd.Function):
    @staticmethod
    def forward(ctx, means2d, conics, colors, opacities, depths, radii, width, height, backgrounds, backend):
        device = _check_device(backend, means2d)
        dt = _compute_dtype(means2d, conics, colors, opacities, backgrounds)
        m2, cn, col, op, bg = (_prep(t, dt, device) for t in (means2d, conics, colors, opacities, backgrounds))
        dep = _prep(depths, dt, device)
        rad = radii.detach().to(device=device, dtype=torch.int32).contiguous()
        C, N = int(rad.shape[0]), int(rad.shape[1])
        D = int(col.shape[-1])
        W, H = int(width), int(height)
        offsets, ids = bin_gaussians(m2, dep, rad, W, H, backend)
        render = m2.new_empty((C, H, W, D))
        alphas = m2.new_empty((C, H, W))
        t_final = m2.new_empty((C, H, W))
        last = torch.empty((C, H, W), dtype=torch.int32, device=device)
        if backend == "cpu":
            fn = getattr(_cpu_lib(), f"hr_rasterize_fwd_{_suffix(dt)}")
            fn(m2.data_ptr(), cn.data_ptr(), col.data_ptr(), op.data_ptr(), _ptr(bg), C, N, D, W, H,
               offsets.data_ptr(), ids.data_ptr(), render.data_ptr(), alphas.data_ptr(), t_final.data_ptr(),
               last.data_ptr(), _n_threads())
        else:
            kern = _cuda_kernels(device)[f"hr_rasterize_fwd_{_suffix(dt)}"]
            grid = (-(-W // TILE_SIZE), -(-H // TILE_SIZE), C)
            with torch.cuda.device(device):
                kern(grid=grid, block=(TILE_SIZE, TILE_SIZE, 1),
                     args=[m2, cn, col, op, bg if bg is not None else m2, int(bg is not None), C, N, D, W, H,
                           offsets, ids, render, alphas, t_final, last])
        ctx.save_for_backward(m2, cn, col, op, bg, offsets, ids, t_final, last)
        ctx.meta = (W, H, backend, [None if t is None else t.dtype
                                    for t in (means2d, conics, colors, opacities, backgrounds)])
        out_dt = means2d.dtype
        return render.to(out_dt), alphas[..., None].to(out_dt)

    @staticmethod
    def backward(ctx, v_render, v_alphas):
        m2, cn, col, op, bg, offsets, ids, t_final, last = ctx.saved_tensors
        W, H, backend, dtypes = ctx.meta
        dt, device = m2.dtype, m2.device
        C, N, D = int(m2.shape[0]), int(m2.shape[1]), int(col.shape[-1])
        vr = torch.zeros((C, H, W, D), dtype=dt, device=device) if v_render is None else _prep(v_render, dt, device)
        va = (torch.zeros((C, H, W), dtype=dt, device=device) if v_alphas is None
              else _prep(v_alphas.reshape(C, H, W), dt, device))
        v_m2, v_cn = m2.new_zeros((C, N, 2)), m2.new_zeros((C, N, 3))
        v_col, v_op = m2.new_zeros((C, N, D)), m2.new_zeros((N,))
        if backend == "cpu":
            fn = getattr(_cpu_lib(), f"hr_rasterize_bwd_{_suffix(dt)}")
            fn(m2.data_ptr(), cn.data_ptr(), col.data_ptr(), op.data_ptr(), _ptr(bg), C, N, D, W, H,
               offsets.data_ptr(), ids.data_ptr(), t_final.data_ptr(), last.data_ptr(), vr.data_ptr(),
               va.data_ptr(), v_m2.data_ptr(), v_cn.data_ptr(), v_col.data_ptr(), v_op.data_ptr(), _n_threads())
        else:
            kern = _cuda_kernels(device)[f"hr_rasterize_bwd_{_suffix(dt)}"]
            grid = (-(-W // TILE_SIZE), -(-H // TILE_SIZE), C)
            with torch.cuda.device(device):
                kern(grid=grid, block=(TILE_SIZE, TILE_SIZE, 1),
                     args=[m2, cn, col, op, bg if bg is not None else m2, int(bg is not None), C, N, D, W, H,
                           offsets, ids, t_final, last, vr, va, v_m2, v_cn, v_col, v_op])
        v_bg = None
        if bg is not None and ctx.needs_input_grad[8]:
            v_bg = (vr * t_final[..., None]).sum(dim=(1, 2)).to(dtypes[4])
        g = [x.to(d) for x, d in zip((v_m2, v_cn, v_col, v_op), dtypes)]
        return (*g, None, None, None, None, v_bg, None)


def rasterize_pixels(means2d: torch.Tensor, conics: torch.Tensor, colors: torch.Tensor, opacities: torch.Tensor,
                     depths: torch.Tensor, radii: torch.Tensor, width: int, height: int,
                     backgrounds: torch.Tensor | None = None, *, backend: str = "cpu"):
    """:func:`._torch_impl.rasterize_pixels` run by the compiled ``backend``: returns
    ``render (C,H,W,D) = C + T·background`` and ``alphas (C,H,W,1) = 1 - T``."""
    return _Rasterize.apply(means2d, conics, colors, opacities, depths, radii, int(width), int(height),
                            backgrounds, backend)


__all__ = ["available", "unavailable_reason", "project", "rasterize_pixels", "bin_gaussians", "build_cpu_library",
           "cpu_library_path", "cache_dir", "cuda_source", "nvrtc_compile", "BackendUnavailable", "BACKENDS"]
