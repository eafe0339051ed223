"""The pose library: coverage, anatomical joint limits, distinct poses, the fixed
tuning/reporting split, the loaders, and poses whose joints land where their names say
(checked on the posed open-body skeleton, an oracle independent of the pose builder)."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest
import torch

from humanrecon.body import BodyModel
from humanrecon.body.keypoints import SMPL_JOINT_NAMES
from humanrecon.body.pose_library import (CATEGORIES, POSE_LIBRARY, POSE_NAMES, REPORTING_POSES, TUNING_POSES,
                                          LibraryPose, library_pose, library_poses)
from humanrecon.body.poses import POSES, load_pose
from humanrecon.errors import InputError, PoseFileError
from humanrecon.fitting.priors import joint_limits

REQUIRED_CATEGORIES = ("standing", "walking", "running", "sitting", "ground", "kneeling", "squatting", "bending",
                       "reaching", "gesturing", "throwing", "kicking", "jumping", "lying", "stretching", "dancing",
                       "sports")
J = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}


@pytest.fixture(scope="module")
def skeletons() -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``({name: (24, 3) posed SMPL joints}, rest (24, 3))`` of the open body (metres)."""
    model = BodyModel.load("open")
    names, body, orient = library_poses()
    with torch.no_grad():
        joints = model(global_orient=torch.as_tensor(orient), body_pose=torch.as_tensor(body)).joints[:, :24]
        rest = model().joints[0, :24]
    return dict(zip(names, joints.numpy().astype(np.float64))), rest.numpy().astype(np.float64)


def _height_above_floor(joints: np.ndarray, joint: str) -> float:
    """Height of ``joint`` above the lowest ankle/foot joint (metres)."""
    floor = min(joints[J[n], 1] for n in ("left_ankle", "right_ankle", "left_foot", "right_foot"))
    return float(joints[J[joint], 1] - floor)


def _facing(joints: np.ndarray) -> np.ndarray:
    """Unit direction the pelvis faces: (left hip - right hip) x (neck - pelvis)."""
    across = joints[J["left_hip"]] - joints[J["right_hip"]]
    up = joints[J["neck"]] - joints[J["pelvis"]]
    f = np.cross(across, up)
    return f / np.linalg.norm(f)


# --------------------------------------------------------------------------- the library
def test_size_names_and_categories():
    assert len(POSE_LIBRARY) >= 60
    names = [p.name for p in POSE_LIBRARY]
    assert len(set(names)) == len(names) and tuple(names) == POSE_NAMES
    assert all(re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", n) for n in names)
    assert not set(names) & set(POSES)  # no clash with load_pose's built-in names
    counts = Counter(p.category for p in POSE_LIBRARY)
    assert set(counts) <= set(CATEGORIES)
    assert set(REQUIRED_CATEGORIES) <= set(counts), set(REQUIRED_CATEGORIES) - set(counts)
    assert min(counts.values()) >= 2
    # grouped by category, in CATEGORIES order
    order = [CATEGORIES.index(p.category) for p in POSE_LIBRARY]
    assert order == sorted(order)
    for p in POSE_LIBRARY:
        assert isinstance(p, LibraryPose)
        assert set(p.joints) <= set(SMPL_JOINT_NAMES[1:]), p.name
        assert all(len(v) == 3 and np.isfinite(v).all() for v in p.joints.values())
        assert len(p.global_orient) == 3 and np.isfinite(p.global_orient).all()


def test_issue_variety_is_present():
    for name in ("stand_relaxed", "stand_weight_on_right_leg", "stand_hands_in_pockets", "stand_arms_crossed",
                 "stand_hands_on_hips", "sit_on_chair", "sit_cross_legged", "sit_hugging_knees", "squat_deep",
                 "crouch_arms_forward", "bend_pick_up_object", "reach_up", "reach_forward", "reach_sideways_left",
                 "phone_at_right_ear", "wave_right_hand", "point_forward", "lying_on_back", "lying_on_side",
                 "boxing_guard", "tennis_ready", "golf_address", "baseball_batting_stance", "goalkeeper_ready",
                 "ski_tuck"):
        assert name in POSE_NAMES, name


def test_every_pose_is_within_the_joint_limits():
    limits = joint_limits().numpy().astype(np.float64)  # (23, 3, 2)
    names, body, _ = library_poses()
    body = body.reshape(-1, 23, 3).astype(np.float64)
    low, high = body < limits[..., 0] - 1e-6, body > limits[..., 1] + 1e-6
    bad = [f"{names[n]}: {SMPL_JOINT_NAMES[j + 1]} {'xyz'[a]} = {body[n, j, a]:.3f}"
           for n, j, a in zip(*np.nonzero(low | high))]
    assert not bad, bad


def test_poses_are_distinct(skeletons):
    joints, _ = skeletons
    names = list(joints)
    x = np.stack([joints[n] for n in names])  # (N, 24, 3)
    dist = np.linalg.norm(x[:, None] - x[None], axis=-1).mean(-1)  # mean 3D joint distance
    np.fill_diagonal(dist, np.inf)
    i, j = np.unravel_index(np.argmin(dist), dist.shape)
    assert dist[i, j] > 0.03, f"{names[i]} and {names[j]} differ by {dist[i, j] * 100:.1f} cm"


def test_poses_are_not_all_mirror_symmetric(skeletons):
    joints, _ = skeletons
    mirror = [J[n.replace("left_", "#").replace("right_", "left_").replace("#", "right_")] for n in SMPL_JOINT_NAMES]
    asym = {n: np.abs(x - x[mirror] * (-1.0, 1.0, 1.0)).max() for n, x in joints.items()}
    assert sum(a > 0.05 for a in asym.values()) >= 0.75 * len(asym)


# --------------------------------------------------------------------------- the split
def test_split_is_fixed_disjoint_and_balanced():
    assert not set(TUNING_POSES) & set(REPORTING_POSES)
    assert set(TUNING_POSES) | set(REPORTING_POSES) == set(POSE_NAMES)
    # the documented rule: alternate within each category, in library order
    for category in CATEGORIES:
        members = [p.name for p in POSE_LIBRARY if p.category == category]
        assert [n for n in TUNING_POSES if n in members] == members[0::2]
        assert [n for n in REPORTING_POSES if n in members] == members[1::2]
        if len(members) >= 2:
            assert members[0] in TUNING_POSES and members[1] in REPORTING_POSES
    # pinned, so that an accidental reordering or renaming fails here
    assert (len(POSE_LIBRARY), len(TUNING_POSES), len(REPORTING_POSES)) == (72, 36, 36)
    assert TUNING_POSES[:4] == ("stand_relaxed", "stand_hands_in_pockets", "stand_hands_on_hips",
                                "walk_left_heel_strike")
    assert REPORTING_POSES[:4] == ("stand_weight_on_right_leg", "stand_arms_crossed", "stand_texting",
                                   "walk_left_midstance")
    assert (TUNING_POSES[-1], REPORTING_POSES[-1]) == ("goalkeeper_ready", "ski_tuck")


# --------------------------------------------------------------------------- loaders
@pytest.mark.parametrize("split, size", [("all", 72), ("tuning", 36), ("reporting", 36)])
def test_library_poses_shapes(split, size):
    names, body, orient = library_poses(split)
    assert len(names) == size and body.shape == (size, 69) and orient.shape == (size, 3)
    assert body.dtype == np.float32 and orient.dtype == np.float32
    names21, body21, orient21 = library_poses(split, num_body_joints=21)
    assert names21 == names and body21.shape == (size, 63)
    np.testing.assert_array_equal(body21, body[:, :63])  # SMPL joints 22, 23 (hands) dropped
    np.testing.assert_array_equal(orient21, orient)


def test_library_pose_matches_the_table_and_rejects_bad_input():
    pose = next(p for p in POSE_LIBRARY if p.name == "phone_at_right_ear")
    arrays = library_pose("phone_at_right_ear")
    assert set(arrays) == {"body_pose", "global_orient"}
    assert arrays["body_pose"].shape == (69,) and arrays["body_pose"].dtype == np.float32
    for joint, value in pose.joints.items():
        np.testing.assert_allclose(arrays["body_pose"].reshape(23, 3)[J[joint] - 1], value, atol=1e-6)
    assert library_pose("lying_on_back", num_body_joints=21)["body_pose"].shape == (63,)
    with pytest.raises(PoseFileError, match="unknown library pose 'sit_on_sofa'.*sit_on_chair"):
        library_pose("sit_on_sofa")
    with pytest.raises(InputError, match="split"):
        library_poses("test")
    with pytest.raises(InputError, match="num_body_joints"):
        library_poses(num_body_joints=22)


def test_load_pose_and_the_command_line_take_library_names(tmp_path):
    for name in ("squat_deep", "lying_on_side"):
        for joints in (23, 21):
            loaded, direct = load_pose(name, joints), library_pose(name, joints)
            assert set(loaded) == set(direct)
            for key in loaded:
                np.testing.assert_array_equal(loaded[key], direct[key])
    with pytest.raises(PoseFileError, match="library poses"):
        load_pose("no_such_pose")
    from humanrecon.cli import main

    out = tmp_path / "body.obj"
    assert main(["body", "--pose", "lying_on_back", "--out", str(out)]) == 0
    vertices = np.array([[float(v) for v in line.split()[1:4]] for line in out.read_text().splitlines()
                         if line.startswith("v ")])
    extent = vertices.max(0) - vertices.min(0)
    assert extent[2] > 1.4 and extent[1] < 0.5  # lying along Z, not standing along Y


# --------------------------------------------------------------------------- poses look like their names
def test_standing_and_reaching(skeletons):
    joints, rest = skeletons
    stand = joints["stand_relaxed"]
    assert stand[J["head"], 1] - stand[J["pelvis"], 1] > 0.55
    assert (stand[[J["left_wrist"], J["right_wrist"]], 1] < stand[J["pelvis"], 1] + 0.05).all()  # arms down
    up = joints["reach_up"]
    assert up[[J["left_wrist"], J["right_wrist"]], 1].max() > up[J["head"], 1] + 0.3  # a wrist above the head
    both = joints["reach_up_both_hands"]
    assert (both[[J["left_wrist"], J["right_wrist"]], 1] > both[J["head"], 1] + 0.2).all()
    point = joints["point_forward"]
    assert point[J["right_wrist"], 2] - point[J["right_shoulder"], 2] > 0.4
    assert abs(point[J["right_wrist"], 1] - point[J["right_shoulder"], 1]) < 0.15
    side = joints["reach_sideways_left"]
    assert side[J["left_wrist"], 0] - side[J["left_shoulder"], 0] > 0.4


def test_hands_where_the_gestures_put_them(skeletons):
    joints, _ = skeletons
    phone = joints["phone_at_right_ear"]
    assert np.linalg.norm(phone[J["right_wrist"]] - phone[J["head"]]) < 0.15
    assert phone[J["right_wrist"], 0] < phone[J["head"], 0]  # on the right side of the head
    hips = joints["stand_hands_on_hips"]
    for side in ("left", "right"):
        assert np.linalg.norm(hips[J[f"{side}_wrist"]] - hips[J[f"{side}_hip"]]) < 0.15
        assert abs(hips[J[f"{side}_elbow"], 0]) > abs(hips[J[f"{side}_wrist"], 0]) + 0.1  # elbows out
    crossed = joints["stand_arms_crossed"]
    assert crossed[J["left_wrist"], 0] < crossed[J["left_elbow"], 0] - 0.1  # forearms cross the chest
    assert crossed[J["right_wrist"], 0] > crossed[J["right_elbow"], 0] + 0.1


def test_squatting_sitting_kneeling_heights(skeletons):
    joints, _ = skeletons
    standing = _height_above_floor(joints["stand_relaxed"], "pelvis")
    assert _height_above_floor(joints["squat_deep"], "pelvis") < standing - 0.25
    assert _height_above_floor(joints["crouch_arms_forward"], "pelvis") < standing - 0.25
    chair = joints["sit_on_chair"]
    for side in ("left", "right"):
        assert abs(chair[J[f"{side}_knee"], 1] - chair[J[f"{side}_hip"], 1]) < 0.1  # knees at hip height
        assert chair[J[f"{side}_knee"], 2] - chair[J[f"{side}_hip"], 2] > 0.3  # thighs forward
        assert chair[J[f"{side}_ankle"], 1] < chair[J[f"{side}_knee"], 1] - 0.35  # shins down
    kneel = joints["kneel_upright"]
    assert _height_above_floor(kneel, "left_knee") < 0.12 and _height_above_floor(kneel, "right_knee") < 0.12
    assert _height_above_floor(kneel, "head") > 1.0
    cross = joints["sit_cross_legged"]
    assert cross[J["left_ankle"], 0] < cross[J["left_knee"], 0] - 0.2  # shins folded inwards
    assert cross[J["right_ankle"], 0] > cross[J["right_knee"], 0] + 0.2


def test_lying_poses_lie(skeletons):
    joints, _ = skeletons
    for name, facing in (("lying_on_back", (0, 1, 0)), ("lying_on_front", (0, -1, 0)), ("lying_on_side", None)):
        x = joints[name]
        spine = x[J["head"]] - x[J["pelvis"]]
        assert abs(spine[1]) / np.linalg.norm(spine) < np.sin(np.radians(15)), name  # head-pelvis horizontal
        if facing is not None:
            assert _facing(x) @ np.array(facing) > 0.9, name
        else:
            hips = x[J["left_hip"]] - x[J["right_hip"]]
            assert hips[1] / np.linalg.norm(hips) < -0.8  # left hip below the right one: on the left side


def test_dynamic_poses(skeletons):
    joints, _ = skeletons
    walk = joints["walk_left_heel_strike"]
    assert walk[J["left_ankle"], 2] - walk[J["right_ankle"], 2] > 0.4
    kick = joints["kick_front"]
    assert kick[J["right_ankle"], 2] - kick[J["pelvis"], 2] > 0.6
    assert kick[J["right_ankle"], 1] > kick[J["left_knee"], 1]
    star = joints["jump_star"]
    assert star[J["left_ankle"], 0] - star[J["right_ankle"], 0] > 0.6
    assert (star[[J["left_wrist"], J["right_wrist"]], 1] > star[J["head"], 1]).all()
    fours = joints["kneel_on_all_fours"]
    spine = fours[J["neck"]] - fours[J["pelvis"]]
    assert abs(spine[1]) / np.linalg.norm(spine) < 0.35  # back roughly horizontal
    for part in ("left_wrist", "right_wrist", "left_knee", "right_knee"):
        assert _height_above_floor(fours, part) < 0.15, part  # on hands and knees
