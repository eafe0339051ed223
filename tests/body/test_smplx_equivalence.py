"""humanrecon's BodyModel against the smplx package (the reference implementation) on
random model files in the official layouts: vertices and joints must agree to 1e-5 m."""

from __future__ import annotations

import numpy as np
import pytest
import smplx
import torch
from smplx.utils import Struct

from humanrecon.body import BodyModel
from tests.body.model_factory import random_model_arrays, write_npz, write_official_pickle

TOL = 1e-5  # metres


def _random_inputs(model: BodyModel, batch: int, seed: int) -> dict:
    """Random shape and pose inputs covering every argument the model takes."""
    gen = torch.Generator().manual_seed(seed)
    sizes = model.input_sizes(pose2rot=True)
    scale = {"betas": 1.0, "expression": 1.0, "transl": 0.5}
    return {key: scale.get(key, 0.4) * torch.randn(batch, size, generator=gen) for key, size in sizes.items()}


def _smplx_model(model_type: str, path, arrays: dict, batch: int, **kwargs):
    if model_type == "smpl":
        return smplx.SMPL(model_path=str(path), data_struct=Struct(**arrays), batch_size=batch, **kwargs)
    cls = {"smplh": smplx.SMPLH, "smplx": smplx.SMPLX, "mano": smplx.MANO}[model_type]
    return cls(model_path=str(path), ext="npz", batch_size=batch, **kwargs)


def _compare(ours: BodyModel, ref, inputs: dict) -> None:
    with torch.no_grad():
        out = ours(**inputs)
        expected = ref(**inputs)
    assert out.vertices.shape == expected.vertices.shape
    assert out.joints.shape == expected.joints.shape, (out.joints.shape, expected.joints.shape)
    np.testing.assert_allclose(out.vertices.numpy(), expected.vertices.numpy(), atol=TOL, rtol=0)
    np.testing.assert_allclose(out.joints.numpy(), expected.joints.numpy(), atol=TOL, rtol=0)


@pytest.mark.parametrize("batch", [1, 32])
@pytest.mark.parametrize(
    "model_type, options",
    [
        ("smpl", {}),
        ("smplh", {"use_pca": True, "num_pca_comps": 6}),
        ("smplh", {"use_pca": False, "flat_hand_mean": True}),
        ("smplx", {"use_pca": True, "num_pca_comps": 12}),
        ("smplx", {"use_pca": False}),
        ("mano", {"use_pca": True, "num_pca_comps": 9}),
        ("mano", {"use_pca": False, "flat_hand_mean": True}),
    ],
)
def test_matches_smplx(tmp_path, model_type, options, batch):
    arrays = random_model_arrays(model_type, seed=batch)
    name = {"smpl": "SMPL_NEUTRAL", "smplh": "SMPLH_NEUTRAL", "smplx": "SMPLX_NEUTRAL", "mano": "MANO_RIGHT"}
    path = write_npz(arrays, tmp_path / f"{name[model_type]}.npz")
    ours = BodyModel.load(path, **options)
    ref = _smplx_model(model_type, path, arrays, batch, **options)
    assert ours.model_type == model_type
    _compare(ours, ref, _random_inputs(ours, batch, seed=7))


def test_smplx_with_300_shape_and_100_expression_components(tmp_path):
    arrays = random_model_arrays("smplx", seed=3, num_shape=400)
    path = write_npz(arrays, tmp_path / "SMPLX_NEUTRAL.npz")
    ours = BodyModel.load(path, num_betas=16, num_expression_coeffs=20)
    ref = _smplx_model("smplx", path, arrays, 4, num_betas=16, num_expression_coeffs=20)
    assert ours.num_betas == 16 and ours.num_expression_coeffs == 20
    _compare(ours, ref, _random_inputs(ours, 4, seed=1))


def test_official_pickle_loads_like_npz(tmp_path):
    """The restricted unpickler reads an official-layout .pkl (chumpy arrays, sparse
    J_regressor, numpy-1 global names) into the same model as the .npz."""
    arrays = random_model_arrays("smpl", seed=5)
    from_pkl = BodyModel.load(write_official_pickle(arrays, tmp_path / "SMPL_NEUTRAL.pkl"))
    ref = _smplx_model("smpl", tmp_path, arrays, 3)
    _compare(from_pkl, ref, _random_inputs(from_pkl, 3, seed=2))


def test_folder_lookup_like_smplx_create(tmp_path):
    arrays = random_model_arrays("smplx", seed=0)
    write_npz(arrays, tmp_path / "smplx" / "SMPLX_FEMALE.npz")
    model = BodyModel.load(tmp_path, gender="female")
    assert model.model_type == "smplx"
    assert model.source.endswith("SMPLX_FEMALE.npz")


def test_rotation_matrix_input_matches_axis_angle(tmp_path):
    from humanrecon.geometry.rotations import axis_angle_to_matrix

    arrays = random_model_arrays("smpl", seed=1)
    model = BodyModel.load(write_npz(arrays, tmp_path / "m.npz"))
    inputs = _random_inputs(model, 2, seed=3)
    out_aa = model(**inputs)
    mats = {k: axis_angle_to_matrix(inputs[k].reshape(2, -1, 3)) for k in ("global_orient", "body_pose")}
    out_rm = model(betas=inputs["betas"], transl=inputs["transl"], pose2rot=False, **mats)
    np.testing.assert_allclose(out_rm.vertices.numpy(), out_aa.vertices.numpy(), atol=1e-6)


def test_gradients_match_smplx(tmp_path):
    """Autograd through our LBS gives smplx's gradients (w.r.t. pose and shape)."""
    arrays = random_model_arrays("smpl", seed=2)
    path = write_npz(arrays, tmp_path / "m.npz")
    ours = BodyModel.load(path, dtype=torch.float64)
    ref = smplx.SMPL(model_path=str(tmp_path), data_struct=Struct(**arrays), batch_size=2, dtype=torch.float64)
    grads = []
    for model in (ours, ref):
        inputs = {k: v.double().requires_grad_(True) for k, v in _random_inputs(ours, 2, seed=4).items()}
        out = model(**inputs)
        (out.vertices.square().sum() + out.joints.sum()).backward()
        grads.append({k: v.grad for k, v in inputs.items()})
    for key in grads[0]:
        np.testing.assert_allclose(grads[0][key].numpy(), grads[1][key].numpy(), rtol=1e-5, atol=1e-6)  # smplx adds 1e-8 inside its Rodrigues
