"""Build what the fitter learns from the pose corpus (``tools/build_pose_corpus.py``):

* ``assets/models/pose_prior_mocap.npz``: SMPLify's recipe, an 8-component full-covariance
  Gaussian mixture over ``body_pose (69)`` fitted by EM
  (:func:`humanrecon.fitting.mixture.fit_gaussian_mixture`) to the corpus's TRAIN split
  (CMU training subjects + the tuning half of the pose library, mirrored copies included)
  plus as many perturbed tuning-library poses (the everyday prior's samples: the corpus
  has few sitting, kneeling or lying poses);
  ``humanrecon fit --pose-prior mocap``;
* ``assets/models/start_poses_mocap.npz``: a start bank of ``--starts`` train poses, the
  medoids of k-means on the mean-shape joint positions (root at the origin), plus the 36
  tuning library poses (sitting, kneeling, lying: what CMU lacks), so the start search
  covers the corpus too; ``SMPLify(start_poses="mocap")``.

Nothing from the validation subjects is used. Prints one JSON line: the mean prior energy
(SMPLify's max-mixture value, 0 = the best a pose scores; lower = more likely) of the new
and of the everyday prior on the train poses, the validation-subject poses and the
reporting half of the pose library, and how far validation poses are from their nearest
start (mean joint distance, mm) for the new bank and the 37 library starts. Deterministic.

    python tools/build_mocap_priors.py [--corpus runs/pose_corpus.npz] [--starts 256]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from humanrecon.body import BodyModel
from humanrecon.body.pose_corpus import pose_joints, read_corpus
from humanrecon.body.pose_library import library_poses
from humanrecon.fitting import mixture
from humanrecon.fitting.priors import EverydayPosePrior
from humanrecon.io.files import write_bytes

ACK = ("The data used in this project was obtained from mocap.cs.cmu.edu. The database was created with funding "
       "from NSF EIA-0196217.")


def medoids(points: np.ndarray, k: int, iterations: int = 30, seed: int = 0) -> np.ndarray:
    """Indices ``(k,)`` of the members nearest the k-means centres of ``points (N, D)``."""
    x = torch.as_tensor(points, dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed)
    centres = mixture._kmeans_pp(x, k, gen)
    for _ in range(iterations):
        label = torch.cdist(x, centres).argmin(1)
        for c in range(k):
            members = x[label == c]
            if len(members):
                centres[c] = members.mean(0)
    return torch.unique(torch.cdist(centres, x).argmin(1)).numpy()


def nearest_start_mm(joints: np.ndarray, bank: np.ndarray) -> float:
    """Mean over poses of the mean joint distance (mm) to the nearest bank pose."""
    a = torch.as_tensor(joints.reshape(len(joints), -1, 3))
    b = torch.as_tensor(bank.reshape(len(bank), -1, 3))
    d = (a[:, None] - b[None]).norm(dim=-1).mean(-1)
    return round(1000 * float(d.min(1).values.mean()), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default=str(ROOT / "runs" / "pose_corpus.npz"))
    parser.add_argument("--prior-out", default=str(ROOT / "assets" / "models" / "pose_prior_mocap.npz"))
    parser.add_argument("--starts-out", default=str(ROOT / "assets" / "models" / "start_poses_mocap.npz"))
    parser.add_argument("--components", type=int, default=8)
    parser.add_argument("--starts", type=int, default=256)
    parser.add_argument("--everyday-samples", type=int, default=-1,
                        help="perturbed tuning-library poses added to the mixture's data (the everyday prior's "
                             "samples; -1: as many as the corpus's train poses, 0: none)")
    args = parser.parse_args()
    corpus = read_corpus(args.corpus)
    train, validation = corpus.part("train"), corpus.part("validation")
    torch.manual_seed(mixture.SEED)
    everyday = mixture.everyday_pose_samples()
    count = len(train) if args.everyday_samples < 0 else args.everyday_samples
    everyday = everyday[np.linspace(0, len(everyday) - 1, count).round().astype(int)] if count else everyday[:0]
    data = np.concatenate([train.body_pose.astype(np.float64), everyday.astype(np.float64)])
    gmm = mixture.fit_gaussian_mixture(data, args.components)
    settings = {"components": args.components, "covariance_floor_rad": mixture.COVARIANCE_FLOOR_RAD,
                "em_iterations": mixture.EM_ITERATIONS, "seed": mixture.SEED,
                "trained_on": f"TRAIN split of {Path(args.corpus).name}: {len(train)} poses (CMU training subjects + "
                              f"tuning half of the pose library, mirrored) + {count} perturbed tuning-library poses",
                "acknowledgement": ACK}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{k: v.astype(np.float32) for k, v in gmm.items()},
                        settings=np.array(json.dumps(settings)))
    write_bytes(args.prior_out, buffer.getvalue())

    model = BodyModel.load("open")
    joints = pose_joints(model, train.global_orient * 0, train.body_pose)
    picks = medoids(joints.reshape(len(joints), -1), args.starts)
    _, tuning_body, tuning_root = library_poses("tuning")
    bank_root = np.concatenate([train.global_orient[picks], np.asarray(tuning_root, np.float32)])
    bank_body = np.concatenate([train.body_pose[picks], np.asarray(tuning_body, np.float32)])
    buffer = io.BytesIO()
    np.savez_compressed(buffer, global_orient=bank_root, body_pose=bank_body,
                        settings=np.array(json.dumps({"starts": len(bank_body), "medoids": len(picks),
                                                      "library_tuning_poses": len(tuning_body),
                                                      "from": settings["trained_on"],
                                                      "acknowledgement": ACK})))
    write_bytes(args.starts_out, buffer.getvalue())

    new, old = EverydayPosePrior(args.prior_out), EverydayPosePrior()
    report = {"prior": args.prior_out, "starts": args.starts_out, "start_count": int(len(bank_body)),
              "components": args.components, "everyday_samples": count}
    sets = {"train": train.body_pose, "validation_subjects": validation.body_pose,
            "library_reporting": library_poses("reporting")[1]}
    with torch.no_grad():
        for name, poses in sets.items():
            poses = torch.as_tensor(poses, dtype=torch.float32)
            report[f"mocap_prior_energy_{name}"] = round(float(new(poses).mean()), 1)
            report[f"everyday_prior_energy_{name}"] = round(float(old(poses).mean()), 1)
    _, body, root = library_poses("tuning")
    library_bank = pose_joints(model, np.zeros((len(body) + 1, 3), np.float32),
                               np.concatenate([np.zeros((1, 69), np.float32), body]))
    val_joints = pose_joints(model, validation.global_orient * 0, validation.body_pose)
    bank_joints = np.concatenate([joints[picks], library_bank[1:]])
    report["validation_to_nearest_start_mm"] = {"mocap_bank": nearest_start_mm(val_joints, bank_joints),
                                                "library_starts": nearest_start_mm(val_joints, library_bank)}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
