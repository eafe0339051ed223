"""Find files shipped in ``assets/``, whether humanrecon runs from a source checkout
(``<repo>/assets``) or from an installed wheel (``site-packages/humanrecon/assets``, where
pyproject.toml maps the top-level ``assets/`` folder). Never relative to the working
directory."""

from __future__ import annotations

from pathlib import Path

from humanrecon.errors import MissingFileError

_PACKAGE_DIR = Path(__file__).resolve().parent


def assets_dir() -> Path:
    """The directory holding the shipped assets."""
    installed = _PACKAGE_DIR / "assets"
    if installed.is_dir():
        return installed
    return _PACKAGE_DIR.parent / "assets"


def asset_path(relative: str) -> Path:
    """Absolute path of a shipped asset, e.g. ``asset_path("models/open_body.npz")``.

    Raises FileNotFoundError naming the asset and the directory searched."""
    path = assets_dir() / relative
    if not path.exists():
        raise MissingFileError(f"shipped asset '{relative}' not found in {assets_dir()}; "
                                "reinstall humanrecon or rebuild it with tools/")
    return path
