"""Find files shipped in ``assets/`` whether humanrecon runs from a source checkout or
from an installed wheel (where ``assets/`` is packaged as ``humanrecon.assets``)."""

from __future__ import annotations

import importlib.resources
import importlib.util
from pathlib import Path


def assets_dir() -> Path:
    """The directory holding the shipped assets (never relative to the working directory)."""
    if importlib.util.find_spec("humanrecon.assets") is not None:
        root = importlib.resources.files("humanrecon.assets")
        path = Path(str(root))
        if path.is_dir():
            return path
    return Path(__file__).resolve().parent.parent / "assets"


def asset_path(relative: str) -> Path:
    """Absolute path of a shipped asset, e.g. ``asset_path("models/open_body.npz")``.

    Raises FileNotFoundError naming the asset and the directory searched."""
    path = assets_dir() / relative
    if not path.exists():
        raise FileNotFoundError(f"shipped asset '{relative}' not found in {assets_dir()}; "
                                "reinstall humanrecon or rebuild it with tools/")
    return path
