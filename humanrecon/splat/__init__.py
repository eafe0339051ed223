"""3D Gaussian splatting: a differentiable rasterizer, a trainable model and its trainer.

The rasterizer's math is defined once, in ``conventions.md`` next to this file. Public
names are loaded lazily (PEP 562), so ``import humanrecon.splat`` (and its torch-free
``config``) does not import torch:

* :mod:`.rendering`: ``rasterize`` (the entry point, gsplat's ``rasterization``
  argument order; the module is named as gsplat's ``rendering``, so the package
  attribute ``rasterize`` is always the function), ``backend_available``,
  ``resolve_backend``
* :mod:`.model`: ``SplatModel``
* :mod:`.train`: ``train_splats``
* :mod:`.strategy`: ``DensityControl``; :mod:`.strategy_config`: ``DensityConfig``
* :mod:`.config`: ``SplatConfig``

Backends: ``"torch"`` (pure-PyTorch reference, :mod:`._torch_impl`), ``"cpu"`` and
``"cuda"`` (compiled, :mod:`._backends`), ``"auto"`` picks the fastest available.
"""

from __future__ import annotations

from humanrecon._lazy import lazy_exports

_EXPORTS = {
    "rasterize": "rendering",
    "backend_available": "rendering",
    "resolve_backend": "rendering",
    "SplatModel": "model",
    "train_splats": "train",
    "DensityControl": "strategy",
    "DensityConfig": "strategy_config",
    "SplatConfig": "config",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
