"""Build the everyday pose prior ``assets/models/pose_prior_everyday.npz``.

A full-covariance Gaussian mixture (:func:`humanrecon.fitting.mixture.fit_gaussian_mixture`)
fitted by EM to the TUNING half of the everyday pose library, each pose perturbed
``SAMPLES_PER_POSE`` times by N(0, 0.15²) rad per joint axis within the joint limits
(:func:`humanrecon.fitting.mixture.everyday_pose_samples`); fixed seed, so the file is
reproducible. Prints one JSON line: the prior's mean energy (SMPLify's max-mixture value,
0 = the best a pose can score) on the tuning poses, on the held-out REPORTING poses and on
T-pose-centred samples of the anatomical prior, beside the anatomical prior's energies on
the same poses. Takes about half a minute.

    python tools/build_pose_prior.py [--out assets/models/pose_prior_everyday.npz]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from humanrecon.body.pose_library import library_poses
from humanrecon.fitting import mixture
from humanrecon.fitting.priors import EverydayPosePrior, JointLimitPrior
from humanrecon.io.files import write_bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent.parent
                                             / "assets/models/pose_prior_everyday.npz"))
    args = parser.parse_args()
    torch.manual_seed(mixture.SEED)
    gmm = mixture.fit_gaussian_mixture(mixture.everyday_pose_samples())
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{k: v.astype(np.float32) for k, v in gmm.items()},
                        settings=np.array(json.dumps({
                            "components": mixture.COMPONENTS, "samples_per_pose": mixture.SAMPLES_PER_POSE,
                            "perturbation_rad": mixture.PERTURBATION_RAD,
                            "covariance_floor_rad": mixture.COVARIANCE_FLOOR_RAD,
                            "em_iterations": mixture.EM_ITERATIONS, "seed": mixture.SEED,
                            "trained_on": "TUNING half of humanrecon.body.pose_library"})))
    write_bytes(args.out, buffer.getvalue())
    prior, anatomical = EverydayPosePrior(args.out), JointLimitPrior()
    report = {"out": args.out}
    gen = torch.Generator().manual_seed(1)
    sets = {"tuning": torch.as_tensor(library_poses("tuning")[1]),
            "reporting": torch.as_tensor(library_poses("reporting")[1]),
            "anatomical_samples": anatomical.sample(200, 0.5, gen)}
    with torch.no_grad():
        for name, poses in sets.items():
            report[f"mixture_energy_{name}"] = round(float(prior(poses).mean()), 1)
            report[f"anatomical_energy_{name}"] = round(float(anatomical(poses).mean()), 1)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
