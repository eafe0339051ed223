"""Packaging: every subpackage is listed for the wheel, and assets resolve by location."""

from __future__ import annotations

import tomllib
from pathlib import Path

from humanrecon import _assets

ROOT = Path(__file__).resolve().parent.parent


def test_every_subpackage_is_in_the_wheel():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "humanrecon").rglob("__init__.py")}
    assert found <= listed, f"add to pyproject [tool.setuptools] packages: {sorted(found - listed)}"
    assert config["package-dir"]["humanrecon.assets"] == "assets"


def test_assets_resolve_independently_of_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _assets.assets_dir().resolve() == (ROOT / "assets").resolve()
    assert _assets.asset_path("models").is_dir()
