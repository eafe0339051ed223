"""The shipped prior and start bank learned from real motion capture: how they were built,
what they prefer, that validation subjects are in neither, and how the fitter uses them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from humanrecon._assets import asset_path
from humanrecon.body import BodyModel
from humanrecon.errors import InputError
from humanrecon.fitting import SMPLify
from humanrecon.fitting.priors import MOCAP_PRIOR_ASSET, JointLimitPrior, pose_prior_named
from humanrecon.fitting.starts import START_BANK_ASSET, start_bank

CORPUS = Path(__file__).resolve().parents[2] / "runs" / "pose_corpus.npz"


@pytest.fixture(scope="module")
def model():
    return BodyModel.load("open")


def test_the_mocap_prior_says_what_it_learned_from_and_prefers_real_poses():
    settings = json.loads(str(np.load(asset_path(MOCAP_PRIOR_ASSET), allow_pickle=False)["settings"]))
    assert "TRAIN split" in settings["trained_on"] and "mocap.cs.cmu.edu" in settings["acknowledgement"]
    prior = pose_prior_named("mocap")
    real = torch.as_tensor(start_bank()[1][1:257])  # the bank's mocap medoids
    random = JointLimitPrior().sample(200, 0.5, torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert prior(real).mean() < prior(random).mean()
        # real motion is far more likely under it than under the everyday (library) prior
        assert prior(real).mean() < 0.5 * pose_prior_named("everyday")(real).mean()
    for name in ("everyday", "anatomical"):
        assert pose_prior_named(name)(real[:2]).shape == (2,)
    with pytest.raises(Exception, match="nope.npz"):
        pose_prior_named("nope.npz")


def test_start_bank_and_the_fitter(model):
    root, body = start_bank()
    assert body.shape == (293, 69) and root.shape == (293, 3) and not body[0].any()
    assert start_bank(63)[1].shape == (293, 63)
    fitter = SMPLify(model, start_poses="mocap")
    assert len(fitter.start_candidates().body_pose) == 293 * len(fitter.start_yaws)
    with pytest.raises(InputError, match="start_poses must be"):
        SMPLify(model, start_poses="everything").start_candidates()



def test_a_bad_start_bank_names_the_file(tmp_path):
    np.savez(tmp_path / "bank.npz", body_pose=np.zeros((2, 69)))
    with pytest.raises(InputError, match="bank.npz: not a start bank"):
        start_bank(69, tmp_path / "bank.npz")
    assert START_BANK_ASSET.endswith(".npz")


@pytest.mark.skipif(not CORPUS.is_file(), reason="the pose corpus is built locally (tools/build_pose_corpus.py)")
def test_no_validation_subject_pose_is_a_start():
    from humanrecon.body.pose_corpus import read_corpus

    validation = torch.as_tensor(read_corpus(CORPUS).part("validation").body_pose)
    bank = torch.as_tensor(start_bank()[1][1:])
    assert torch.cdist(bank, validation).min() > 1e-3
