"""``humanrecon fit``: fit body models to the people in one photo or a folder of photos.
The work is in :mod:`humanrecon.fitting.pipeline`."""

from __future__ import annotations

import argparse
from pathlib import Path

from humanrecon.errors import InputError

#: SMPLify defaults the flags expose (the same as ``SMPLify.__init__``'s; a test checks)
OPTIMIZER, UPRIGHT_WEIGHT = "lbfgs", 100.0


def run(args: argparse.Namespace) -> None:
    from humanrecon.body import BodyModel
    from humanrecon.fitting.pipeline import find_jobs, run as run_jobs
    from humanrecon.fitting.lgd import make_fitter
    from humanrecon.fitting.smplify import SMPLify

    if not args.detect and not args.keypoints:
        raise InputError("give --keypoints FILE|FOLDER (OpenPose or COCO JSON) or --detect")
    if args.focal is not None and not (args.focal > 0 and args.focal != float("inf")):
        raise InputError(f"--focal must be a positive number of pixels, got {args.focal}")
    if not args.upright_weight >= 0:
        raise InputError(f"--upright-weight must be >= 0, got {args.upright_weight}")
    if Path(args.out).is_file():
        raise InputError(f"--out {args.out}: is a file, expected a folder")
    person = None if args.person == "all" else _parse_person(args.person)
    jobs = find_jobs(args.image, None if args.detect else args.keypoints, args.out)
    model = BodyModel.load(args.model, gender=args.gender)
    prior = _load_pose_prior(args.pose_prior)
    smplify = SMPLify(model, pose_prior=prior, optimizer=args.optimizer, upright_weight=args.upright_weight,
                      start_poses=args.start_poses)
    fitter = make_fitter(model, args.method, smplify=smplify, lgd_weights=args.lgd_weights, lifter=args.lifter)
    report = run_jobs(jobs, fitter, faces=model.faces, model_name=args.model, focal=args.focal, person=person,
                      detect=args.detect, layout=args.layout, overwrite=args.overwrite, progress=not args.quiet)
    for image, paths in report.written.items():
        print(f"{image}: wrote {', '.join(str(p) for p in paths)}")
    if report.failures:
        lines = "\n".join(f"  {image}: {message}" for image, message in report.failures)
        raise InputError(f"{len(report.failures)} of {len(jobs)} image(s) failed:\n{lines}")


def _parse_person(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise InputError(f"--person must be an index (0, 1, ...) or 'all', got '{text}'") from exc
    if value < 0:
        raise InputError(f"--person must be >= 0, got {value}")
    return value


def _load_pose_prior(choice: str):
    """``everyday`` (the default mixture: None lets SMPLify build it), ``mocap``,
    ``vae``, ``anatomical`` or a GMM file (:func:`humanrecon.fitting.priors.pose_prior_named`)."""
    from humanrecon.fitting.priors import pose_prior_named

    return None if choice in ("", "everyday") else pose_prior_named(choice)


def add_parser(sub) -> None:
    """Register ``fit`` on the top-level sub-parser collection."""
    fit = sub.add_parser("fit", help="fit a body model to the people in a photo (SMPLify)",
                         description="Fit a body model to 2D keypoints of the people in IMAGE (or every image "
                                     "in a folder, batched) and write mesh.obj (mesh_<k>.obj per person), "
                                     "params.json and overlay.png into --out (one sub-folder per image).")
    fit.add_argument("image", help="a photo, or a folder of photos")
    fit.add_argument("--keypoints", default="",
                     help="OpenPose JSON (BODY_25 or COCO-18) or COCO keypoint JSON; for a folder of photos a "
                          "folder of <stem>_keypoints.json / <stem>.json files or one COCO file")
    fit.add_argument("--detect", action="store_true",
                     help="detect every person with the built-in detector (pip install 'humanrecon[detect]')")
    fit.add_argument("--out", required=True, help="output folder")
    fit.add_argument("--model", default="open", help="'open', a model file or folder (SMPL, SMPL+H, SMPL-X)")
    fit.add_argument("--gender", default="neutral", choices=("neutral", "male", "female"), help="which official model file to load (the open body is neutral)")
    fit.add_argument("--focal", type=float, default=None,
                     help="focal length in pixels (default: from EXIF, else the image diagonal)")
    fit.add_argument("--person", default="all", help="index of the person in the keypoint file, or 'all'")
    fit.add_argument("--layout", default=None, choices=("body25", "coco18"),
                     help="declare the OpenPose keypoint layout (default: from the count)")
    fit.add_argument("--pose-prior", default="everyday",
                     help="'everyday' (default: a mixture fitted to everyday poses, plus joint limits), 'mocap' "
                          "(a mixture learned from real motion capture, CMU training subjects), 'vae' (a learned "
                          "latent prior, a VPoser-style VAE trained on the same poses), 'anatomical' "
                          "(joint limits, centred on the T-pose) or SMPLify's GMM file gmm_08.pkl")
    fit.add_argument("--start-poses", default="library", choices=("library", "mocap"),
                     help="poses SMPLify's start search tries: 'library' (the tuning half of the everyday pose "
                          "library) or 'mocap' (256 poses of real motion capture, CMU training subjects)")
    fit.add_argument("--method", default="auto", choices=("auto", "smplify", "lgd", "lgd+smplify"),
                     help="auto (default: lgd+smplify where LGD weights exist for the model, the open body's are "
                          "shipped; else smplify), smplify (optimisation with a start search), lgd (learned "
                          "gradient descent: a trained network, ~35x faster) or lgd+smplify (LGD, then SMPLify's "
                          "last stages from it: the most accurate on held-out poses)")
    fit.add_argument("--lgd-weights", default=None,
                     help="LGD weights (default: the shipped ones for the open body; train others with "
                          "tools/train_lgd.py)")
    fit.add_argument("--lifter", default="auto",
                     help="pose lifter whose 3D pose hypotheses lgd+smplify also refines, keeping the lowest loss: "
                          "auto (the shipped one with the open body's shipped LGD weights), none, or a weights file "
                          "(tools/train_lifter.py)")
    fit.add_argument("--optimizer", default=OPTIMIZER, choices=("lbfgs", "adam"), help="optimiser of the fitting stages")
    fit.add_argument("--upright-weight", type=float, default=UPRIGHT_WEIGHT,
                     help="weight of the prior that people stand upright (0 for lying or upside-down people)")
    fit.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    fit.add_argument("--quiet", action="store_true", help="no progress bar")
    fit.set_defaults(func=run)
