"""Bad input to the body module: each gets one clear error naming the problem."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from humanrecon.body import BodyModel, ModelFileError, UnsafeModelFileError
from humanrecon.body.io import load_model_arrays
from tests.body.model_factory import random_model_arrays, write_npz, write_official_pickle


@pytest.fixture(scope="module")
def smpl_path(tmp_path_factory):
    return write_npz(random_model_arrays("smpl"), tmp_path_factory.mktemp("m") / "SMPL_NEUTRAL.npz")


@pytest.fixture(scope="module")
def smpl(smpl_path):
    return BodyModel.load(smpl_path)


class _RunsCode:
    """Pickles to a call of os.system: what a crafted model file would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_crafted_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    payload = {"v_template": np.zeros((3, 3)), "evil": _RunsCode(marker)}
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(UnsafeModelFileError, match=r"SMPL_NEUTRAL\.pkl.*refusing to load.*(posix|os)\.system"):
        BodyModel.load(path)
    assert not marker.exists()


@pytest.mark.parametrize("target", ["builtins\neval", "subprocess\nPopen", "numpy\nload"])
def test_any_other_global_is_refused(tmp_path, target):
    # protocol-0 opcodes: GLOBAL module\nname\n, then an empty tuple and REDUCE
    path = tmp_path / "m.pkl"
    path.write_bytes(b"c" + target.encode() + b"\n(S'print(1)'\ntR.")
    with pytest.raises(UnsafeModelFileError, match="refusing to load"):
        load_model_arrays(path)


def test_chumpy_pickle_without_chumpy_installed(tmp_path):
    import importlib.util

    assert importlib.util.find_spec("chumpy") is None  # the point: it loads without chumpy
    arrays = random_model_arrays("smpl")
    loaded = load_model_arrays(write_official_pickle(arrays, tmp_path / "m.pkl"))
    np.testing.assert_array_equal(loaded["shapedirs"], arrays["shapedirs"])
    np.testing.assert_array_equal(loaded["J_regressor"], arrays["J_regressor"])


def test_npz_with_pickled_objects_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, v_template=np.array([{"a": 1}], dtype=object))
    with pytest.raises(UnsafeModelFileError, match="pickled Python objects"):
        load_model_arrays(path)


@pytest.mark.parametrize("content", [b"", b"not a zip", b"PK\x03\x04broken"])
def test_corrupt_npz(tmp_path, content):
    path = tmp_path / "broken.npz"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=r"broken\.npz: not a readable \.npz"):
        BodyModel.load(path)


def test_corrupt_pickle(tmp_path):
    path = tmp_path / "broken.pkl"
    path.write_bytes(b"\x80\x02}q\x00(X")  # truncated
    with pytest.raises(ModelFileError, match=r"broken\.pkl: not a readable model pickle"):
        BodyModel.load(path)


def test_missing_file_names_path_and_builtins(tmp_path):
    with pytest.raises(ModelFileError, match=r"SMPL_NEUTRL\.pkl: model file not found.*'open'"):
        BodyModel.load(tmp_path / "SMPL_NEUTRL.pkl")


def test_misnamed_file_extension(tmp_path):
    path = tmp_path / "SMPL_NEUTRAL.txt"
    path.write_text("x")
    with pytest.raises(ModelFileError, match=r"unknown model file extension '\.txt'"):
        BodyModel.load(path)


def test_empty_model_folder(tmp_path):
    with pytest.raises(ModelFileError, match="no body model file found in this folder"):
        BodyModel.load(tmp_path)


def test_unknown_model_type_in_file(tmp_path):
    arrays = random_model_arrays("smpl")
    arrays["kintree_table"] = arrays["kintree_table"][:, :20]
    with pytest.raises(ModelFileError, match="unknown model type: kintree_table has 20 joints"):
        BodyModel.load(write_npz(arrays, tmp_path / "m.npz"))


def test_unknown_model_type_argument(smpl_path):
    with pytest.raises(ValueError, match="unknown model type 'smpl3'"):
        BodyModel.load(smpl_path, model_type="smpl3")


def test_declared_type_mismatch(smpl_path):
    with pytest.raises(ModelFileError, match="model_type 'smplx' expects 55 joints but the file has 24"):
        BodyModel.load(smpl_path, model_type="smplx")


def test_missing_array(tmp_path):
    arrays = random_model_arrays("smpl")
    del arrays["weights"]
    with pytest.raises(ModelFileError, match="has no 'weights' array"):
        BodyModel.load(write_npz(arrays, tmp_path / "m.npz"))


def test_wrong_array_shape(tmp_path):
    arrays = random_model_arrays("smpl")
    arrays["J_regressor"] = arrays["J_regressor"][:, :100]
    with pytest.raises(ModelFileError, match=r"'J_regressor' must have shape \(24, 6890\), got \(24, 100\)"):
        BodyModel.load(write_npz(arrays, tmp_path / "m.npz"))


def test_nan_in_model_file(tmp_path):
    arrays = random_model_arrays("smpl")
    arrays["v_template"][5, 1] = np.nan
    with pytest.raises(ModelFileError, match="'v_template' contains NaN"):
        BodyModel.load(write_npz(arrays, tmp_path / "m.npz"))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"body_pose": torch.zeros(2, 66)}, r"body_pose must have shape \(B, 69\).*got \(2, 66\)"),
        ({"betas": torch.zeros(10)}, r"betas must be batched, shape \(B, 10\)"),
        ({"betas": torch.zeros(2, 12)}, r"betas must have shape \(B, 10\)"),
        ({"global_orient": torch.zeros(3, 3), "body_pose": torch.zeros(2, 69)}, "inconsistent batch sizes"),
        ({"jaw_pose": torch.zeros(1, 3)}, "SMPL model takes no 'jaw_pose'"),
    ],
)
def test_wrong_parameter_shapes(smpl, kwargs, message):
    with pytest.raises(ValueError, match=message):
        smpl(**kwargs)


@pytest.mark.parametrize("key", ["betas", "body_pose", "global_orient", "transl"])
def test_nan_parameters(smpl, key):
    size = smpl.input_sizes()[key]
    value = torch.zeros(2, size)
    value[1, 0] = float("nan")
    with pytest.raises(ValueError, match=f"{key} contains NaN"):
        smpl(**{key: value})


def test_batch_one_inputs_broadcast(smpl):
    out = smpl(betas=torch.ones(1, 10), body_pose=0.1 * torch.ones(4, 69))
    assert out.vertices.shape == (4, 6890, 3)
    assert torch.allclose(out.vertices[0], out.vertices[3])


def test_pose_arguments_are_keyword_only(smpl):
    # smplx's SMPL takes (betas, body_pose, global_orient), SMPLX (betas, global_orient,
    # body_pose): a positional call could silently swap poses, so none is accepted
    betas = torch.zeros(1, 10)
    with pytest.raises(TypeError, match="positional"):
        smpl(betas)
    with pytest.raises(TypeError, match="positional"):
        smpl.forward(betas, torch.zeros(1, 3))
    assert smpl(betas=betas).vertices.shape == (1, 6890, 3)
