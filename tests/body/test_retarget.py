"""Retargeting mocap onto a body by fitting: a clip exported from known body motion comes
back to the same joints (the exact oracle), whatever its units and up axis; the shipped
CMU flavours retarget; the written .npz round-trips through read_motion; bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from humanrecon.body import BodyModel
from humanrecon.body.motion import Motion, read_motion
from humanrecon.body.retarget import RetargetSettings, body_to_bvh, retarget, write_retargeted
from humanrecon.errors import InputError, PoseFileError

MOCAP = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mocap" / "cmu"
FAST = RetargetSettings(chunk=16, shape_frames=16, shape_iterations=300, first_iterations=250, iterations=120)


@pytest.fixture(scope="module")
def model():
    return BodyModel.load("open")


@pytest.fixture(scope="module")
def known_motion():
    """24 frames between library poses (a smooth walk through them), a turning root, a
    drifting translation and a non-mean shape."""
    from humanrecon.body.pose_library import library_poses

    _, body, _ = library_poses("reporting")
    a, b = np.asarray(body[3], np.float64), np.asarray(body[7], np.float64)
    s = np.linspace(0, 1, 24)[:, None]
    body_pose = ((1 - s) * a + s * b).astype(np.float32)
    yaw = np.linspace(0.0, 1.2, 24)
    root = np.stack([0.1 * np.ones(24), yaw, np.zeros(24)], 1).astype(np.float32)
    transl = np.stack([np.linspace(0, 0.5, 24), np.full(24, 0.9), np.linspace(0, 1.0, 24)], 1).astype(np.float32)
    betas = np.array([0.8, -0.5, 0.3, 0, 0, 0, 0, 0, 0, 0], np.float32)
    return Motion(global_orient=root, body_pose=body_pose, transl=transl, betas=betas, framerate=30.0)


@pytest.fixture(scope="module")
def retargeted(model, known_motion):
    return retarget(body_to_bvh(model, known_motion), model, settings=FAST, progress=False)


def body_joints(model, motion: Motion) -> np.ndarray:
    """(T, 24, 3) joints of the body model itself (smplx-equal forward)."""
    with torch.no_grad():
        out = model(global_orient=torch.as_tensor(motion.global_orient), body_pose=torch.as_tensor(motion.body_pose),
                    transl=torch.as_tensor(motion.transl),
                    betas=torch.as_tensor(motion.betas).expand(len(motion), -1))
    return out.joints[:, :24].numpy()


def test_the_exported_clip_is_the_bodys_skeleton(model, known_motion):
    bvh = body_to_bvh(model, known_motion)
    np.testing.assert_allclose(bvh.joint_positions() / 100.0, body_joints(model, known_motion), atol=1e-5)


@pytest.mark.parametrize("up", ["y", "z"])
def test_known_motion_comes_back_within_a_centimetre(model, known_motion, retargeted, up):
    bvh = body_to_bvh(model, known_motion)
    if up == "z":  # the same clip in a Z-up world: rotate the root and its translation
        from scipy.spatial.transform import Rotation

        turn = Rotation.from_euler("x", 90, degrees=True)
        root = turn * Rotation.from_rotvec(known_motion.global_orient.astype(np.float64))
        bvh.motion[:, 3:6] = root.as_euler("ZXY", degrees=True)
        bvh.offsets[0] = turn.apply(bvh.offsets[0])
        bvh.motion[:, :3] = turn.apply(bvh.motion[:, :3])
        assert np.abs(bvh.joint_positions()[:, 15, 2] - bvh.joint_positions()[:, 0, 2]).min() > 20  # head above, in Z
    result = retargeted if up == "y" else retarget(bvh, model, settings=FAST, progress=False)
    assert result.skeleton == "smpl" and result.scale == pytest.approx(0.01, rel=0.03)
    assert result.error_mm < 10, result.report()
    truth = body_joints(model, known_motion)
    fitted = body_joints(model, result.motion)
    if up == "y":  # the same world frame: the joints themselves come back
        distance = np.linalg.norm(fitted - truth, axis=-1)
        assert distance.mean() < 0.01, distance.mean()
    else:  # Y up again: the head above the pelvis along +Y
        assert (fitted[:, 15, 1] - fitted[:, 0, 1]).min() > 0.2
    # bone lengths: the fitted shape has the clip's proportions (a mean body would be off by cm)
    thigh = np.linalg.norm(fitted[:, 1] - fitted[:, 4], axis=-1)
    np.testing.assert_allclose(thigh, np.linalg.norm(truth[:, 1] - truth[:, 4], axis=-1), atol=0.01)


def test_written_npz_round_trips(retargeted, tmp_path):
    result = retargeted
    path = write_retargeted(tmp_path / "clip.npz", result, "smpl")
    back = read_motion(path, "smpl")
    np.testing.assert_allclose(back.body_pose, result.motion.body_pose, atol=1e-6)
    np.testing.assert_allclose(back.transl, result.motion.transl, atol=1e-6)
    np.testing.assert_allclose(back.betas[:10], result.motion.betas, atol=1e-6)
    assert back.framerate == pytest.approx(30.0)
    with np.load(path) as data:
        assert data["poses"].shape == (24, 72) and float(data["retarget_error_mm"]) == pytest.approx(result.error_mm)
    with pytest.raises(InputError, match="exists"):
        write_retargeted(path, result, "smpl")
    smplx = read_motion(write_retargeted(tmp_path / "x.npz", result, "smplx"), "smplx")
    np.testing.assert_allclose(smplx.body_pose, result.motion.body_pose[:, :63], atol=1e-6)


@pytest.mark.skipif(not MOCAP.is_dir(), reason="the shared CMU clips are not on this machine")
@pytest.mark.parametrize("clip, skeleton, max_error_mm", [("02_01.bvh", "daz", 40.0), ("16_01.bvh", "cmu", 40.0),
                                                          ("cc_01_01.bvh", "cc", 40.0)])
def test_the_shipped_flavours_retarget(model, clip, skeleton, max_error_mm):
    from humanrecon.body.bvh import read_bvh

    bvh = read_bvh(MOCAP / clip)
    result = retarget(bvh, model, settings=RetargetSettings(fps=2.0, chunk=16, shape_frames=16,
                                                            shape_iterations=300), progress=False)
    assert result.skeleton == skeleton
    assert result.error_mm < max_error_mm and result.limb_error_mm < 30, result.report()
    joints = body_joints(model, result.motion)
    assert (joints[:, 15, 1] - joints[:, 7, 1]).mean() > 1.0  # standing up along +Y: head over ankles
    assert 1.3 < (joints[:, 15, 1] - joints[:, 7, 1]).max() < 1.9  # a person's height, in metres


def test_the_cli_names_every_rig():
    from humanrecon.body.mocap_skeletons import SKELETONS
    from humanrecon.cli.motion import SKELETON_NAMES

    assert SKELETON_NAMES == tuple(SKELETONS)


def test_bad_input(model, tmp_path):
    from humanrecon.body.bvh import BVH

    unknown = BVH(path=tmp_path / "odd.bvh", names=("root", "a"), parents=np.array([-1, 0]),
                  offsets=np.zeros((2, 3)), end_sites={}, channels=(("Xrotation",), ("Xrotation",)),
                  frame_time=0.1, motion=np.zeros((3, 2)))
    with pytest.raises(PoseFileError, match="odd.bvh: a skeleton this importer does not know"):
        retarget(unknown, model, progress=False)
    with pytest.raises(InputError, match="unknown skeleton 'nope'"):
        retarget(unknown, model, skeleton="nope", progress=False)
    with pytest.raises(PoseFileError, match="needs joints"):
        retarget(unknown, model, skeleton="daz", progress=False)


def test_cli_import_writes_motion_report_and_picture(model, known_motion, tmp_path, capsys):
    from humanrecon.body.bvh import write_bvh
    from humanrecon.cli import main

    path = write_bvh(tmp_path / "walk.bvh", body_to_bvh(model, known_motion))
    out, png = tmp_path / "walk.npz", tmp_path / "walk.png"
    assert main(["motion", "import", str(path), "--out", str(out), "--png", str(png), "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["skeleton"] == "smpl" and report["error_mm"] < 15 and report["frames"] == 24
    assert len(read_motion(out)) == 24 and png.stat().st_size > 10_000
    out.write_bytes(b"user data")
    assert main(["motion", "import", str(path), "--out", str(out), "--quiet"]) == 2
    assert out.read_bytes() == b"user data"
    assert main(["motion", "import", str(path), "--out", str(tmp_path / "x.json"), "--quiet"]) == 2
    assert ".npz" in capsys.readouterr().err


def test_body_poses_a_motion_frame(model, known_motion, tmp_path):
    import trimesh

    from humanrecon.body.motion import write_motion
    from humanrecon.cli import main

    path = write_motion(tmp_path / "m.npz", known_motion, "smpl")
    assert main(["body", "--motion", str(path), "--frame", "-1", "--out", str(tmp_path / "last.obj")]) == 0
    mesh = trimesh.load(tmp_path / "last.obj", process=False)
    with torch.no_grad():
        truth = model(**{k: torch.as_tensor(v)[None] for k, v in known_motion.frame(-1).items()}).vertices[0]
    np.testing.assert_allclose(mesh.vertices, truth.numpy(), atol=1e-5)
    assert main(["body", "--motion", str(path), "--frame", "24", "--out", str(tmp_path / "x.obj")]) == 2
    assert main(["body", "--motion", str(path), "--pose", "t", "--out", str(tmp_path / "y.obj")]) == 2
