"""BVH reader/writer (humanrecon.body.bvh): real CMU clips of the three flavours in the shared
data folder, forward kinematics against an independent scipy composition, write/read round
trips, and one PoseFileError (path + line number) for each kind of bad file."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from humanrecon.body.bvh import BVH, read_bvh, write_bvh
from humanrecon.errors import InputError, InputIndexError, OutputExistsError, PoseFileError

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mocap" / "cmu"


def _clip_path(name: str) -> Path:
    path = DATA / name
    if not path.is_file():
        pytest.skip(f"shared mocap clip {path} is not here (the CMU data folder is not part of the repository)")
    return path


def _text_facts(path: Path) -> dict:
    """Joint count, End Site count, channel count, frames and frame time read from the file
    text with regular expressions: an oracle independent of the parser."""
    text = path.read_text()
    return {
        "joints": len(re.findall(r"^\s*(?:ROOT|JOINT)\s", text, re.MULTILINE)),
        "root": re.search(r"^\s*ROOT\s+(\S+)", text, re.MULTILINE)[1],
        "end_sites": len(re.findall(r"^\s*End Site", text, re.MULTILINE)),
        "channels": sum(int(n) for n in re.findall(r"CHANNELS\s+(\d+)", text)),
        "frames": int(re.search(r"Frames:\s*(\d+)", text)[1]),
        "frame_time": float(re.search(r"Frame Time:\s*(\S+)", text)[1]),
    }


# -- real clips ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["02_01.bvh", "16_01.bvh", "cc_01_01.bvh"])
def test_real_clip_matches_its_text(name):
    path = _clip_path(name)
    facts = _text_facts(path)
    clip = read_bvh(path)
    assert clip.path == path
    assert len(clip.names) == facts["joints"] and clip.names[0] == facts["root"]
    assert len(clip.end_sites) == facts["end_sites"]
    assert clip.motion.shape == (facts["frames"], facts["channels"]) == (clip.num_frames, facts["channels"])
    assert clip.frame_time == facts["frame_time"]
    assert clip.parents[0] == -1 and all(0 <= clip.parents[j] < j for j in range(1, len(clip.names)))
    assert clip.parents.dtype == np.int64 and clip.offsets.shape == (len(clip.names), 3)
    # the last row of the file is the last row of motion
    last = path.read_text().rstrip().rsplit("\n", 1)[1].split()
    np.testing.assert_array_equal(clip.motion[-1], np.array(last, dtype=np.float64))
    xyz = clip.joint_positions()
    assert xyz.shape == (clip.num_frames, len(clip.names), 3) and np.isfinite(xyz).all()
    # bones are rigid: every parent-child distance is its OFFSET's length in every frame
    bones = np.linalg.norm(xyz[:, 1:] - xyz[:, clip.parents[1:]], axis=-1)
    np.testing.assert_allclose(bones, np.broadcast_to(np.linalg.norm(clip.offsets[1:], axis=-1), bones.shape),
                               atol=1e-8)


def test_every_shared_clip_parses():
    """All 90 clips (≈ 86 MB): each parses with one of the three skeletons, F > 0, finite
    positions; an empty file (cc_06_13.bvh is 0 bytes in the shared folder) is one
    PoseFileError. Takes about 2 s to parse and 2 s to pose on 2 cores."""
    paths = sorted(DATA.glob("*.bvh")) if DATA.is_dir() else []
    if not paths:
        pytest.skip(f"shared mocap clips not found in {DATA}")
    parsed = 0
    for path in paths:
        if path.stat().st_size == 0:
            with pytest.raises(PoseFileError, match=re.escape(str(path)) + ".*empty"):
                read_bvh(path)
            continue
        clip = read_bvh(path)
        joints = {"hip": (43, 31), "CC_Base_Hip": (100,)}[clip.names[0]]
        assert len(clip.names) in joints, path.name
        assert clip.num_frames > 0 and clip.motion.shape[1] == 6 + 3 * (len(clip.names) - 1)
        assert np.isfinite(clip.joint_positions()).all(), path.name
        parsed += 1
    assert parsed >= len(paths) - 1


def test_largest_clip_parses_fast():
    path = _clip_path("cc_01_01.bvh")  # 4.1 MB, the largest
    start = time.perf_counter()
    read_bvh(path)
    assert time.perf_counter() - start < 2.0


def test_daz_flavour():
    """02_01 (Daz-friendly cgspeed conversion): 43 joints, 120 fps, Y up, and frame 1 is a
    T-pose (arms straight out sideways), the frames after it are the CMU walk."""
    path = _clip_path("02_01.bvh")
    clip = read_bvh(path)
    assert len(clip.names) == _text_facts(path)["joints"] == 43
    assert clip.fps == pytest.approx(120.0, rel=1e-5)
    assert clip.channels[0] == ("Xposition", "Yposition", "Zposition", "Zrotation", "Yrotation", "Xrotation")
    assert set(clip.channels[1:]) == {("Zrotation", "Xrotation", "Yrotation")}
    np.testing.assert_array_equal(clip.offsets[0], 0.0)
    xyz = clip.joint_positions([0, clip.num_frames // 2])
    head, feet = xyz[:, clip.index("head")], xyz[:, [clip.index("lFoot"), clip.index("rFoot")]]
    rise = head - feet.mean(1)  # (2, 3): ankles-to-head
    assert (rise[:, 1] > 120).all() and (np.abs(rise[:, [0, 2]]) < 0.3 * rise[:, 1:2]).all()  # Y up
    # root height without any rotation: the Yposition channel ~ hip height in every frame
    assert 75 < clip.motion[:, 1].min() and clip.motion[:, 1].max() < 100
    hands = xyz[0, [clip.index("lHand"), clip.index("rHand")]]
    shoulders = xyz[0, [clip.index("lShldr"), clip.index("rShldr")]]
    assert np.abs(hands[:, 1] - shoulders[:, 1]).max() < 3 and np.linalg.norm(hands[0] - hands[1]) > 110


def test_cmu_names_flavour():
    clip = read_bvh(_clip_path("16_01.bvh"))
    assert len(clip.names) == 31 and clip.names[1:3] == ("lhipjoint", "lfemur")
    assert clip.fps == pytest.approx(30.0, rel=1e-4)
    xyz = clip.joint_positions(0)[0]
    assert xyz[clip.index("head"), 1] - xyz[clip.index("lfoot"), 1] > 20  # Y up, small units (~27 tall)


def test_cc_flavour():
    """cc_01_01 (Character Creator rig): 100 joints, 60 fps, root OFFSET (0, 105.2, 0).

    The up axis is **Y**, not Z as the data README says: under the standard BVH
    convention (the FK oracle test below), the ankles-to-head vector points along +Y by
    ~155 units (cm) in frame 1 and mid-clip; independently of any rotation, the root's Y
    (OFFSET + Yposition) stays between crouch and jump heights of a hip (88-145, standing
    at 112) through the whole clip, a forward-jumps clip that travels ~3 m along Z. Frame 1 is not a T-pose either: it
    differs from frame 2 by under 3 degrees in every channel, and the clip has exactly the
    1376 frames that CMU's index lists for this trial at 60 fps (no frame inserted)."""
    clip = read_bvh(_clip_path("cc_01_01.bvh"))
    assert len(clip.names) == 100 and all(n.startswith("CC_Base_") for n in clip.names)
    assert clip.fps == pytest.approx(60.0, rel=1e-4)
    np.testing.assert_allclose(clip.offsets[0], [0.0, 105.214226, 0.000021])
    xyz = clip.joint_positions([0, clip.num_frames // 2])
    feet = xyz[:, [clip.index("CC_Base_L_Foot"), clip.index("CC_Base_R_Foot")]].mean(1)
    rise = xyz[:, clip.index("CC_Base_Head")] - feet
    assert (rise[:, 1] > 140).all() and (np.abs(rise[:, [0, 2]]) < 0.2 * rise[:, 1:2]).all()  # Y up
    root = clip.offsets[0] + clip.motion[:, :3]
    assert 80 < root[:, 1].min() and root[:, 1].max() < 150 and abs(root[0, 1] - 112) < 2
    assert np.ptp(root[:, 2]) > 250  # the travel is along Z
    assert np.abs(clip.motion[0] - clip.motion[1]).max() < 3.0 and clip.num_frames == 1376


# -- forward kinematics oracle ------------------------------------------------------------
CHAIN_CHANNELS = (
    ("Zposition", "Xrotation", "Xposition", "Zrotation", "Yposition", "Yrotation"),  # root, interleaved
    ("Xrotation", "Zrotation", "Yrotation"),
    ("Yrotation", "Xrotation"),                      # a subset
    (),                                              # no channels: fixed to its parent
    ("Xposition", "Zrotation", "Yrotation", "Xrotation"),  # a child with a position channel
)
CHAIN_PARENTS = np.array([-1, 0, 1, 2, 0])


def _chain(frames: int = 7, seed: int = 0) -> BVH:
    rng = np.random.default_rng(seed)
    width = sum(len(c) for c in CHAIN_CHANNELS)
    motion = rng.uniform(-180, 180, size=(frames, width))
    motion[:, [0, 2, 4, 11]] = rng.normal(0, 20, size=(frames, 4))  # the 'position' channels' columns
    return BVH(path=Path(), names=("root", "spine", "neck", "head", "leg"), parents=CHAIN_PARENTS,
               offsets=np.array([[1.0, 2.0, 3.0], [0.5, 10.0, -1.0], [2.0, 7.0, 1.5], [-1.0, 4.0, 3.0],
                                 [8.0, -9.0, 0.5]]),
               end_sites={3: np.array([0.0, 3.0, 1.0]), 4: np.array([1.0, -5.0, 2.0])},
               channels=CHAIN_CHANNELS, frame_time=1 / 24, motion=motion)


def _oracle(clip: BVH, frame: int) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Joint and end-site positions of one frame, composed by hand with scipy (uppercase
    sequence = intrinsic rotations), one joint and one channel at a time."""
    values = iter(clip.motion[frame])
    world_r, world_p = [], []
    for j, channels in enumerate(clip.channels):
        seq, angles, t = "", [], clip.offsets[j].copy()
        for name in channels:
            v = next(values)
            if name.endswith("rotation"):
                seq, angles = seq + name[0], angles + [v]
            else:
                t["XYZ".index(name[0])] += v
        r = Rotation.from_euler(seq, angles, degrees=True).as_matrix() if seq else np.eye(3)
        p = clip.parents[j]
        world_r.append(r if p < 0 else world_r[p] @ r)
        world_p.append(t if p < 0 else world_p[p] + world_r[p] @ t)
    ends = {j: world_p[j] + world_r[j] @ off for j, off in clip.end_sites.items()}
    return np.array(world_p), ends


def test_forward_kinematics_matches_scipy_composition():
    clip = _chain(frames=7, seed=1)
    xyz, ends = clip.joint_positions(), clip.end_site_positions()
    assert xyz.shape == (7, 5, 3) and set(ends) == {3, 4}
    for frame in (0, 3, 6):
        want, want_ends = _oracle(clip, frame)
        np.testing.assert_allclose(xyz[frame], want, atol=1e-9, rtol=0)
        for j in want_ends:
            np.testing.assert_allclose(ends[j][frame], want_ends[j], atol=1e-9, rtol=0)
    # local rotations: scipy's intrinsic Euler in the listed order
    rot = clip.local_rotations([2])
    np.testing.assert_allclose(rot[0, 1], Rotation.from_euler("XZY", clip.motion[2, 6:9], degrees=True).as_matrix(),
                               atol=1e-12)
    np.testing.assert_allclose(rot[0, 3], np.eye(3))
    trans = clip.local_translations(2)
    np.testing.assert_allclose(trans[0, 0], clip.offsets[0] + clip.motion[2, [2, 4, 0]])
    np.testing.assert_allclose(trans[0, 4], clip.offsets[4] + [clip.motion[2, 11], 0, 0])


def test_rotation_sign_and_order_by_hand():
    """Rz(90) takes x to y (right-handed); Zrotation Xrotation composes as Rz @ Rx, so a
    child offset along y goes Rx(90): y -> z, then Rz(90): z stays z."""
    clip = BVH(path=Path(), names=("a", "b"), parents=[-1, 0], offsets=[[0, 0, 0], [0, 1, 0]], end_sites={},
               channels=(("Zrotation", "Xrotation"), ()), frame_time=0.1, motion=[[90.0, 0.0], [90.0, 90.0]])
    np.testing.assert_allclose(clip.joint_positions()[:, 1], [[-1, 0, 0], [0, 0, 1]], atol=1e-12)


def test_frame_selection():
    clip = _chain(frames=5)
    full = clip.joint_positions()
    np.testing.assert_array_equal(clip.joint_positions(2), full[2:3])
    np.testing.assert_array_equal(clip.joint_positions([4, 0]), full[[4, 0]])
    np.testing.assert_array_equal(clip.joint_positions(np.arange(5) % 2 == 0), full[::2])
    np.testing.assert_array_equal(clip.end_site_positions(slice(1, 3))[4], clip.end_site_positions()[4][1:3])
    with pytest.raises(InputIndexError, match="out of range"):
        clip.joint_positions(5)


def test_index_names_file_and_joint(tmp_path):
    path = write_bvh(tmp_path / "chain.bvh", _chain())
    clip = read_bvh(path)
    assert clip.index("neck") == 2
    with pytest.raises(PoseFileError, match=re.escape(str(path)) + ".*'tail'"):
        clip.index("tail")


def test_in_memory_bvh_is_checked():
    good = _chain()
    with pytest.raises(InputError, match="motion must be"):
        BVH(path=Path(), names=good.names, parents=good.parents, offsets=good.offsets, end_sites={},
            channels=good.channels, frame_time=0.1, motion=good.motion[:, :-1])
    with pytest.raises(InputError, match="parents"):
        BVH(path=Path(), names=good.names, parents=[-1, 0, 3, 2, 0], offsets=good.offsets, end_sites={},
            channels=good.channels, frame_time=0.1, motion=good.motion)


# -- writing ------------------------------------------------------------------------------
def _assert_same(a: BVH, b: BVH, atol: float) -> None:
    assert a.names == b.names and a.channels == b.channels and a.frame_time == b.frame_time
    np.testing.assert_array_equal(a.parents, b.parents)
    np.testing.assert_array_equal(a.offsets, b.offsets)
    assert set(a.end_sites) == set(b.end_sites)
    for j in a.end_sites:
        np.testing.assert_array_equal(a.end_sites[j], b.end_sites[j])
    np.testing.assert_allclose(a.motion, b.motion, atol=atol, rtol=0)


@pytest.mark.parametrize("precision", [6, 3])
def test_write_read_round_trip(tmp_path, precision):
    clip = _chain(frames=11, seed=2)
    path = write_bvh(tmp_path / "chain.bvh", clip, precision=precision)
    back = read_bvh(path)
    assert back.path == path
    _assert_same(clip, back, atol=0.5 * 10.0**-precision + 1e-12)
    if precision == 3:
        assert np.abs(back.motion - clip.motion).max() > 1e-5  # really rounded
    np.testing.assert_allclose(back.joint_positions(), clip.joint_positions(), atol=20 * 10.0**-precision)


def test_write_read_round_trip_real_clip(tmp_path):
    clip = read_bvh(_clip_path("02_01.bvh"))
    back = read_bvh(write_bvh(tmp_path / "copy.bvh", clip))
    _assert_same(clip, back, atol=0.5e-6 + 1e-12)
    np.testing.assert_allclose(back.joint_positions(), clip.joint_positions(), atol=1e-4)


def test_write_puts_joints_in_depth_first_order(tmp_path):
    """A joint order that is not depth-first (SMPL's: pelvis, l_hip, r_hip, l_knee, ...)
    cannot be kept by a BVH file: the file lists the joints depth-first, and each joint
    keeps its name, parent, offset, channels, values and positions."""
    rng = np.random.default_rng(3)
    names = ("pelvis", "l_hip", "r_hip", "l_knee", "r_knee")
    channels = (("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation"),
                ("Zrotation", "Xrotation", "Yrotation"), ("Xrotation",), ("Yrotation", "Zrotation"), ())
    clip = BVH(path=Path(), names=names, parents=[-1, 0, 0, 1, 2], offsets=rng.normal(size=(5, 3)),
               end_sites={3: np.array([0.0, -1.0, 0.2])}, channels=channels, frame_time=0.05,
               motion=rng.uniform(-90, 90, size=(4, 12)))
    back = read_bvh(write_bvh(tmp_path / "smpl.bvh", clip))
    assert back.names == ("pelvis", "l_hip", "l_knee", "r_hip", "r_knee")
    assert [back.names[p] for p in back.parents[1:]] == ["pelvis", "l_hip", "pelvis", "r_hip"]
    order = [names.index(n) for n in back.names]
    assert back.channels == tuple(channels[j] for j in order)
    np.testing.assert_array_equal(back.offsets, clip.offsets[order])
    np.testing.assert_allclose(back.motion[:, 9:11], clip.motion[:, 10:12], atol=5e-7)  # l_knee's values
    np.testing.assert_allclose(back.joint_positions(), clip.joint_positions()[:, order], atol=1e-5)
    np.testing.assert_allclose(back.end_site_positions()[2], clip.end_site_positions()[3], atol=1e-5)


def test_write_refuses_to_overwrite(tmp_path):
    path = tmp_path / "out.bvh"
    path.write_text("precious")
    with pytest.raises(OutputExistsError, match="out.bvh exists"):
        write_bvh(path, _chain())
    assert path.read_text() == "precious"
    write_bvh(path, _chain(), overwrite=True)
    assert read_bvh(path).names == _chain().names
    assert [p.name for p in tmp_path.iterdir()] == ["out.bvh"]  # no temporary left behind


def test_crlf_tabs_and_lowercase_keywords_read_the_same(tmp_path):
    plain = tmp_path / "plain.bvh"
    plain.write_text(GOOD)
    odd = tmp_path / "odd.bvh"
    text = GOOD.replace("  ", "\t").replace("HIERARCHY", "hierarchy").replace("Frame Time:", "Frame Time:   ")
    text = text.replace("Xrotation", "XROTATION").replace("JOINT spine\n\t{", "JOINT spine {")
    odd.write_bytes(text.replace("\n", "\r\n").encode())
    a, b = read_bvh(plain), read_bvh(odd)
    _assert_same(a, b, atol=0)
    assert a.channels[1] == ("Zrotation", "Xrotation", "Yrotation")


# -- bad files ----------------------------------------------------------------------------
GOOD = """HIERARCHY
ROOT hips
{
  OFFSET 1 2 3
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT spine
  {
    OFFSET 0 10 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 5 0
    }
  }
}
MOTION
Frames: 3
Frame Time: 0.04
0 90 0 1 2 3 4 5 6
1 91 0 1 2 3 4 5 6
2 92 0 1 2 3 4 5 6
"""


def _edit(changes: dict[int, str | None]) -> str:
    """GOOD with line ``n`` (1-based) replaced by ``text``, or removed for None."""
    lines = GOOD.split("\n")
    for number in sorted(changes, reverse=True):
        if changes[number] is None:
            del lines[number - 1]
        else:
            lines[number - 1] = changes[number]
    return "\n".join(lines)


ROW = "0 90 0 1 2 3 4 5 6"
BAD = {
    # name: (file text, line named in the message, words in the message)
    "not_bvh": ("\n\nhello world\n", 3, "not a BVH file"),
    "no_root": (_edit({2: "JOINT hips"}), 2, "'ROOT' expected"),
    "unclosed_brace": (_edit({14: None}), 15, "never closed"),
    "extra_brace": (_edit({14: "  }\n  }"}), 16, "unexpected '}'"),
    "unexpected_token": (_edit({8: "    OFFSETS 0 10 0"}), 8, "unexpected 'OFFSETS'"),
    "offset_two_numbers": (_edit({8: "    OFFSET 0 10"}), 8, "OFFSET needs 3 numbers, got 2"),
    "offset_not_number": (_edit({4: "  OFFSET 1 two 3"}), 4, "OFFSET needs 3 numbers"),
    "no_offset": (_edit({8: None}), 7, "has no OFFSET"),
    "unknown_channel": (_edit({9: "    CHANNELS 3 Zrotation Xscale Yrotation"}), 9, "unknown channel 'Xscale'"),
    "unknown_axis": (_edit({9: "    CHANNELS 3 Zrotation Wrotation Yrotation"}), 9, "unknown axis 'W'"),
    "channel_twice": (_edit({9: "    CHANNELS 3 Zrotation Zrotation Yrotation"}), 9, "listed twice"),
    "channel_count": (_edit({9: "    CHANNELS 3 Zrotation Xrotation"}), 9, "says 3 channels but lists 2"),
    "duplicate_joint": (_edit({6: "  JOINT hips"}), 6, "duplicate joint name 'hips' (first at line 2)"),
    "no_motion": (GOOD.split("MOTION")[0], 15, "no MOTION"),
    "frames_zero": (_edit({17: "Frames: 0"}), 17, "at least 1"),
    "frames_negative": (_edit({17: "Frames: -3"}), 17, "at least 1"),
    "frames_not_number": (_edit({17: "Frames: many"}), 17, "whole number"),
    "frames_missing": (_edit({17: None}), 17, "'Frames: <count>' expected"),
    "frame_time_zero": (_edit({18: "Frame Time: 0"}), 18, "positive"),
    "frame_time_negative": (_edit({18: "Frame Time: -0.04"}), 18, "positive"),
    "frame_time_nan": (_edit({18: "Frame Time: nan"}), 18, "positive"),
    "frame_time_not_number": (_edit({18: "Frame Time: fast"}), 18, "must be a number"),
    "truncated_rows": (_edit({21: None}), 20, "after 2 complete frames of the 3"),
    "truncated_mid_row": (_edit({21: "2 92 0 1", 22: None}), 21, "middle of frame 3 (4 of 9 values): 2 complete"),
    "row_too_short": (_edit({20: "1 91 0 1 2 3 4 5"}), 20, "frame 2 has 8 values, the hierarchy has 9"),
    "row_too_long": (_edit({19: ROW + " 7"}), 19, "frame 1 has 10 values"),
    "extra_rows": (_edit({22: ROW + "\n"}), 22, "more MOTION rows than the 3 frames"),
    "nan_value": (_edit({20: "1 91 0 1 nan 3 4 5 6"}), 20, "NaN or infinite value (joint 'hips' Xrotation"),
    "inf_value": (_edit({21: "2 92 0 1 2 3 4 5 -inf"}), 21, "joint 'spine' Yrotation: -inf"),
    "not_a_number": (_edit({20: "1 91 0 1 2 3 4 x5 6"}), 20, "'x5' is not a number"),
    "absurd_frames": (_edit({17: "Frames: 1000000000"}), 17, "more than max_bytes"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_file_is_one_pose_file_error(tmp_path, case):
    text, line, words = BAD[case]
    path = tmp_path / f"{case}.bvh"
    path.write_text(text)
    start = time.perf_counter()
    with pytest.raises(PoseFileError) as caught:
        read_bvh(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: line {line}: "), message
    assert words in message, message
    assert "\n" not in message
    assert time.perf_counter() - start < 1.0  # a 1e9-frame claim fails before any data are read


def test_good_template_is_good(tmp_path):
    """The bad files above are GOOD with one change, so each error is that change's."""
    path = tmp_path / "good.bvh"
    path.write_text(GOOD)
    clip = read_bvh(path)
    assert clip.names == ("hips", "spine") and clip.num_frames == 3 and clip.frame_time == 0.04
    np.testing.assert_array_equal(clip.motion[:, 1], [90, 91, 92])
    np.testing.assert_array_equal(clip.end_sites[1], [0, 5, 0])


def test_missing_empty_and_oversized_files(tmp_path):
    missing = tmp_path / "nowhere.bvh"
    with pytest.raises(PoseFileError, match=re.escape(f"{missing}: BVH file not found")):
        read_bvh(missing)
    with pytest.raises(PoseFileError, match="is not a file"):
        read_bvh(tmp_path)
    empty = tmp_path / "empty.bvh"
    empty.write_bytes(b"")
    with pytest.raises(PoseFileError, match=re.escape(f"{empty}: the file is empty")):
        read_bvh(empty)
    big = tmp_path / "big.bvh"
    big.write_text(GOOD)
    with pytest.raises(PoseFileError, match=re.escape(f"{big}: the file is {len(GOOD)} bytes, more than "
                                                      "max_bytes=100")):
        read_bvh(big, max_bytes=100)
    assert read_bvh(big, max_bytes=len(GOOD)).num_frames == 3
    # 100 frames x 9 channels are 7200 bytes of float64: a claim over max_bytes in a small file
    claim = tmp_path / "claim.bvh"
    claim.write_text(_edit({17: "Frames: 100"}))
    with pytest.raises(PoseFileError, match=re.escape(f"{claim}: line 17: Frames: 100 x 9 channels would be")):
        read_bvh(claim, max_bytes=1000)
    with pytest.raises(PoseFileError, match="line 21: the MOTION data end here after 3 complete frames of the 100"):
        read_bvh(claim, max_bytes=7200)
