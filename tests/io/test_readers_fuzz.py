"""Property-based fuzzing of every file reader: any bytes or any JSON give a result or
the project's own error (:class:`HumanreconError`), never another exception, never a hang.

Bounded for CI (a few seconds: ``FUZZ_EXAMPLES`` examples per reader); for a longer run,
``HUMANRECON_FUZZ_EXAMPLES=5000 pytest tests/io/test_readers_fuzz.py``.
"""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from io import BytesIO

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from humanrecon.errors import HumanreconError

FUZZ_EXAMPLES = int(os.environ.get("HUMANRECON_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# JSON values up to a small depth, with the keys the readers look for mixed in
KEYS = st.sampled_from(["people", "pose_keypoints_2d", "annotations", "images", "keypoints", "image_id", "id",
                        "file_name", "frames", "file_path", "transform_matrix", "camera_angle_x", "fl_x", "w", "h",
                        "body_pose", "betas", "global_orient", "transl", "left_elbow", "x"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8))
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=6),
                                                     st.dictionaries(KEYS, inner, max_size=6)), max_leaves=30)


def _expect_own_error(call):
    try:
        call()
    except HumanreconError:
        pass


def _write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@FUZZ
@given(data=st.binary(max_size=512))
def test_model_pickles_and_npz(tmp_path, data):
    from humanrecon.body.io import load_model_arrays

    _expect_own_error(lambda: load_model_arrays(_write(tmp_path, "m.pkl", data)))
    _expect_own_error(lambda: load_model_arrays(_write(tmp_path, "m.npz", data)))


@FUZZ
@given(value=JSON)
def test_pickled_dicts_of_plain_values(tmp_path, value):
    """Well-formed pickles of arbitrary plain data (what a hand-made model file may hold)."""
    from humanrecon.body.io import load_model_arrays
    from humanrecon.body.model import BodyModel

    payload = value if isinstance(value, dict) else {"v_template": value}
    path = _write(tmp_path, "m.pkl", pickle.dumps(payload, protocol=2))
    _expect_own_error(lambda: BodyModel.load(path))
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("v_template.npy", json.dumps(value, default=str).encode())
    _expect_own_error(lambda: load_model_arrays(_write(tmp_path, "z.npz", buffer.getvalue())))


@FUZZ
@given(value=JSON)
def test_keypoint_json(tmp_path, value):
    from humanrecon.fitting.keypoint_io import read_keypoints

    path = _write(tmp_path, "kp.json", json.dumps(value).encode())
    _expect_own_error(lambda: read_keypoints(path, image_name="a.png"))
    _expect_own_error(lambda: read_keypoints(path, layout="coco18"))


@FUZZ
@given(value=JSON)
def test_pose_json(tmp_path, value):
    from humanrecon.body.poses import load_pose

    _expect_own_error(lambda: load_pose(_write(tmp_path, "pose.json", json.dumps(value).encode())))


@FUZZ
@given(value=JSON, frame=st.dictionaries(KEYS, JSON, max_size=4))
def test_blender_transforms(tmp_path, value, frame):
    from humanrecon.datasets import read_blender

    (tmp_path / "train").mkdir(exist_ok=True)
    (tmp_path / "train" / "r_000.png").write_bytes(b"")
    meta = value if isinstance(value, dict) else {"frames": [frame], "camera_angle_x": value}
    _write(tmp_path, "transforms_train.json", json.dumps(meta).encode())
    _expect_own_error(lambda: read_blender(tmp_path, "train"))


@FUZZ
@given(text=st.text(alphabet=" \n0123456789.,-+eE#naif", max_size=200), data=st.binary(max_size=300))
def test_point_files(tmp_path, text, data):
    from humanrecon.io.points import read_point_cloud

    _expect_own_error(lambda: read_point_cloud(_write(tmp_path, "p.xyz", text.encode())))
    _expect_own_error(lambda: read_point_cloud(_write(tmp_path, "p.ply", b"ply\nformat binary_little_endian 1.0\n"
                                                      b"element vertex 3\nproperty float x\nend_header\n" + data)))
    _expect_own_error(lambda: read_point_cloud(_write(tmp_path, "p.pcd", data)))


@FUZZ
@given(data=st.binary(max_size=512), value=JSON)
def test_checkpoints(tmp_path, data, value):
    import torch

    from humanrecon.implicit.train import ImplicitShape
    from humanrecon.nerf.model import NerfModel

    _expect_own_error(lambda: ImplicitShape.load(_write(tmp_path, "a.pt", data)))
    buffer = BytesIO()
    torch.save({"format": "humanrecon-nerf", "settings": value, "state_dict": {"x": torch.zeros(1)}}, buffer)
    _expect_own_error(lambda: NerfModel.load(_write(tmp_path, "b.pt", buffer.getvalue())))


def test_images(tmp_path):
    from humanrecon.io.images import load_image, load_rgba

    rng = np.random.default_rng(0)
    png = b"\x89PNG\r\n\x1a\n"
    for i in range(FUZZ_EXAMPLES):
        data = png + rng.integers(0, 256, int(rng.integers(0, 200)), dtype=np.uint8).tobytes()
        path = _write(tmp_path, f"i{i}.png", data)
        _expect_own_error(lambda: load_image(path))
        _expect_own_error(lambda: load_rgba(path))


@FUZZ
@given(data=st.binary(max_size=512), header=st.sampled_from([b"", b"ply\nformat binary_little_endian 1.0\n",
                                                               b"ply\nformat ascii 1.0\nelement vertex 1\n"]))
def test_splat_scene_files(tmp_path, data, header):
    from humanrecon.splat.files import read_ply, read_splat

    _expect_own_error(lambda: read_ply(_write(tmp_path, "s.ply", header + data)))
    _expect_own_error(lambda: read_splat(_write(tmp_path, "s.splat", data)))


@FUZZ
@given(data=st.binary(max_size=256), text=st.text(max_size=200))
def test_colmap_models(tmp_path, data, text):
    from humanrecon.datasets.colmap import read_colmap

    folder = tmp_path / "model"
    folder.mkdir(exist_ok=True)
    for name in ("cameras", "images", "points3D"):
        (folder / f"{name}.txt").unlink(missing_ok=True)
        _write(folder, f"{name}.bin", data)
    _expect_own_error(lambda: read_colmap(folder))
    for name in ("cameras", "images", "points3D"):
        (folder / f"{name}.bin").unlink()
        (folder / f"{name}.txt").write_text(text)
    _expect_own_error(lambda: read_colmap(folder))
