"""The public Gaussian-splatting rasterizer :func:`rasterize` (gsplat's ``rasterization``
argument order), input validation and backend dispatch. The module is ``rendering`` (as
gsplat's ``gsplat/rendering.py``); the function is also ``humanrecon.splat.rasterize``.

The math is defined once, in ``conventions.md`` next to this file; ``"torch"`` is the
pure-PyTorch reference (:mod:`._torch_impl`), ``"cpu"`` / ``"cuda"`` are compiled
backends from :mod:`._backends` (same two stages, ``project`` and ``rasterize_pixels``).
SH colours and the tile bookkeeping reported in ``meta`` come from the reference for
every backend.
"""

from __future__ import annotations

import math
import os
import operator
import warnings

import torch

from humanrecon.errors import InputError
from humanrecon.splat import _torch_impl
from humanrecon.splat.config import BACKENDS, MAX_SH_DEGREE as _MAX_SH_DEGREE

RENDER_MODES = ("RGB", "RGB+ED")
_warned: set[str] = set()


# --------------------------------------------------------------------------- backends
def _backends_module():
    try:
        from humanrecon.splat import _backends
    except ImportError:
        return None
    return _backends


def backend_available(name: str) -> bool:
    """Whether backend ``name`` can run here: ``"torch"`` and ``"auto"`` always;
    ``"cpu"`` / ``"cuda"`` if :mod:`humanrecon.splat._backends` says so."""
    if name not in BACKENDS:
        raise InputError(f"backend must be one of {BACKENDS}, got {name!r}")
    if name in ("torch", "auto"):
        return True
    module = _backends_module()
    return bool(module is not None and module.available(name))


def resolve_backend(backend: str, device: torch.device) -> str:
    """The backend that will run for inputs on ``device``.

    ``"auto"``: ``"cuda"`` for CUDA inputs if available, ``"cpu"`` for CPU inputs if
    available, else ``"torch"``. An explicit ``"cpu"``/``"cuda"`` that is unavailable (or
    does not match the inputs' device) falls back to ``"torch"`` with one warning per
    process and backend.
    """
    if backend not in BACKENDS:
        raise InputError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "torch":
        return "torch"
    if backend == "auto":
        want = "cuda" if device.type == "cuda" else "cpu" if device.type == "cpu" else None
        return want if want is not None and backend_available(want) else "torch"
    if device.type != backend:
        why = f"the inputs are on {device.type}"
    elif not backend_available(backend):
        module = _backends_module()
        reason = getattr(module, "unavailable_reason", None) if module is not None else None
        why = (reason(backend) if reason is not None else None) or "it is not available (not built or failed to load)"
    else:
        return backend
    if backend not in _warned:
        _warned.add(backend)
        warnings.warn(f"splat backend {backend!r} cannot be used: {why}; using the pure-PyTorch 'torch' "
                      "backend instead (slow)", RuntimeWarning, stacklevel=3)
    return "torch"


# --------------------------------------------------------------------------- validation
def _tensor(x, name: str, shape: tuple, dtype: torch.dtype | None, device: torch.device | None,
            finite: bool = True) -> torch.Tensor:
    """Check ``x`` is a floating tensor of ``shape`` (None = any size) with the common
    dtype and device, and (``finite``; a device-to-host sync) finite."""
    if not isinstance(x, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype not in (torch.float32, torch.float64):
        raise InputError(f"{name} must be float32 or float64, got {x.dtype}")
    want = "(" + ", ".join("?" if s is None else str(s) for s in shape) + ")"
    if x.dim() != len(shape) or any(s is not None and s != d for s, d in zip(shape, x.shape)):
        raise InputError(f"{name} must have shape {want}, got {tuple(x.shape)}")
    if dtype is not None and x.dtype != dtype:
        raise InputError(f"{name} has dtype {x.dtype} but means has {dtype}: all float inputs must share one dtype")
    if device is not None and x.device != device:
        raise InputError(f"{name} is on {x.device} but means is on {device}: all inputs must share one device")
    if finite and not bool(torch.isfinite(x.detach()).all()):
        raise InputError(f"{name} must be finite, got NaN or inf")
    return x


def _size(v, name: str) -> int:
    if isinstance(v, (bool, float)):
        raise InputError(f"{name} must be an int >= 1, got {v!r}")
    try:
        v = operator.index(v)
    except TypeError:
        raise InputError(f"{name} must be an int >= 1, got {v!r}") from None
    if v < 1:
        raise InputError(f"{name} must be an int >= 1, got {v}")
    return v


def _sh_degree(colors: torch.Tensor, sh_degree) -> int | None:
    """None for plain RGB ``(N, 3)``; the degree for SH ``(N, K, 3)`` (inferred from a
    square ``K`` when not given)."""
    if colors.dim() == 2:
        if sh_degree is not None:
            raise InputError(f"sh_degree={sh_degree} needs SH colours of shape (N, K, 3), got {tuple(colors.shape)}")
        return None
    k = int(colors.shape[1])
    if sh_degree is None:
        root = math.isqrt(k)
        if root * root != k or k < 1:
            raise InputError(f"colors of shape {tuple(colors.shape)}: K={k} is not a square (deg+1)²; give sh_degree")
        sh_degree = root - 1
    if isinstance(sh_degree, bool) or not isinstance(sh_degree, int) or not 0 <= sh_degree <= _MAX_SH_DEGREE:
        raise InputError(f"sh_degree must be an int in 0..{_MAX_SH_DEGREE}, got {sh_degree!r}")
    if k < (sh_degree + 1) ** 2:
        raise InputError(f"sh_degree={sh_degree} needs K >= {(sh_degree + 1) ** 2} SH coefficients, got K={k}")
    return sh_degree


def available_memory(device: torch.device) -> int | None:
    """Bytes that can still be allocated on ``device`` (free GPU memory; the machine's
    available RAM on CPU), or None when unknown."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # not a POSIX system
        return None


def _check_output_memory(c: int, width: int, height: int, channels: int, dtype: torch.dtype,
                         device: torch.device) -> None:
    """One clear error, before any allocation, when the output images alone (``C·H·W·channels``
    values; the intermediates need more) do not fit into the memory ``device`` has free."""
    need = c * width * height * channels * torch.finfo(dtype).bits // 8
    have = available_memory(device)
    if have is not None and need > have:
        raise InputError(f"rendering {c} image(s) of {width}x{height} needs {need / 2**30:.1f} GiB for the output "
                         f"alone, more than the {have / 2**30:.1f} GiB free on {device.type}: render fewer "
                         "cameras at a time or smaller images")


# --------------------------------------------------------------------------- entry point
def rasterize(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    colors: torch.Tensor,
    viewmats: torch.Tensor,
    Ks: torch.Tensor,
    width: int,
    height: int,
    *,
    sh_degree: int | None = None,
    near_plane: float = 0.01,
    far_plane: float = 1e10,
    backgrounds: torch.Tensor | None = None,
    render_mode: str = "RGB",
    backend: str = "auto",
    validate: bool = True,
):
    """Render ``N`` 3D Gaussians into ``C`` cameras (differentiable; conventions.md).

    Args:
        means: ``(N, 3)`` world centres, metres.
        quats: ``(N, 4)`` rotations ``(w, x, y, z)``, any non-zero length (normalised inside).
        scales: ``(N, 3)`` standard deviations, metres, > 0.
        opacities: ``(N,)`` in [0, 1].
        colors: ``(N, 3)`` RGB, or SH coefficients ``(N, K, 3)`` (then ``sh_degree``
            selects the first ``(sh_degree + 1)²``; default: the degree a square K gives).
        viewmats: ``(C, 4, 4)`` world-to-camera, OpenCV axes (``Camera.viewmats_and_Ks()``).
        Ks: ``(C, 3, 3)`` intrinsics, pixels.
        width, height: image size, pixels.
        near_plane, far_plane: Gaussians with camera depth outside ``(near, far)`` are culled.
        backgrounds: ``(C, 3)`` or ``(3,)`` RGB behind the Gaussians (default black).
        render_mode: ``"RGB"`` or ``"RGB+ED"`` (expected depth ``D / max(alpha, 1e-10)``
            in metres as a 4th channel).
        backend: ``"auto"``, ``"torch"``, ``"cpu"`` or ``"cuda"`` (see :func:`resolve_backend`).
        validate: check the values too (finite, scales > 0, non-zero quaternions, opacities
            in [0, 1], the output fits into free memory). False skips every check that
            needs a device-to-host sync (for a trainer's inner loop, whose inputs are its own
            parameters); types, shapes, dtypes, devices and settings are always checked.

    Returns:
        ``(render_colors (C, H, W, 3|4), render_alphas (C, H, W, 1), meta)``; ``meta`` has
        ``radii (C, N)`` int32, ``means2d (C, N, 2)`` (the autograd intermediate: call
        ``meta["means2d"].retain_grad()`` before ``backward()``), ``depths (C, N)``,
        ``conics (C, N, 3)``, ``colors (C, N, 3)`` (after SH), ``tiles_per_gauss (C, N)``,
        ``tile_counts (C, tiles_y, tiles_x)``, ``width``, ``height``, ``n_cameras`` (C),
        ``tile_size`` and ``backend`` (the one that ran). dtype and device follow ``means``.

    Raises:
        InputError: wrong shapes, dtypes, devices, non-finite values, scales <= 0,
            zero-length quaternions, opacities outside [0, 1], sizes < 1, an unknown
            ``render_mode`` / ``backend``, too few SH coefficients for ``sh_degree``,
            images whose output would not fit into the device's free memory (the value
            checks only with ``validate=True``).
    """
    if render_mode not in RENDER_MODES:
        raise InputError(f"render_mode must be one of {RENDER_MODES}, got {render_mode!r}")
    if backend not in BACKENDS:
        raise InputError(f"backend must be one of {BACKENDS}, got {backend!r}")
    width, height = _size(width, "width"), _size(height, "height")
    validate = bool(validate)
    means = _tensor(means, "means", (None, 3), None, None, validate)
    dtype, device = means.dtype, means.device
    n = int(means.shape[0])
    quats = _tensor(quats, "quats", (n, 4), dtype, device, validate)
    scales = _tensor(scales, "scales", (n, 3), dtype, device, validate)
    opacities = _tensor(opacities, "opacities", (n,), dtype, device, validate)
    if isinstance(colors, torch.Tensor) and colors.dim() == 3:
        colors = _tensor(colors, "colors", (n, None, 3), dtype, device, validate)
    else:
        colors = _tensor(colors, "colors", (n, 3), dtype, device, validate)
    viewmats = _tensor(viewmats, "viewmats", (None, 4, 4), dtype, device, validate)
    c = int(viewmats.shape[0])
    if c < 1:
        raise InputError("viewmats must hold at least one camera, got shape (0, 4, 4)")
    Ks = _tensor(Ks, "Ks", (c, 3, 3), dtype, device, validate)
    if backgrounds is not None:
        if isinstance(backgrounds, torch.Tensor) and backgrounds.dim() == 1:
            backgrounds = _tensor(backgrounds, "backgrounds", (3,), dtype, device, validate).expand(c, 3)
        else:
            backgrounds = _tensor(backgrounds, "backgrounds", (c, 3), dtype, device, validate)
    sh_degree = _sh_degree(colors, sh_degree)
    if validate:  # value checks: each is a device-to-host sync
        if bool((scales.detach() <= 0).any()):
            raise InputError("scales must be > 0 (standard deviations in metres)")
        if bool((quats.detach().norm(dim=-1) < 1e-12).any()):
            raise InputError("quats has a zero-length quaternion (norm < 1e-12)")
        if bool(((opacities.detach() < 0) | (opacities.detach() > 1)).any()):
            raise InputError("opacities must lie in [0, 1]")
    near_plane, far_plane = float(near_plane), float(far_plane)
    if not (math.isfinite(near_plane) and near_plane < far_plane):
        raise InputError(f"need a finite near_plane < far_plane, got {near_plane}, {far_plane}")
    if validate:  # a free-memory probe
        _check_output_memory(c, width, height, 5 if render_mode == "RGB+ED" else 4, dtype, device)

    name = resolve_backend(backend, device)
    if name == "torch":
        project, raster = _torch_impl.project, _torch_impl.rasterize_pixels
    else:
        module = _backends_module()

        def project(*args):
            return module.project(*args, backend=name)

        def raster(*args):
            return module.rasterize_pixels(*args, backend=name)

    means2d, conics, depths, radii = project(means, quats, scales, viewmats, Ks, width, height, near_plane, far_plane)
    if sh_degree is None:
        rgb = colors[None].expand(c, n, 3)
    else:
        # degree 0 has no view direction: the colour is the same for every camera
        rgb = _torch_impl.sh_colors(colors, sh_degree, means, viewmats).expand(c, n, 3)
    if name == "torch":  # the reference sorts here; compiled backends bin inside their kernels
        tiles = _torch_impl.tile_intersections(means2d, radii, depths, width, height)
        tiles_per_gauss, tile_counts = tiles[1], tiles[2]
    else:
        tiles_per_gauss, tile_counts = _torch_impl.tile_coverage(means2d, radii, width, height)

    feats, bg = rgb, backgrounds
    if render_mode == "RGB+ED":
        feats = torch.cat([rgb, depths[..., None]], dim=-1)
        if bg is not None:
            bg = torch.cat([bg, bg.new_zeros(c, 1)], dim=-1)
    args = (means2d, conics, feats, opacities, depths, radii, width, height, bg)
    if name == "torch":
        render, alphas = raster(*args, tiles=tiles)
    else:
        render, alphas = raster(*args)
    if render_mode == "RGB+ED":
        render = torch.cat([render[..., :3], render[..., 3:] / torch.clamp(alphas, min=1e-10)], dim=-1)

    meta = {
        "radii": radii,
        "means2d": means2d,
        "depths": depths,
        "conics": conics,
        "colors": rgb,
        "tiles_per_gauss": tiles_per_gauss,
        "tile_counts": tile_counts,
        "width": width,
        "height": height,
        "n_cameras": c,
        "tile_size": _torch_impl.TILE_SIZE,
        "backend": name,
    }
    return render, alphas, meta
