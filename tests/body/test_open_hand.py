"""The shipped open right hand (MANO layout): smplx's MANO reads it the same way, its
joints follow MANO's order, and fingertips feed the OpenPose hand keypoints."""

from __future__ import annotations

import numpy as np
import smplx
import torch

from humanrecon._assets import asset_path
from humanrecon.body import BodyModel, keypoint_map
from humanrecon.body.io import load_model_arrays
from humanrecon.body.keypoints import HAND21_NAMES, MANO_JOINT_NAMES


def test_matches_smplx_mano(tmp_path):
    arrays = load_model_arrays(asset_path("models/open_hand_right.npz"))
    keep = ("v_template", "shapedirs", "J_regressor", "weights", "kintree_table", "f", "hands_components", "hands_mean")
    data = {k: arrays[k] for k in keep}
    data["posedirs"] = np.zeros((arrays["v_template"].shape[0], 3, 135), dtype=np.float32)
    path = tmp_path / "MANO_RIGHT.npz"
    np.savez(path, **data)
    ours = BodyModel.load("open-hand", use_pca=False)
    ref = smplx.MANO(model_path=str(path), ext="npz", use_pca=False, batch_size=4)
    gen = torch.Generator().manual_seed(0)
    inputs = {"betas": torch.randn(4, 10, generator=gen), "global_orient": 0.5 * torch.randn(4, 3, generator=gen),
              "hand_pose": 0.4 * torch.randn(4, 45, generator=gen), "transl": torch.randn(4, 3, generator=gen)}
    with torch.no_grad():
        a, b = ours(**inputs), ref(**inputs)
    np.testing.assert_allclose(a.vertices.numpy(), b.vertices.numpy(), atol=1e-5)
    np.testing.assert_allclose(a.joints.numpy(), b.joints.numpy(), atol=1e-5)


def test_joint_order_and_frame():
    model = BodyModel.load("open-hand", use_pca=False)
    assert model.model_type == "mano" and model.joint_names == MANO_JOINT_NAMES
    with torch.no_grad():
        out = model()
    joints = {n: out.joints[0, i].numpy() for i, n in enumerate(model.joint_names)}
    assert np.linalg.norm(joints["wrist"]) < 1e-2
    for finger in ("index", "middle", "ring", "pinky", "thumb"):
        # right hand of a T-posed body: fingers point along -X, each chain moves outwards
        assert joints[f"{finger}1"][0] > joints[f"{finger}2"][0] > joints[f"{finger}3"][0]
    assert joints["thumb1"][2] > joints["pinky1"][2]  # palm down: thumb towards +Z
    kmap = keypoint_map(model, "hand21")
    assert bool(kmap.available.all())
    tips = kmap(out)[0].numpy()
    for finger in ("index", "middle", "ring", "pinky", "thumb"):
        assert tips[HAND21_NAMES.index(f"{finger}4"), 0] < joints[f"{finger}3"][0]
