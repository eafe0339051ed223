"""The pose corpus's parts: left/right mirroring (joints reflect through x = 0, by the body
model itself), heading removal, near-duplicate removal, the subject split, file round trip
and bad files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from humanrecon.body import BodyModel
from humanrecon.body.keypoints import SMPL_JOINT_NAMES
from humanrecon.body.pose_corpus import (PoseCorpus, distinct_poses, mirror_poses, pose_joints, read_corpus,
                                         subject_of, without_heading, write_corpus)
from humanrecon.errors import InputError, PoseFileError


@pytest.fixture(scope="module")
def model():
    return BodyModel.load("open")


def random_poses(n: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return (0.4 * torch.randn(n, 3, generator=g)).numpy(), (0.3 * torch.randn(n, 69, generator=g)).numpy()


def test_mirrored_poses_reflect_the_joints(model):
    """The mean-shape body is left/right symmetric to ~mm, so the mirrored pose's joints
    are the original's reflected through x = 0 with left and right exchanged."""
    root, body = random_poses(8)
    joints = pose_joints(model, root, body)
    m_root, m_body = mirror_poses(root, body)
    mirrored = pose_joints(model, m_root, m_body)
    swap = [SMPL_JOINT_NAMES.index(n.replace("left_", "@").replace("right_", "left_").replace("@", "right_"))
            for n in SMPL_JOINT_NAMES]
    expected = joints[:, swap] * np.array([-1.0, 1.0, 1.0])
    assert np.abs(mirrored - expected).max() < 0.01
    back = mirror_poses(m_root, m_body)
    np.testing.assert_allclose(back[1], body, atol=1e-6)


def test_heading_removal_faces_plus_z_and_keeps_the_lean():
    from scipy.spatial.transform import Rotation

    lean = Rotation.from_euler("x", 0.3)  # bent forward 0.3 rad
    turned = Rotation.from_euler("y", 2.0) * lean
    out = Rotation.from_rotvec(without_heading(turned.as_rotvec()[None].astype(np.float32)))
    forward = out.apply([0.0, 0.0, 1.0])[0]
    assert abs(forward[0]) < 1e-5 and forward[2] > 0
    np.testing.assert_allclose(out.as_matrix()[0], lean.as_matrix(), atol=1e-5)


def test_distinct_poses_drops_near_duplicates():
    joints = np.zeros((5, 24, 3))
    joints[1] += 0.001  # 1.7 mm from the first: a duplicate
    joints[2] += 0.1
    joints[3] = joints[2] + 0.005
    joints[4] -= 0.2
    np.testing.assert_array_equal(distinct_poses(joints, 0.02), [0, 2, 4])


def test_subject_of_and_split():
    assert subject_of("02_01") == 2 and subject_of("cc_06_13") == 6
    with pytest.raises(InputError, match="not a CMU clip name"):
        subject_of("walking")


def test_round_trip_and_bad_files(tmp_path):
    root, body = random_poses(4)
    corpus = PoseCorpus(body, root, np.array(["train", "train", "validation", "train"]), np.array([1, 1, 2, -1]),
                        np.array(["01_01", "01_01", "02_01", "library"]), np.array([False, True, False, False]))
    path = write_corpus(tmp_path / "c.npz", corpus)
    back = read_corpus(path)
    np.testing.assert_array_equal(back.body_pose, body)
    assert list(back.part("validation").clip) == ["02_01"] and len(back.part("train")) == 3
    with pytest.raises(InputError):
        write_corpus(path, corpus)
    with pytest.raises(PoseFileError, match="pose corpus not found"):
        read_corpus(tmp_path / "none.npz")
    np.savez(tmp_path / "bad.npz", body_pose=body)
    with pytest.raises(PoseFileError, match="bad.npz: not a pose corpus, missing"):
        read_corpus(tmp_path / "bad.npz")
    arrays = {k: getattr(corpus, k) for k in ("body_pose", "global_orient", "split", "subject", "clip", "mirrored")}
    arrays["body_pose"] = np.full((4, 69), np.nan)
    np.savez(tmp_path / "nan.npz", **arrays)
    with pytest.raises(PoseFileError, match="NaN"):
        read_corpus(tmp_path / "nan.npz")
