"""Every command checks every file it will write before any work: nothing is computed,
nothing is written, one error line names the file."""

from __future__ import annotations

import pytest

from humanrecon.cli import main


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def test_body_checks_png_format_before_writing_the_mesh(tmp_path, capsys):
    code, err = _run(capsys, "body", "--out", tmp_path / "b.obj", "--png", tmp_path / "b.txt")
    assert code == 2 and "--png" in err and "b.txt" in err
    assert list(tmp_path.iterdir()) == []
    code, err = _run(capsys, "body", "--out", tmp_path / "b.xyz")
    assert code == 2 and "--out" in err and "b.xyz" in err


def test_implicit_extract_checks_outputs_before_loading_or_extracting(tmp_path, capsys):
    # the checkpoint does not even exist: the output error must come first
    code, err = _run(capsys, "implicit", "extract", tmp_path / "none.pt", "--out", tmp_path / "m.xyz")
    assert code == 2 and "m.xyz" in err
    (tmp_path / "m.ply").write_text("user mesh")
    code, err = _run(capsys, "implicit", "extract", tmp_path / "none.pt", "--out", tmp_path / "m.ply")
    assert code == 2 and "m.ply exists; pass --overwrite" in err
    assert (tmp_path / "m.ply").read_text() == "user mesh"


def test_nerf_render_checks_every_view_file_first(tmp_path, capsys):
    out = tmp_path / "orbit"
    out.mkdir()
    (out / "view_005.png").write_text("user picture")
    code, err = _run(capsys, "nerf", "render", tmp_path / "run", "--dataset", tmp_path / "ds", "--out", out,
                     "--orbit", 8)
    assert code == 2 and "view_005.png exists" in err
    assert sorted(p.name for p in out.iterdir()) == ["view_005.png"]


@pytest.mark.parametrize("argv, message", [
    (["--orbit", "0"], "--orbit and --size must be >= 1"),
    (["--orbit", "-3"], "--orbit and --size must be >= 1"),
    (["--size", "-8"], "--orbit and --size must be >= 1"),
    (["--fps", "0"], "--fps must be > 0"),
])
def test_nerf_render_refuses_bad_values_before_work(tmp_path, capsys, argv, message):
    code, err = _run(capsys, "nerf", "render", tmp_path / "run", "--dataset", tmp_path / "ds", "--out",
                     tmp_path / "o", *argv)
    assert code == 2 and message in err
    assert not (tmp_path / "o").exists()


def test_nerf_train_resume_needs_a_run(tmp_path, capsys):
    code, err = _run(capsys, "nerf", "train", tmp_path / "ds", "--out", tmp_path / "run", "--resume")
    assert code == 2 and "no run to resume" in err and "model.pt" in err


@pytest.mark.parametrize("argv, message", [(["--steps", "0"], "positive integer"),
                                           (["--max-seconds", "0"], "time budget")])
def test_nerf_train_refuses_an_empty_budget(tmp_path, capsys, argv, message):
    code, err = _run(capsys, "nerf", "train", tmp_path / "ds", "--out", tmp_path / "run", *argv)
    assert code == 2 and message in err
    assert not (tmp_path / "run").exists()


def test_nerf_mesh_checks_format_and_level_first(tmp_path, capsys):
    code, err = _run(capsys, "nerf", "mesh", tmp_path / "run", "--out", tmp_path / "m.ply", "--level", "nan")
    assert code == 2 and "--level" in err
    code, err = _run(capsys, "nerf", "mesh", tmp_path / "run", "--out", tmp_path / "m.ply", "--png", tmp_path / "m.txt")
    assert code == 2 and "m.txt" in err
    assert list(tmp_path.iterdir()) == []
