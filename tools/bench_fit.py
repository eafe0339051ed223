"""Accuracy and speed of the fitters (SMPLify, LGD, LGD + SMPLify) on synthetic subjects
with known ground truth.

Each row: N subjects (default 100), betas ~ N(0, 1) clipped to ±2, any yaw, ±10° body
lean, camera 2-8 m away, f = 1000 px, 1000x1000 image, BODY_25 keypoints projected,
N(0, σ²) pixel noise, 10 % of keypoints dropped; all N fitted in one batched run, then
``--latency`` of them again one image at a time (batch 1). Pose families (``--families``):

* ``prior``: N(0, (0.5 σ_joint)²) around the T-pose, clipped to the joint limits — the
  fitter's old prior family (flatters it; kept for comparison with earlier tables);
* ``library``: the REPORTING half of the everyday pose library
  (:data:`humanrecon.body.pose_library.REPORTING_POSES`, never used to tune or build the
  fitter), in turn, each joint axis perturbed by N(0, 0.1²) rad;
* ``library:tuning``: the TUNING half the same way (what the fitter was tuned on: flatters it);
* ``mocap``: frames of the pose corpus's VALIDATION subjects (CMU subjects 02 and 06,
  retargeted by ``tools/build_pose_corpus.py``; never used to build a prior, a start bank
  or LGD's training set), the captured poses (not their mirror images) with their real
  root lean (heading removed), evenly subsampled to N, perturbed the same way;
* ``mocap:tuning``: the same from the corpus's TRAIN subjects (what the mocap prior, the
  start bank and LGD were built from: flatters them; the split on which to choose changes
  to the fitter, so that ``mocap`` stays a held-out number);
* ``pose:NAME``: one named pose (built-in or library), perturbed the same way;
* ``file:PATH``: frames of a motion file (AMASS ``.npz`` or ``body_pose`` arrays; see
  :func:`humanrecon.body.motion.read_motion`), evenly subsampled to N, perturbed the same way.

Faults (``--faults detector``, the default for every family but ``prior``): the true
camera pitched ±15° and rolled ±5° from the rotation the fitter assumes, 2 % of arm/leg
pairs swapped left/right, 5 % of keypoints gross outliers with full confidence;
``--focal-error 0.1`` also tells the fitter a focal length off by up to ±10 %.

One JSON line per (method, family, σ) (``--methods smplify,lgd,lgd+smplify``: every method
on the very same subjects, then an ``lgd_vs_smplify`` line with the differences in
PA-MPJPE and the speed-ups over SMPLify measured in the same run): PA-MPJPE on the 24 SMPL joints and on the 14 LSP joints
(SMPL skeleton joints of those names), pelvis-aligned MPJPE, per-vertex error after
Procrustes (mm), the share of subjects with PA-MPJPE over 100 mm, mean reprojection
error against the (faulty) keypoints (px), seconds per subject in the batched run,
seconds per image at batch 1, optimiser iterations. ``--methods ...,truth+smplify`` adds a
diagnostic row that is not a fitter: LGD + SMPLify's refinement started from the true
answer (:func:`humanrecon.fitting.synthetic.truth_start`): what the objective itself
reaches near the truth, i.e. the floor of a perfect start search. ``lgd+smplify`` refines
LGD's start and the shipped pose lifter's 8 hypotheses (``--lifter auto``, as ``humanrecon
fit`` does); ``--lifter none`` gives the single LGD start, ``--lifter FILE`` other weights.

    python tools/bench_fit.py [--n 100] [--families prior,library] [--sigmas 0,2,5]
                              [--methods smplify,lgd,lgd+smplify]
                              [--faults auto|none|detector] [--focal-error 0] [--latency 5]
                              [--lifter auto|none|FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from humanrecon.body import BodyModel
from humanrecon.fitting.lgd import REFINE_STAGES, make_fitter
from humanrecon.fitting.smplify import SMPLify
from humanrecon.fitting.synthetic import (DETECTOR_FAULTS, LSP14_JOINTS, Faults, mpjpe, pa_mpjpe,
                                          procrustes_align, sample_subjects, truth_start)

TARGETS = {"library": {"pa_mpjpe_mm": 50.0, "over_100mm_share": 0.05, "seconds_per_image_batch1": 1.5,
                       "seconds_per_subject": 0.5}}


#: not a fitter: the refinement of LGD + SMPLify started from the true answer (in the
#: fitter's frame), the objective's own optimum near the truth -- what a perfect start
#: search would reach; it needs the ground truth, so it exists only here
TRUTH_METHOD = "truth+smplify"

#: SMPLify's pose prior and start poses in this run (``--pose-prior``, ``--start-poses``)
PRIOR_AND_STARTS = ("everyday", "library")
#: the pose corpus the ``mocap`` family reads (``tools/build_pose_corpus.py``; ``--corpus``)
CORPUS = Path(__file__).resolve().parent.parent / "runs" / "pose_corpus.npz"


def family_poses(family: str, model: BodyModel):
    """``(global_orient (M, 3), body_pose (M, 69))`` of a pose family, or None for ``prior``."""
    if family == "prior":
        return None
    if family in ("library", "library:reporting", "library:tuning"):
        from humanrecon.body.pose_library import library_poses

        _, body, root = library_poses("tuning" if family.endswith(":tuning") else "reporting")
    elif family.startswith("pose:"):
        from humanrecon.body.poses import load_pose

        pose = load_pose(family[5:])
        body, root = pose["body_pose"][None], pose.get("global_orient", torch.zeros(3)).reshape(1, 3)
    elif family in ("mocap", "mocap:tuning"):
        from humanrecon.body.pose_corpus import read_corpus

        corpus = read_corpus(CORPUS).part("validation" if family == "mocap" else "train")
        corpus = corpus.select(~corpus.mirrored)  # the captured poses, not their mirror images
        body, root = corpus.body_pose, corpus.global_orient  # heading removed, the captured lean kept
    elif family.startswith("file:"):
        from humanrecon.body.motion import read_motion

        motion = read_motion(family[5:], target="smpl")
        # the file's root orientation is not used (AMASS is Z-up); yaw and lean are drawn
        # as for the other families
        body, root = motion.body_pose, np.zeros_like(motion.global_orient)
    else:
        raise SystemExit(f"unknown pose family '{family}' (prior, library, library:tuning, mocap, mocap:tuning, "
                         "pose:NAME, file:PATH)")
    return torch.as_tensor(root, dtype=torch.float32), torch.as_tensor(body, dtype=torch.float32)


def subsample(poses, n: int):
    """At most ``n`` evenly spaced poses (a long motion file becomes n frames)."""
    if poses is None or poses[0].shape[0] <= n:
        return poses
    rows = torch.linspace(0, poses[0].shape[0] - 1, n).round().long()
    return poses[0][rows], poses[1][rows]


def errors(model: BodyModel, result, subjects) -> dict:
    with torch.no_grad():
        out = model(betas=result.betas, global_orient=result.global_orient, body_pose=result.body_pose)
    joints = out.joints[:, : model.num_joints]
    vertex_err = (procrustes_align(out.vertices, subjects.vertices) - subjects.vertices).norm(dim=-1).mean(-1)
    pa = pa_mpjpe(joints, subjects.joints)
    lsp = list(LSP14_JOINTS)
    return {
        "pa_mpjpe_mm": round(1000 * float(pa.mean()), 1),
        "pa_mpjpe_median_mm": round(1000 * float(pa.median()), 1),
        "pa_mpjpe_lsp14_mm": round(1000 * float(pa_mpjpe(joints[:, lsp], subjects.joints[:, lsp]).mean()), 1),
        "over_100mm_share": round(float((pa > 0.1).float().mean()), 3),
        "mpjpe_mm": round(1000 * float(mpjpe(joints, subjects.joints).mean()), 1),
        "pa_vertex_error_mm": round(1000 * float(vertex_err.mean()), 1),
        "reprojection_px": round(float(result.reprojection_error_px.mean()), 2),
    }


def run(model: BodyModel, fitters: dict, family: str, n: int, sigma: float, faults: Faults, seed: int,
        latency: int) -> list[dict]:
    """One row per method on the same subjects, then (with several methods) the comparison."""
    poses = subsample(family_poses(family, model), n)
    subjects = sample_subjects(model, n, noise_px=sigma, drop=0.1, seed=seed, poses=poses, faults=faults)
    args = (subjects.keypoints, subjects.confidence, subjects.intrinsics, subjects.image_size)
    rows = []
    for method, fitter in fitters.items():
        start = time.perf_counter()
        if method == TRUTH_METHOD:  # the refinement of LGD + SMPLify, started from the answer
            result = fitter.refine(truth_start(model, subjects, fitter.num_betas), *args, REFINE_STAGES)
        else:
            result = fitter.fit(*args, progress=False, seed=seed)
        seconds = time.perf_counter() - start
        row = {"benchmark": "fit_synthetic", "method": method, "family": family, "model": model.name, "n": n,
               "pose_prior": PRIOR_AND_STARTS[0], "start_poses": PRIOR_AND_STARTS[1],
               "sigma_px": sigma, "drop": 0.1, "faults": faults.__dict__, "threads": torch.get_num_threads(),
               **errors(model, result, subjects), "seconds_per_subject": round(seconds / n, 4)}
        if latency and method != TRUTH_METHOD:
            start = time.perf_counter()
            for i in range(min(latency, n)):
                fitter.fit(*(a[i:i + 1] for a in args[:3]), subjects.image_size, progress=False, seed=seed)
            row["seconds_per_image_batch1"] = round((time.perf_counter() - start) / min(latency, n), 4)
        row["iterations"] = result.iterations
        if family in TARGETS and sigma == 2.0 and faults != Faults() and method == "smplify":
            row["targets"] = TARGETS[family]
        rows.append(row)
    by = {r["method"]: r for r in rows}
    if "smplify" in by and len(by) > 1:
        base = by["smplify"]
        compare = {"benchmark": "lgd_vs_smplify", "family": family, "sigma_px": sigma}
        for method, row in by.items():
            if method in ("smplify", TRUTH_METHOD):
                continue
            compare[f"{method}_minus_smplify_pa_mpjpe_mm"] = round(row["pa_mpjpe_mm"] - base["pa_mpjpe_mm"], 1)
            if latency:
                compare[f"{method}_speedup_batch1"] = round(base["seconds_per_image_batch1"]
                                                            / row["seconds_per_image_batch1"], 1)
            compare[f"{method}_speedup_batched"] = round(base["seconds_per_subject"] / row["seconds_per_subject"], 1)
        compare["targets"] = {"lgd_minus_smplify_pa_mpjpe_mm": "<= 10", "lgd_speedup_batch1": ">= 10",
                              "lgd+smplify_minus_smplify_pa_mpjpe_mm": "< 0", "lgd+smplify_speedup_batch1": "> 1"}
        rows.append(compare)
    return rows


def main() -> None:
    global CORPUS, PRIOR_AND_STARTS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--model", default="open")
    parser.add_argument("--families", default="prior,library",
                        help="comma list of prior, library, pose:NAME, file:PATH (default prior,library)")
    parser.add_argument("--poses", default="", help="a motion file: shorthand for --families file:PATH")
    parser.add_argument("--sigmas", default="0,2,5")
    parser.add_argument("--faults", default="auto", choices=("auto", "none", "detector"),
                        help="auto: none for the prior family (the old table), detector faults for the others")
    parser.add_argument("--focal-error", type=float, default=0.0, help="relative focal-length error told the fitter")
    parser.add_argument("--latency", type=int, default=5, help="subjects also fitted one at a time (0: skip)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--optimizer", default="lbfgs", choices=("lbfgs", "adam"))
    parser.add_argument("--methods", default="smplify",
                        help="comma list of smplify, lgd, lgd+smplify, truth+smplify (same subjects, one row each)")
    parser.add_argument("--lgd-weights", default=None, help="LGD weights (default: the shipped ones)")
    parser.add_argument("--lifter", default="auto",
                        help="pose lifter for lgd+smplify: auto (the shipped one), none, or a weights file")
    parser.add_argument("--pose-prior", default="everyday",
                        help="SMPLify's pose prior: everyday, mocap, vae, anatomical or a GMM file")
    parser.add_argument("--start-poses", default="library", choices=("library", "mocap"),
                        help="SMPLify's start poses: the tuning library or the mocap start bank")
    parser.add_argument("--corpus", default=str(CORPUS), help="the pose corpus of the mocap family")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    CORPUS = Path(args.corpus)
    PRIOR_AND_STARTS = (args.pose_prior, args.start_poses)
    model = BodyModel.load(args.model)
    from humanrecon.fitting.priors import pose_prior_named

    smplify = SMPLify(model, optimizer=args.optimizer, pose_prior=pose_prior_named(args.pose_prior),
                      start_poses=args.start_poses)
    fitters = {m: smplify if m == TRUTH_METHOD else make_fitter(
        model, m, smplify=smplify, lgd_weights=args.lgd_weights, lifter=args.lifter) for m in args.methods.split(",")}
    families = [f"file:{args.poses}"] if args.poses else args.families.split(",")
    for family in families:
        use_faults = args.faults == "detector" or (args.faults == "auto" and family != "prior")
        faults = Faults(**{**DETECTOR_FAULTS.__dict__, "focal_error": args.focal_error}) if use_faults \
            else Faults(focal_error=args.focal_error)
        for sigma in (float(s) for s in args.sigmas.split(",")):
            for row in run(model, fitters, family, args.n, sigma, faults, args.seed, args.latency):
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
