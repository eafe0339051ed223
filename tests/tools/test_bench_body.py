"""tools/bench_body.py: the shipped open body's row (with its COCO surface regressor) gives
smplx's numbers, the smplx version is the installed one, and no tool imports ``tests``."""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
from pathlib import Path

import pytest
import torch

from humanrecon._assets import asset_path
from humanrecon.body import load_model_arrays

TOOLS = Path(__file__).resolve().parents[2] / "tools"


def _load_tool():
    spec = importlib.util.spec_from_file_location("bench_body_tool", TOOLS / "bench_body.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", sorted(TOOLS.glob("*.py")), ids=lambda p: p.name)
def test_tools_do_not_import_tests(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        assert not any(n == "tests" or n.startswith("tests.") for n in names), f"{path.name} imports {names}"


def test_shipped_open_body_row():
    pytest.importorskip("smplx")
    tool = _load_tool()
    keep = ("v_template", "shapedirs", "J_regressor", "weights", "kintree_table", "f")
    arrays = {k: v for k, v in load_model_arrays(asset_path("models/open_body.npz")).items() if k in keep}
    row = tool.bench_model(arrays, repeats=1, shipped="open", batches=(1, 2))
    assert row["keypoints"] == "coco17" and row["output_joints"] == 24 + 11  # + face/feet from the regressor
    for batch in (1, 2):
        assert row[f"max_vertex_diff_m_b{batch}"] < 1e-5
        assert row[f"max_keypoint_diff_m_b{batch}"] < 1e-5
        assert row[f"humanrecon_ms_b{batch}"] > 0 and row[f"smplx_ms_b{batch}"] > 0


def test_smplx_version_is_the_installed_one(monkeypatch, capsys):
    pytest.importorskip("smplx")
    tool = _load_tool()
    monkeypatch.setattr(tool, "bench_model", lambda arrays, repeats, shipped="": {"stub": True})
    monkeypatch.setattr("sys.argv", ["bench_body.py", "--repeats", "1", "--threads", "1"])
    threads = torch.get_num_threads()
    try:
        tool.main()
    finally:
        torch.set_num_threads(threads)
    line = capsys.readouterr().out.strip()
    assert f'"baseline": "smplx {importlib.metadata.version("smplx")}"' in line
    assert '"open_shipped": {"stub": true}' in line
