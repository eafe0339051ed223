"""3D Gaussian splatting: a differentiable rasterizer, a trainable model and its trainer.

The rasterizer's math is defined once, in ``conventions.md`` next to this file. Public
names are loaded lazily (PEP 562), so ``import humanrecon.splat`` (and its torch-free
``config``) does not import torch:

* :mod:`.rasterize`: ``rasterize`` (the entry point, gsplat's ``rasterization``
  argument order), ``backend_available``, ``resolve_backend``
* :mod:`.model`: ``SplatModel``
* :mod:`.train`: ``train_splats``
* :mod:`.strategy`: ``DensityControl``; :mod:`.strategy_config`: ``DensityConfig``
* :mod:`.config`: ``SplatConfig``

Backends: ``"torch"`` (pure-PyTorch reference, :mod:`._torch_impl`), ``"cpu"`` and
``"cuda"`` (compiled, :mod:`._backends`), ``"auto"`` picks the fastest available.

``humanrecon.splat.rasterize`` is always the *function*, even after the submodule of the
same name has been imported. Reach the module with ``from humanrecon.splat.rasterize import
name`` or ``importlib.import_module("humanrecon.splat.rasterize")`` (both go through
``sys.modules``); ``import humanrecon.splat.rasterize as m`` binds the function.
"""

from __future__ import annotations

import importlib
import sys
import types

from humanrecon._lazy import lazy_exports

_EXPORTS = {
    "rasterize": "rasterize",  # served by _SplatPackage.rasterize below (listed for dir())
    "backend_available": "rasterize",
    "resolve_backend": "rasterize",
    "SplatModel": "model",
    "train_splats": "train",
    "DensityControl": "strategy",
    "DensityConfig": "strategy_config",
    "SplatConfig": "config",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


class _SplatPackage(types.ModuleType):
    """Keeps the package attribute ``rasterize`` the function: importing the submodule
    ``humanrecon.splat.rasterize`` would otherwise rebind it to the module."""

    @property
    def rasterize(self):
        override = self.__dict__.get("_rasterize_override")
        if override is not None:
            return override
        return importlib.import_module(f"{__name__}.rasterize").rasterize

    @rasterize.setter
    def rasterize(self, value) -> None:
        # the import system assigns the submodule here; anything else (a test double) wins
        self.__dict__["_rasterize_override"] = None if isinstance(value, types.ModuleType) else value

    @rasterize.deleter
    def rasterize(self) -> None:
        self.__dict__["_rasterize_override"] = None


sys.modules[__name__].__class__ = _SplatPackage
