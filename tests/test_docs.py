"""The documentation's Python examples run as written: every ```python block of the pages
below, in order, in one namespace per page, from a scratch folder that sees the shipped
``assets/`` as the repository root does (the examples write ``runs/...``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
#: pages whose examples are complete programs (other pages show fragments)
PAGES = ["README.md", "docs/python-api.md", "docs/body.md", "docs/fitting.md"]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(page: str) -> list[str]:
    return BLOCK.findall((ROOT / page).read_text(encoding="utf-8"))


def test_the_pages_have_examples():
    assert len(python_blocks("docs/python-api.md")) >= 6
    assert python_blocks("docs/body.md") and python_blocks("docs/fitting.md")


@pytest.mark.parametrize("page", PAGES)
def test_examples_run(page, tmp_path, monkeypatch):
    blocks = python_blocks(page)
    if not blocks:
        pytest.skip(f"{page} has no Python example")
    (tmp_path / "assets").symlink_to(ROOT / "assets")
    monkeypatch.chdir(tmp_path)
    torch.set_num_threads(2)
    namespace: dict = {"__name__": "__docs__"}
    for i, block in enumerate(blocks):
        code = compile(block, f"{page} (example {i + 1})", "exec")
        exec(code, namespace)  # noqa: S102 - running the documentation's own examples is the test
