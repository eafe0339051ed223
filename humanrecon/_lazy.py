"""Lazy public names for packages (PEP 562): ``import humanrecon.render`` stays cheap
(no torch, open3d or cv2) and each name is imported from its module on first use."""

from __future__ import annotations

import importlib
from typing import Callable


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` whose public ``name`` lives in the
    module ``exports[name]``: a submodule's relative name, or an absolute module name
    (starting with ``humanrecon.``) for a name re-exported from its one home elsewhere.
    The loaded value is cached in the package."""
    import sys

    def __getattr__(name: str):
        if name in exports:
            module = exports[name]
            module = module if module.startswith("humanrecon.") else f"{package}.{module}"
            value = getattr(importlib.import_module(module), name)
            setattr(sys.modules[package], name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
