"""`humanrecon body` and `humanrecon info` end to end (in-process, through main())."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
import trimesh

from humanrecon.cli import main
from tests.body.model_factory import random_model_arrays, write_npz


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return write_npz(random_model_arrays("smpl", seed=4), tmp_path_factory.mktemp("m") / "SMPL_NEUTRAL.npz")


def test_body_writes_posed_mesh_matching_the_library(tmp_path, model_file):
    import torch

    from humanrecon.body import BodyModel
    from humanrecon.body.poses import load_pose

    out = tmp_path / "body.ply"
    assert main(["body", "--model", str(model_file), "--betas", "0.5,-1", "--pose", "walk", "--out", str(out)]) == 0
    mesh = trimesh.load(out, process=False)
    model = BodyModel.load(model_file)
    pose = {k: torch.as_tensor(v)[None] for k, v in load_pose("walk").items()}
    betas = torch.zeros(1, 10)
    betas[0, :2] = torch.tensor([0.5, -1.0])
    expected = model(betas=betas, **pose).vertices[0].detach().numpy()
    np.testing.assert_allclose(mesh.vertices, expected, atol=1e-5)
    np.testing.assert_array_equal(mesh.faces, model.faces)


def test_body_pose_json_by_joint_name_and_png(tmp_path, model_file):
    pose = tmp_path / "pose.json"
    pose.write_text(json.dumps({"body_pose": {"left_elbow": [0, -1.2, 0]}, "transl": [0, 0, 1]}))
    out, png = tmp_path / "b.obj", tmp_path / "b.png"
    assert main(["body", "--model", str(model_file), "--pose", str(pose), "--out", str(out), "--png", str(png)]) == 0
    assert out.stat().st_size > 0
    from humanrecon.render import load_image

    image = load_image(png)
    assert image.shape[0] > 100 and image.std() > 0.01  # a picture with content


def test_body_refuses_to_overwrite(tmp_path, model_file, capsys):
    out = tmp_path / "body.obj"
    out.write_text("user data")
    assert main(["body", "--model", str(model_file), "--out", str(out)]) == 2
    assert out.read_text() == "user data"
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert main(["body", "--model", str(model_file), "--out", str(out), "--overwrite"]) == 0
    assert out.read_text() != "user data"


@pytest.mark.parametrize(
    "pose_text, message",
    [
        ("{not json", "not valid JSON"),
        ('{"body_pose": [0, 1]}', "body_pose must have 69 numbers, got 2"),
        ('{"body_pose": {"left_elbw": [0, 0, 1]}}', "unknown joint 'left_elbw'"),
        ('{"global_orient": [NaN, 0, 0]}', "global_orient contains NaN"),
        ('{"bodypose": []}', "unknown keys"),
    ],
)
def test_body_bad_pose_files(tmp_path, model_file, capsys, pose_text, message):
    pose = tmp_path / "pose.json"
    pose.write_text(pose_text)
    assert main(["body", "--model", str(model_file), "--pose", str(pose), "--out", str(tmp_path / "o.obj")]) == 2
    err = capsys.readouterr().err
    assert "pose.json" in err and message in err
    assert not (tmp_path / "o.obj").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--betas", "1,x"], "--betas must be comma-separated numbers"),
        (["--betas", "nan"], "--betas contains NaN"),
        (["--betas", ",".join(["1"] * 11)], "11 betas given but the model uses 10"),
        (["--model", "missing.pkl"], "missing.pkl: model file not found"),
    ],
)
def test_body_bad_arguments(tmp_path, model_file, capsys, args, message):
    full = ["body", "--model", str(model_file), "--out", str(tmp_path / "o.obj")] + args
    assert main(full) == 2
    assert message in capsys.readouterr().err


def test_info_lists_models(tmp_path, model_file, capsys):
    assert main(["info", str(model_file.parent)]) == 0
    text = capsys.readouterr().out
    assert "torch" in text and "device:" in text
    assert "SMPL_NEUTRAL.npz: SMPL" in text
    assert "open " in text or "open\t" in text or "  open" in text


def test_help_is_fast_and_imports_nothing_heavy():
    code = "import sys, humanrecon.cli as c; c.build_parser(); print(sorted(m for m in ('torch','open3d','cv2') if m in sys.modules))"
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    assert time.perf_counter() - start < 5.0
