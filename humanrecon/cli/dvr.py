"""``humanrecon dvr train | render | mesh | eval``: argument parsing only; training is
:func:`humanrecon.pipeline.run`, the other verbs are the shared ones of
:mod:`humanrecon.cli._scene`."""

from __future__ import annotations

import argparse
import json

from humanrecon.cli._common import add_common, config_from_flags, select_device
from humanrecon.cli._scene import add_dataset_arguments, add_scene_verbs
from humanrecon.dvr.config import DVRConfig


def train(args: argparse.Namespace) -> None:
    """Train on DATASET's train split (alpha = masks), evaluate on its test split, write
    the run folder (:func:`humanrecon.pipeline.run`)."""
    from humanrecon import pipeline

    config = config_from_flags(DVRConfig, steps=args.steps, max_seconds=args.max_seconds, rays=args.rays, samples=args.samples,
                       lr=args.lr, hull_fraction=args.hull_fraction, seed=args.seed,
                       device=select_device(args.device), progress=not args.quiet)
    run = pipeline.run("dvr", args.dataset, args.out, config, resume=args.resume, overwrite=args.overwrite,
                       evaluate=not args.no_eval, eval_split=args.eval_split, downscale=args.downscale,
                       masks=args.masks)
    print(json.dumps(run.metrics))


def add_parser(sub) -> None:
    """Register ``dvr`` and its actions on the top-level sub-parser collection."""
    dvr = sub.add_parser("dvr", help="differentiable volumetric rendering (implicit surfaces): train, render, mesh, eval")
    actions = dvr.add_subparsers(dest="dvr_command", metavar="ACTION")
    actions.required = True
    p = actions.add_parser("train", help="shape and texture from posed images and object masks (alpha or mask/)")
    add_dataset_arguments(p, "object")
    p.add_argument("--out", required=True, help="run folder: dvr.pt, metrics.json, test renders")
    p.add_argument("--steps", type=int, default=DVRConfig.steps, help="training steps (the learning-rate schedule spans them)")
    p.add_argument("--max-seconds", type=float, default=DVRConfig.max_seconds,
                   help="wall-time budget (the schedules follow it)")
    p.add_argument("--rays", type=int, default=DVRConfig.rays, help="rays per step (at the end of the schedule)")
    p.add_argument("--samples", type=int, default=DVRConfig.samples, help="marching samples per ray (at the end)")
    p.add_argument("--lr", type=float, default=DVRConfig.lr, help="learning rate (Adam)")
    p.add_argument("--hull-fraction", type=float, default=DVRConfig.hull_fraction,
                   help="share of the budget fitting the visual hull first (0: start from a sphere)")
    p.add_argument("--eval-split", default="test", help="the split to evaluate on after training")
    p.add_argument("--no-eval", action="store_true", help="skip the test-split evaluation")
    p.add_argument("--seed", type=int, default=DVRConfig.seed, help="random seed (the same seed gives the same run)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    add_common(p)
    p.set_defaults(func=train)
    add_scene_verbs(actions, 'dvr')
