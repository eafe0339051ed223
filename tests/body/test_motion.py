"""Motion files (AMASS and plain arrays) read into a body model's pose layout."""

from __future__ import annotations

import os
import pickle
import zipfile

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from humanrecon.body import BodyModel, Motion, read_motion
from humanrecon.body.poses import MAX_ROTATION, MAX_TRANSLATION
from humanrecon.errors import HumanreconError, InputError, PoseFileError
from tests.body.model_factory import random_model_arrays

T = 5
RNG = np.random.default_rng(7)


def _poses(width: int, frames: int = T, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).normal(size=(frames, width)) * 0.3).astype(np.float32)


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.fixture()
def amass_smplh(tmp_path):
    """An AMASS SMPL+H file: poses (T, 156), trans, betas (16,), mocap_framerate, gender."""
    src = {"poses": _poses(156), "trans": _poses(3, seed=1), "betas": _poses(16, 1, seed=2)[0],
           "mocap_framerate": np.array(120.0), "gender": np.array("female")}
    return _write(tmp_path / "walk_poses.npz", **src), src


# --------------------------------------------------------------------------- AMASS layouts
def test_amass_smplh_to_smpl(amass_smplh):
    path, src = amass_smplh
    motion = read_motion(path, "smpl")
    assert len(motion) == T and motion.body_pose.shape == (T, 69) and motion.body_pose.dtype == np.float32
    np.testing.assert_array_equal(motion.body_pose[:, :63], src["poses"][:, 3:66])
    np.testing.assert_array_equal(motion.body_pose[:, 63:], np.zeros((T, 6)))  # SMPL's hand joints
    np.testing.assert_array_equal(motion.global_orient, src["poses"][:, :3])
    np.testing.assert_array_equal(motion.transl, src["trans"])
    np.testing.assert_array_equal(motion.betas, src["betas"])
    assert motion.framerate == 120.0 and motion.gender == "female" and motion.hand_pose is None
    assert motion.source == str(path) and motion.num_body_joints == 23


@pytest.mark.parametrize("target", ["smplh", "SMPL+H", "smplx", "SMPL-X"])
def test_amass_smplh_to_smplh_keeps_hands(amass_smplh, target):
    path, src = amass_smplh
    motion = read_motion(path, target)
    assert motion.body_pose.shape == (T, 63) and motion.hand_pose.shape == (T, 90)
    np.testing.assert_array_equal(motion.body_pose, src["poses"][:, 3:66])
    np.testing.assert_array_equal(motion.hand_pose, src["poses"][:, 66:])
    np.testing.assert_array_equal(motion.global_orient, src["poses"][:, :3])


def test_amass_smpl_72(tmp_path):
    poses = _poses(72)
    path = _write(tmp_path / "smpl.npz", poses=poses, trans=_poses(3, seed=1), mocap_framerate=30)
    smpl = read_motion(path, "smpl")
    np.testing.assert_array_equal(smpl.global_orient, poses[:, :3])
    np.testing.assert_array_equal(smpl.body_pose, poses[:, 3:])
    assert smpl.framerate == 30.0 and smpl.betas is None and smpl.gender is None
    smplh = read_motion(path, "smplh")
    np.testing.assert_array_equal(smplh.body_pose, poses[:, 3:66])  # joints 22, 23 dropped
    assert smplh.hand_pose is None


def test_amass_smplx_split_keys(tmp_path):
    body, hands, root = _poses(63), _poses(90, seed=1), _poses(3, seed=2)
    path = _write(tmp_path / "smplx_split.npz", root_orient=root, pose_body=body, pose_hand=hands,
                  pose_jaw=_poses(3), pose_eye=_poses(6), trans=_poses(3, seed=3),
                  mocap_frame_rate=np.array(60.0), betas=_poses(16, 1)[0])
    motion = read_motion(path, "smplx")
    np.testing.assert_array_equal(motion.global_orient, root)
    np.testing.assert_array_equal(motion.body_pose, body)
    np.testing.assert_array_equal(motion.hand_pose, hands)
    assert motion.framerate == 60.0
    smpl = read_motion(path)
    np.testing.assert_array_equal(smpl.body_pose, np.concatenate([body, np.zeros((T, 6))], 1))


def test_amass_smplx_165_drops_jaw_and_eyes(tmp_path):
    poses = _poses(165)
    path = _write(tmp_path / "smplx.npz", poses=poses, trans=_poses(3), mocap_frame_rate=120)
    motion = read_motion(path, "smplx")
    np.testing.assert_array_equal(motion.global_orient, poses[:, :3])
    np.testing.assert_array_equal(motion.body_pose, poses[:, 3:66])
    np.testing.assert_array_equal(motion.hand_pose, poses[:, 75:])  # after jaw (3) and eyes (6)


def test_amass_smplx_release_with_pickled_extras_reads_without_unpickling(tmp_path):
    """AMASS's SMPL-X files hold pickled dicts next to the poses: those are never decoded."""
    marker = tmp_path / "pwned"
    extra = np.empty(1, dtype=object)
    extra[0] = _RunsCode(marker)
    poses = _poses(165)
    path = _write(tmp_path / "amass_x.npz", poses=poses, root_orient=poses[:, :3], pose_body=poses[:, 3:66],
                  pose_hand=poses[:, 75:], trans=_poses(3), markers_latent_vids=extra,
                  surface_model_type=np.array("smplx"))
    motion = read_motion(path, "smplx")
    np.testing.assert_array_equal(motion.hand_pose, poses[:, 75:])
    assert not marker.exists()


def test_per_frame_betas_take_the_first_row(tmp_path):
    betas = np.tile(_poses(10, 1), (T, 1))
    path = _write(tmp_path / "b.npz", poses=_poses(72), betas=betas)
    np.testing.assert_array_equal(read_motion(path).betas, betas[0])
    betas[3, 0] += 0.5
    path = _write(tmp_path / "b2.npz", poses=_poses(72), betas=betas)
    with pytest.warns(UserWarning, match="b2.npz.*first frame"):
        np.testing.assert_array_equal(read_motion(path).betas, betas[0])


# --------------------------------------------------------------------------- plain arrays
@pytest.mark.parametrize("shape,joints", [((T, 69), 23), ((T, 23, 3), 23), ((T, 63), 21), ((T, 21, 3), 21)])
def test_plain_npz(tmp_path, shape, joints):
    body = _poses(int(np.prod(shape[1:]))).reshape(shape)
    go, tr, betas = _poses(3, seed=1), _poses(3, seed=2), _poses(10, 1, seed=3)[0]
    path = _write(tmp_path / "plain.npz", body_pose=body, global_orient=go, transl=tr, betas=betas)
    flat = body.reshape(T, -1)
    smpl = read_motion(path, "smpl")
    expected = flat if joints == 23 else np.concatenate([flat, np.zeros((T, 6))], 1)
    np.testing.assert_array_equal(smpl.body_pose, expected)
    np.testing.assert_array_equal(smpl.global_orient, go)
    np.testing.assert_array_equal(smpl.transl, tr)
    np.testing.assert_array_equal(smpl.betas, betas)
    assert smpl.framerate is None
    smplh = read_motion(path, "smplh")
    np.testing.assert_array_equal(smplh.body_pose, flat[:, :63])
    assert smplh.hand_pose is None


def test_plain_npz_with_smplx_named_hands(tmp_path):
    body, left, right = _poses(63), _poses(45, seed=1), _poses(45, seed=2)
    path = _write(tmp_path / "h.npz", body_pose=body, left_hand_pose=left, right_hand_pose=right)
    motion = read_motion(path, "smplh")
    np.testing.assert_array_equal(motion.hand_pose, np.concatenate([left, right], 1))
    np.testing.assert_array_equal(motion.frame(2)["right_hand_pose"], right[2])
    assert read_motion(path, "smpl").hand_pose is None


@pytest.mark.parametrize("shape", [(T, 69), (T, 23, 3), (T, 63), (T, 21, 3)])
def test_plain_npy(tmp_path, shape):
    body = _poses(int(np.prod(shape[1:]))).reshape(shape)
    path = tmp_path / "body_pose.npy"
    np.save(path, body)
    motion = read_motion(path, "smplh")
    np.testing.assert_array_equal(motion.body_pose, body.reshape(T, -1)[:, :63])
    np.testing.assert_array_equal(motion.global_orient, np.zeros((T, 3)))
    np.testing.assert_array_equal(motion.transl, np.zeros((T, 3)))
    assert motion.betas is None and motion.framerate is None


@pytest.mark.parametrize("shape", [(69,), (23, 3), (63,), (21, 3)])
def test_single_pose_is_one_frame(tmp_path, shape):
    body = _poses(int(np.prod(shape)), 1).reshape(shape)
    np.save(tmp_path / "one.npy", body)
    _write(tmp_path / "one.npz", body_pose=body, global_orient=np.zeros(3), transl=np.ones(3))
    for path in (tmp_path / "one.npy", tmp_path / "one.npz"):
        motion = read_motion(path, "smpl")
        assert len(motion) == 1 and motion.body_pose.shape == (1, 69)
        np.testing.assert_array_equal(motion.body_pose[0, : body.size], body.reshape(-1))


# --------------------------------------------------------------------------- oracles
def _pose_model(model, **arrays):
    return model(**{k: torch.as_tensor(np.asarray(v, dtype=np.float32))[None] for k, v in arrays.items()})


def test_open_body_posed_from_file_equals_direct_numbers(amass_smplh):
    model = BodyModel.load("open")
    path, src = amass_smplh
    motion = read_motion(path, model)  # a BodyModel target: its layout (SMPL)
    t = 3
    pose = motion.frame(t)
    pose["betas"] = pose["betas"][: model.num_betas]
    from_file = _pose_model(model, **pose)
    # the same numbers, straight from the source array (SMPL's hand joints at rest)
    direct = _pose_model(model, global_orient=src["poses"][t, :3],
                         body_pose=np.concatenate([src["poses"][t, 3:66], np.zeros(6)]),
                         transl=src["trans"][t], betas=src["betas"][:10])
    assert torch.equal(from_file.vertices, direct.vertices)
    assert from_file.vertices.abs().sum() > 0 and not torch.equal(from_file.vertices, _pose_model(model).vertices)


def test_smplh_model_posed_from_file_equals_direct_numbers(amass_smplh):
    model = BodyModel(random_model_arrays("smplh"), use_pca=False, flat_hand_mean=True)
    path, src = amass_smplh
    motion = read_motion(path, model)
    pose = motion.frame(1)
    pose["betas"] = pose["betas"][: model.num_betas]
    row = src["poses"][1]
    direct = _pose_model(model, global_orient=row[:3], body_pose=row[3:66], left_hand_pose=row[66:111],
                         right_hand_pose=row[111:], transl=src["trans"][1], betas=src["betas"][:10])
    assert torch.equal(_pose_model(model, **pose).vertices, direct.vertices)


@pytest.mark.parametrize("target", ["smpl", "smplh"])
def test_round_trip_through_amass_npz(amass_smplh, tmp_path, target):
    motion = read_motion(amass_smplh[0], target)
    parts = [motion.global_orient, motion.body_pose] + ([motion.hand_pose] if motion.hand_pose is not None else [])
    path = _write(tmp_path / "again.npz", poses=np.concatenate(parts, 1), trans=motion.transl,
                  betas=motion.betas, mocap_framerate=motion.framerate, gender=np.array(motion.gender))
    again = read_motion(path, target)
    for name in ("global_orient", "body_pose", "transl", "betas", "hand_pose"):
        a, b = getattr(motion, name), getattr(again, name)
        assert (a is None and b is None) or np.array_equal(a, b), name
    assert (again.framerate, again.gender) == (motion.framerate, motion.gender)


# --------------------------------------------------------------------------- Motion
def test_frame_len_subsample(amass_smplh):
    path, src = amass_smplh
    motion = read_motion(path, "smplh")
    assert len(motion) == T
    pose = motion.frame(2)
    assert set(pose) == {"global_orient", "body_pose", "transl", "betas", "left_hand_pose", "right_hand_pose"}
    np.testing.assert_array_equal(pose["body_pose"], src["poses"][2, 3:66])
    np.testing.assert_array_equal(pose["left_hand_pose"], src["poses"][2, 66:111])
    np.testing.assert_array_equal(motion.frame(-1)["transl"], src["trans"][-1])
    pose["body_pose"][:] = 9  # a copy: the motion is unchanged
    assert motion.body_pose[2, 0] != 9
    smpl_pose = read_motion(path).frame(0)
    assert set(smpl_pose) == {"global_orient", "body_pose", "transl", "betas"} and smpl_pose["body_pose"].shape == (69,)

    half = motion.subsample(2)
    assert len(half) == 3 and half.framerate == 60.0
    np.testing.assert_array_equal(half.body_pose, motion.body_pose[::2])
    np.testing.assert_array_equal(half.hand_pose, motion.hand_pose[::2])
    np.testing.assert_array_equal(half.transl, motion.transl[::2])
    assert len(motion.subsample(1)) == T and len(motion.subsample(10)) == 1
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InputError, match="every"):
            motion.subsample(bad)
    for bad in (T, -T - 1):
        with pytest.raises(InputError, match="out of range"):
            motion.frame(bad)


def test_motion_checks_its_shapes():
    z = np.zeros((2, 3))
    Motion(global_orient=z, body_pose=np.zeros((2, 69)), transl=z)
    with pytest.raises(InputError, match="transl"):
        Motion(global_orient=z, body_pose=np.zeros((2, 69)), transl=np.zeros((3, 3)))
    with pytest.raises(InputError, match="hand_pose"):
        Motion(global_orient=z, body_pose=np.zeros((2, 69)), transl=z, hand_pose=np.zeros((2, 90)))
    with pytest.raises(InputError, match="framerate"):
        Motion(global_orient=z, body_pose=np.zeros((2, 63)), transl=z, framerate=0)


@pytest.mark.parametrize("target", ["mano", "smpl-y", 3, None])
def test_bad_target(amass_smplh, target):
    with pytest.raises(InputError, match="target"):
        read_motion(amass_smplh[0], target)


# --------------------------------------------------------------------------- bad files
class _RunsCode:
    """Pickles to a call of os.system: what a crafted file would do when unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _bad_rotation():
    poses = _poses(156)
    poses[2, 12:15] = [0.0, MAX_ROTATION + 1.0, 0.0]
    return poses


def _with(value, index=(1, 4)):
    poses = _poses(156)
    poses[index] = value
    return poses


def _object_array(marker):
    array = np.empty((T, 72), dtype=object)
    array[:] = 0.0
    array[0, 0] = _RunsCode(marker)
    return array


def _corrupt_member(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("poses.npy", b"\x93NUMPY garbage that is no header")


_BAD_NPZ = {
    "no recognised keys": ({"foo": np.zeros((T, 72)), "bar": np.zeros(3)}, r"no motion arrays found.*bar, foo.*poses"),
    "empty npz": ({}, r"no motion arrays.*keys: none"),
    "poses width": ({"poses": np.zeros((T, 100))}, r"'poses' must be \(T, 72 \| 156 \| 165\).*\(5, 100\)"),
    "poses 4-d": ({"poses": np.zeros((T, 2, 2, 3))}, r"'poses' must be"),
    "poses scalar": ({"poses": np.array(1.0)}, r"'poses' must be"),
    "body_pose width": ({"body_pose": np.zeros((T, 60))}, r"'body_pose' must be \(T, 69 \| 63\)"),
    "pose_body width": ({"pose_body": np.zeros((T, 69))}, r"'pose_body' must be \(T, 63\)"),
    "pose_hand width": ({"pose_body": np.zeros((T, 63)), "pose_hand": np.zeros((T, 45))}, r"'pose_hand' must be"),
    "trans width": ({"poses": _poses(156), "trans": np.zeros((T, 2))}, r"'trans' must be \(T, 3\)"),
    "global_orient width": ({"body_pose": _poses(69), "global_orient": np.zeros((T, 4))}, r"'global_orient'"),
    "no frames": ({"poses": np.zeros((0, 156))}, r"no frames \(T = 0\)"),
    "no body frames": ({"body_pose": np.zeros((0, 21, 3))}, r"no frames"),
    "trans length": ({"poses": _poses(156), "trans": np.zeros((T - 1, 3))}, r"'trans' has 4 frames but the poses have 5"),
    "orient length": ({"body_pose": _poses(69), "global_orient": np.zeros((T + 1, 3))}, r"'global_orient' has 6 frames"),
    "hand length": ({"pose_body": _poses(63), "pose_hand": np.zeros((2, 90))}, r"'pose_hand' has 2 frames"),
    "nan pose": ({"poses": _with(np.nan)}, r"'poses' contains NaN or infinite"),
    "inf trans": ({"poses": _poses(156), "trans": np.full((T, 3), np.inf)}, r"'trans' contains NaN"),
    "nan betas": ({"poses": _poses(156), "betas": np.full(10, np.nan)}, r"'betas' contains NaN"),
    "huge float": ({"body_pose": np.full((T, 69), 1e300)}, r"not a pose"),
    "rotation": ({"poses": _bad_rotation()}, r"'poses' frame 2, left_knee: a rotation of 102 rad is not a pose"),
    "root rotation": ({"body_pose": _poses(69), "global_orient": np.full((T, 3), 100.0)}, r"global_orient.*pelvis"),
    "hand rotation": ({"body_pose": _poses(63), "left_hand_pose": np.full((T, 45), 99.0),
                       "right_hand_pose": _poses(45)}, r"left_hand_pose.*not a pose"),
    "translation": ({"poses": _poses(156), "trans": np.full((T, 3), 2 * MAX_TRANSLATION)}, r"translations are at most"),
    "betas": ({"poses": _poses(156), "betas": np.full(10, 50.0)}, r"betas.*standard deviations"),
    "betas 3-d": ({"poses": _poses(156), "betas": np.zeros((2, 2, 2))}, r"'betas' must be \(K,\) or \(T, K\)"),
    "framerate zero": ({"poses": _poses(156), "mocap_framerate": np.array(0.0)}, r"'mocap_framerate' must be positive"),
    "framerate negative": ({"poses": _poses(156), "mocap_frame_rate": -30}, r"'mocap_frame_rate' must be positive"),
    "framerate nan": ({"poses": _poses(156), "mocap_framerate": np.nan}, r"'mocap_framerate' contains NaN"),
    "framerate array": ({"poses": _poses(156), "mocap_framerate": np.array([30.0, 60.0])}, r"must be one number"),
    "text poses": ({"poses": np.array([["a"] * 72] * T)}, r"'poses' must hold numbers, got dtype <U1"),
    "root without body": ({"root_orient": np.zeros((T, 3))}, r"'root_orient' but no 'pose_body'"),
    "one hand": ({"body_pose": _poses(63), "left_hand_pose": _poses(45)}, r"'left_hand_pose' but not the other"),
    "pca hands": ({"body_pose": _poses(63), "left_hand_pose": np.zeros((T, 6)), "right_hand_pose": np.zeros((T, 6))},
                  r"\(T, 45\) axis-angles.*PCA"),
    "smpl body with hands": ({"body_pose": _poses(69), "left_hand_pose": _poses(45), "right_hand_pose": _poses(45)},
                             r"21-joint body_pose"),
}


@pytest.mark.parametrize("case", list(_BAD_NPZ))
def test_bad_npz_gets_one_clear_error(tmp_path, case):
    arrays, message = _BAD_NPZ[case]
    path = _write(tmp_path / "bad_motion.npz", **arrays)
    with pytest.raises(PoseFileError, match=message) as info:
        read_motion(path, "smplh")
    assert str(info.value).startswith(str(path))
    assert isinstance(info.value, ValueError)


def _write_raw(content: bytes, name: str):
    def write(tmp_path):
        path = tmp_path / name
        path.write_bytes(content)
        return path
    return write


def _npz_writer(writer):
    def write(tmp_path):
        path = tmp_path / "bad_motion.npz"
        writer(path)
        return path
    return write


_BAD_FILES = {
    "text file": (_write_raw(b"poses: 1 2 3\n", "motion.txt"), r"not a numpy \.npz or \.npy"),
    "text named npz": (_write_raw(b"poses: 1 2 3\n", "motion.npz"), r"not a numpy \.npz or \.npy"),
    "empty file": (_write_raw(b"", "motion.npy"), r"not a numpy"),
    "pickle": (_write_raw(pickle.dumps({"poses": np.zeros((T, 72))}, protocol=2), "motion.pkl"),
               r"a Python pickle.*np\.savez"),
    "truncated npy": (_write_raw(b"\x93NUMPY\x01\x00garbage", "motion.npy"), r"the \.npy is not"),
    "corrupt npz member": (_npz_writer(_corrupt_member), r"'poses' is not"),
    "missing": (lambda tmp_path: tmp_path / "nowhere.npz", r"not found"),
    "folder": (lambda tmp_path: tmp_path, r"not found"),
}


@pytest.mark.parametrize("case", list(_BAD_FILES))
def test_bad_file_gets_one_clear_error(tmp_path, case):
    write, message = _BAD_FILES[case]
    path = write(tmp_path)
    with pytest.raises(PoseFileError, match=message) as info:
        read_motion(path)
    assert str(info.value).startswith(str(path))


@pytest.mark.parametrize("suffix", ["npz", "npy"])
def test_pickled_object_array_is_refused_without_unpickling(tmp_path, suffix):
    marker = tmp_path / "pwned"
    path = tmp_path / f"evil.{suffix}"
    if suffix == "npz":
        np.savez(path, poses=_object_array(marker), trans=np.zeros((T, 3)))
    else:
        np.save(path, _object_array(marker), allow_pickle=True)
    with pytest.raises(PoseFileError, match=r"evil\.np[zy].*pickled Python objects"):
        read_motion(path)
    assert not marker.exists()


def test_object_gender_is_skipped_not_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    gender = np.empty((), dtype=object)
    gender[()] = _RunsCode(marker)
    path = _write(tmp_path / "g.npz", poses=_poses(72), gender=gender)
    assert read_motion(path).gender is None
    assert not marker.exists()


def test_oversized_array_is_refused_before_decompressing(tmp_path, monkeypatch):
    import humanrecon.body.motion as motion_module

    path = _write(tmp_path / "big.npz", poses=_poses(156))
    monkeypatch.setattr(motion_module, "MAX_ARRAY_BYTES", 1000)
    with pytest.raises(PoseFileError, match=r"big\.npz: 'poses' unpacks to .* GiB"):
        read_motion(path)


@pytest.mark.parametrize("shape", [(10**12, 72), (10**9, 72)])
def test_header_claiming_a_huge_array(tmp_path, shape):
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 72)))
    header["shape"] = shape
    buffer = __import__("io").BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    data = buffer.getvalue() + b"\0" * 64
    (tmp_path / "huge.npy").write_bytes(data)
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as archive:
        archive.writestr("poses.npy", data)
    for name in ("huge.npy", "huge.npz"):
        with pytest.raises(PoseFileError, match=name.replace(".", r"\.")):
            read_motion(tmp_path / name)


_FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
_KEYS = ["poses", "trans", "betas", "mocap_framerate", "root_orient", "pose_body", "pose_hand", "body_pose",
         "global_orient", "transl", "left_hand_pose", "right_hand_pose", "gender", "other"]
_ARRAYS = hnp.arrays(st.sampled_from([np.float32, np.float64, np.int16, np.uint8, np.bool_, np.complex64, "U3"]),
                     hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6)
                     | st.sampled_from([(2, 72), (3, 156), (1, 165), (2, 63), (2, 69), (2, 3), (2, 90)]))


@_FUZZ
@given(data=st.binary(max_size=512), suffix=st.sampled_from(["npz", "npy"]))
def test_fuzz_bytes(tmp_path, data, suffix):
    path = tmp_path / f"m.{suffix}"
    path.write_bytes(data)
    try:
        read_motion(path)
    except HumanreconError as exc:
        assert isinstance(exc, PoseFileError) and str(exc).startswith(str(path))


@_FUZZ
@given(arrays=st.dictionaries(st.sampled_from(_KEYS), _ARRAYS, max_size=5),
       target=st.sampled_from(["smpl", "smplh", "smplx"]))
def test_fuzz_arrays(tmp_path, arrays, target):
    """Any arrays under the keys the reader looks for: a Motion of the target's layout, or
    one PoseFileError naming the file."""
    path = tmp_path / "m.npz"
    np.savez(path, **arrays)
    try:
        motion = read_motion(path, target)
    except HumanreconError as exc:
        assert isinstance(exc, PoseFileError) and str(exc).startswith(str(path))
        return
    assert motion.body_pose.shape == (len(motion), 69 if target == "smpl" else 63)
    assert all(np.isfinite(a).all() for a in (motion.global_orient, motion.body_pose, motion.transl))
