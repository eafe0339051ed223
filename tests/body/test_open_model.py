"""The shipped open body model: smplx reads it the same way, it has SMPL's frame and
joint semantics, and it reproduces anny's own meshes (fixture written by the builder)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import smplx
import torch
from smplx.utils import Struct

from humanrecon._assets import asset_path
from humanrecon.body import BodyModel, keypoint_map
from humanrecon.body.io import load_model_arrays
from humanrecon.body.keypoints import BODY25_NAMES

REFERENCE = Path(__file__).resolve().parent.parent / "data" / "open_body_reference.npz"


@pytest.fixture(scope="module")
def model():
    return BodyModel.load("open")


@pytest.fixture(scope="module")
def arrays():
    return load_model_arrays(asset_path("models/open_body.npz"))


def test_file_layout_and_licence(arrays):
    path = asset_path("models/open_body.npz")
    assert path.stat().st_size <= 15e6
    assert (path.parent / "LICENSE-anny.txt").read_text().count("Apache License") >= 1
    assert "NAVER" in (path.parent / "NOTICE.md").read_text()
    num_v = arrays["v_template"].shape[0]
    assert arrays["shapedirs"].shape[:2] == (num_v, 3) and arrays["shapedirs"].shape[2] >= 10
    np.testing.assert_allclose(arrays["weights"].sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(arrays["J_regressor"].sum(1), 1.0, atol=1e-5)
    assert (arrays["J_regressor"] >= 0).all() and (arrays["weights"] >= 0).all()
    assert "posedirs" not in arrays  # pose correctives are zero (documented)
    meta = json.loads(str(arrays["metadata"]))
    assert "anny" in meta["source"]


@pytest.mark.parametrize("batch", [1, 32])
def test_matches_smplx_reading_the_same_file(model, arrays, batch, tmp_path):
    data = dict(arrays)
    num_v = data["v_template"].shape[0]
    data["posedirs"] = np.zeros((num_v, 3, 207), dtype=np.float32)
    ref = smplx.SMPL(model_path=str(tmp_path), data_struct=Struct(**data), batch_size=batch, num_betas=10)
    gen = torch.Generator().manual_seed(batch)
    inputs = {"betas": torch.randn(batch, 10, generator=gen), "global_orient": 0.5 * torch.randn(batch, 3, generator=gen),
              "body_pose": 0.4 * torch.randn(batch, 69, generator=gen), "transl": torch.randn(batch, 3, generator=gen)}
    with torch.no_grad():
        ours, theirs = model(**inputs), ref(**inputs)
    np.testing.assert_allclose(ours.vertices.numpy(), theirs.vertices.numpy(), atol=1e-5)
    np.testing.assert_allclose(ours.joints[:, :24].numpy(), theirs.joints[:, :24].numpy(), atol=1e-5)


def test_smpl_frame_and_joint_semantics(model):
    with torch.no_grad():
        out = model()
    j = {name: out.joints[0, i].numpy() for i, name in enumerate(model.joint_names)}
    verts = out.vertices[0].numpy()
    height = verts[:, 1].max() - verts[:, 1].min()
    assert 1.5 < height < 1.95, height
    assert np.linalg.norm(j["pelvis"]) < 0.05  # origin at the mean shape's pelvis
    assert j["head"][1] > j["neck"][1] > j["spine3"][1] > j["spine1"][1] > j["pelvis"][1]
    assert j["pelvis"][1] > j["left_knee"][1] > j["left_ankle"][1] > verts[:, 1].min()
    for side, sign in (("left", 1.0), ("right", -1.0)):  # SMPL: left at +X
        for part in ("hip", "shoulder", "elbow", "wrist", "knee"):
            assert sign * j[f"{side}_{part}"][0] > 0.05, f"{side}_{part}"
        # T-pose: arms horizontal, wrists far out
        assert abs(j[f"{side}_wrist"][1] - j[f"{side}_shoulder"][1]) < 0.06
        assert sign * j[f"{side}_wrist"][0] > 0.6
    assert j["nose"][2] > j["head"][2] + 0.05  # facing +Z
    assert j["left_big_toe"][2] > j["left_heel"][2] + 0.1


def test_first_shape_component_changes_size(model):
    heights = []
    for value in (-2.0, 0.0, 2.0):
        betas = torch.zeros(1, model.num_betas)
        betas[0, 0] = value
        with torch.no_grad():
            v = model(betas=betas).vertices[0]
        heights.append(float(v[:, 1].max() - v[:, 1].min()))
    assert heights[0] < heights[1] < heights[2] and heights[2] - heights[0] > 0.1


def test_more_betas_available(model):
    assert BodyModel.load("open", num_betas=16).num_betas == 16


def test_body25_keypoints_are_all_available_and_sided(model):
    kmap = keypoint_map(model, "body25")
    assert bool(kmap.available.all())
    with torch.no_grad():
        points = kmap(model())[0].numpy()
    for i, name in enumerate(BODY25_NAMES):
        if name.startswith("left_"):
            assert points[i, 0] > 0.0, name
        elif name.startswith("right_"):
            assert points[i, 0] < 0.0, name


def test_reproduces_anny_meshes():
    """Independent oracle: anny's own skinning output, stored by tools/build_open_model.py."""
    ref = np.load(REFERENCE)
    model = BodyModel.load("open", num_betas=ref["betas"].shape[1])
    with torch.no_grad():
        out = model(betas=torch.as_tensor(ref["betas"]), global_orient=torch.as_tensor(ref["global_orient"]),
                    body_pose=torch.as_tensor(ref["body_pose"]))
    idx = ref["vertex_ids"]
    errors = np.linalg.norm(out.vertices[:, idx].numpy() - ref["vertices"], axis=-1)  # (N, S)
    per_case = errors.mean(1)
    limits = ref["max_mean_error_m"]
    assert (per_case <= limits).all(), (per_case, limits)
