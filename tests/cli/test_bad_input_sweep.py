"""Bad input, table-driven, per command: exit status 2, one ``error:`` line naming the
file or flag, no traceback, and nothing new or changed in the output folder — checked
before any computation. (Output-path cases of ``nerf render``/``nerf mesh`` and value
checks of ``nerf render`` are in ``test_cli_outputs.py``.)"""

from __future__ import annotations

import json
import pickle
import struct
import zlib
from pathlib import Path

import pytest
import scipy.sparse

from humanrecon.cli import main
from tests.body.model_factory import random_model_arrays, write_npz

# --------------------------------------------------------------------------- fixtures the cases build


def _pose(tmp: Path, data: dict) -> Path:
    path = tmp / "pose.json"
    path.write_text(json.dumps(data))
    return path


def _cyclic_model(tmp: Path) -> Path:
    arrays = random_model_arrays("smpl", seed=0)
    arrays["kintree_table"] = arrays["kintree_table"].copy()
    arrays["kintree_table"][0, 1], arrays["kintree_table"][0, 2] = 2, 1
    return write_npz(arrays, tmp / "cyclic.npz")


def _pickle_with_regressor(tmp: Path, damage: str) -> Path:
    """An official-layout .pkl (plain arrays, csc_matrix J_regressor) with a damaged sparse matrix."""
    arrays = random_model_arrays("smpl", seed=0)
    regressor = scipy.sparse.csc_matrix(arrays["J_regressor"])
    if damage == "out_of_bounds":
        regressor.indices[0] = 10**6
    elif damage == "huge_shape":
        regressor._shape = (10**7, 10**7)
    else:
        del regressor.indices
    arrays["J_regressor"] = regressor
    path = tmp / f"{damage}.pkl"
    path.write_bytes(pickle.dumps(arrays, protocol=2))
    return path


def _huge_png(tmp: Path) -> Path:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    path = tmp / "huge.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
                     + chunk(b"IEND", b""))
    return path


def _keypoints(tmp: Path) -> Path:
    path = tmp / "kp.json"
    path.write_text(json.dumps({"people": [{"pose_keypoints_2d": [100.0, 100.0, 0.9] * 25}]}))
    return path


def _dataset(tmp: Path, *, angle: float | None = None, zero_matrix: bool = False, test_split: bool = True) -> Path:
    import torch

    from humanrecon.datasets import write_blender
    from humanrecon.geometry import Camera

    root = tmp / "ds"
    eye = torch.tensor([[0.0, 0.0, -2.0], [2.0, 0.0, 0.0]])
    cams = Camera.look_at(eye, torch.zeros(2, 3), (0.0, 1.0, 0.0), fov_x_rad=0.8, width=8, height=8)
    rgba = torch.rand(2, 8, 8, 4, generator=torch.Generator().manual_seed(0))
    for split in ("train", "test") if test_split else ("train",):
        write_blender(root, split, rgba, cams)
    meta_path = root / "transforms_train.json"
    meta = json.loads(meta_path.read_text())
    if angle is not None:
        meta["camera_angle_x"] = angle
        for key in ("fl_x", "fl_y"):
            meta.pop(key, None)
    if zero_matrix:
        meta["frames"][1]["transform_matrix"] = [[0.0] * 4] * 4
    meta_path.write_text(json.dumps(meta))
    return root


def _bad_points(tmp: Path) -> Path:
    path = tmp / "cloud.xyz"
    path.write_text("0 0 0\n1 2\nx y z\n")
    return path


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


def _garbage_run(tmp: Path) -> Path:
    run = tmp / "out"
    run.mkdir(exist_ok=True)
    (run / "model.pt").write_bytes(b"PK\x03\x04 not a checkpoint at all")
    return run


# --------------------------------------------------------------------------- the table
# each case: (id, builder(tmp, out) -> argv, text the error line must contain)
CASES = [
    ("body-out-extension", lambda t, o: ["body", "--out", o / "b.xyz"], "b.xyz"),
    ("body-png-extension", lambda t, o: ["body", "--out", o / "b.obj", "--png", o / "b.txt"], "b.txt"),
    ("body-out-under-a-file", lambda t, o: ["body", "--out", o / "file" / "b.obj"], "is a file"),
    ("body-out-is-a-folder", lambda t, o: ["body", "--out", _folder(o / "dir.obj")], "is a folder"),
    ("body-pose-huge-rotation", lambda t, o: ["body", "--out", o / "b.obj", "--pose",
                                             _pose(t, {"body_pose": {"left_elbow": [1e30, 0, 0]}})], "rotation"),
    ("body-pose-huge-betas", lambda t, o: ["body", "--out", o / "b.obj", "--pose", _pose(t, {"betas": [50]})],
     "pose.json: betas"),
    ("body-betas-1e30", lambda t, o: ["body", "--out", o / "b.obj", "--betas", "1e30"], "--betas"),
    ("body-betas-1e39", lambda t, o: ["body", "--out", o / "b.obj", "--betas", "1e39"], "--betas"),
    ("body-betas-empty-item", lambda t, o: ["body", "--out", o / "b.obj", "--betas", "1,,2"], "--betas"),
    ("body-num-betas-negative", lambda t, o: ["body", "--out", o / "b.obj", "--num-betas", "-3"], "--num-betas"),
    ("body-cyclic-kintree", lambda t, o: ["body", "--model", _cyclic_model(t), "--out", o / "b.obj"],
     "cyclic.npz: kintree_table"),
    ("body-pkl-indices-out-of-bounds", lambda t, o: ["body", "--model", _pickle_with_regressor(t, "out_of_bounds"),
                                                     "--out", o / "b.obj"], "'J_regressor'"),
    ("body-pkl-huge-shape", lambda t, o: ["body", "--model", _pickle_with_regressor(t, "huge_shape"),
                                          "--out", o / "b.obj"], "'J_regressor'"),
    ("body-pkl-no-indices", lambda t, o: ["body", "--model", _pickle_with_regressor(t, "no_indices"),
                                          "--out", o / "b.obj"], "'J_regressor'"),
    ("fit-out-is-a-file", lambda t, o: ["fit", _huge_png(t), "--keypoints", _keypoints(t), "--out", o / "file"],
     "is a file"),
    ("fit-huge-png", lambda t, o: ["fit", _huge_png(t), "--keypoints", _keypoints(t), "--out", o / "fit"],
     "huge.png"),
    ("implicit-steps-0", lambda t, o: ["implicit", "train", "--points", _bad_points(t), "--out", o / "s",
                                       "--steps", "0"], "steps"),
    ("implicit-steps-negative", lambda t, o: ["implicit", "train", "--points", _bad_points(t), "--out", o / "s",
                                              "--steps", "-5"], "steps"),
    ("implicit-hidden-0", lambda t, o: ["implicit", "train", "--points", _bad_points(t), "--out", o / "s",
                                        "--hidden", "0"], "--hidden"),
    ("implicit-malformed-points", lambda t, o: ["implicit", "train", "--points", _bad_points(t), "--out",
                                                o / "s"], "cloud.xyz: line 2"),
    ("implicit-out-under-a-file", lambda t, o: ["implicit", "train", "--points", _bad_points(t), "--out",
                                                o / "file" / "s"], "is a file"),
    ("nerf-steps-0", lambda t, o: ["nerf", "train", _dataset(t), "--out", o / "run", "--steps", "0"], "steps"),
    ("nerf-camera-angle-0", lambda t, o: ["nerf", "train", _dataset(t, angle=0.0), "--out", o / "run"],
     "camera_angle_x"),
    ("nerf-zero-transform", lambda t, o: ["nerf", "train", _dataset(t, zero_matrix=True), "--out", o / "run"],
     "frame 1 transform_matrix"),
    ("nerf-no-test-split", lambda t, o: ["nerf", "train", _dataset(t, test_split=False), "--out", o / "run"],
     "transforms_test.json"),
    ("nerf-resume-garbage", lambda t, o: ["nerf", "train", _dataset(t), "--out", _garbage_run(t), "--resume"],
     "not a humanrecon nerf checkpoint"),
    ("nerf-render-garbage-run", lambda t, o: ["nerf", "render", _garbage_run(t), "--dataset", _dataset(t),
                                              "--out", o / "orbit"], "not a humanrecon nerf checkpoint"),
]


@pytest.mark.parametrize("case, build, expected", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, case, build, expected):
    out = tmp_path / "out"
    out.mkdir()
    (out / "file").write_text("user data")
    argv = [str(a) for a in build(tmp_path, out)]
    before = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[0].startswith(f"humanrecon {argv[0]}: error: "), err
    assert expected in err, err
    if argv[0] != "fit":  # fit lists each failed image on its own line
        assert len(lines) == 1, err
    assert {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == before
    assert not any(p.name.endswith(".tmp") for p in tmp_path.rglob("*"))
