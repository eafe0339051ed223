"""``humanrecon splat train | render | eval``: argument parsing only; training is
:func:`humanrecon.pipeline.run`, the other verbs are the shared ones of
:mod:`humanrecon.cli._scene` (splats have no mesh extraction)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from humanrecon.cli._common import add_common, config_from_flags, select_device
from humanrecon.cli._scene import add_dataset_arguments, add_scene_verbs
from humanrecon.errors import InputError
from humanrecon.splat.config import BACKENDS, INIT_KEYWORDS, SplatConfig


def train(args: argparse.Namespace) -> None:
    """Train on DATASET's train split, evaluate on its test split, write the run folder
    with the scene files (:func:`humanrecon.pipeline.run`)."""
    from humanrecon import pipeline

    if args.init not in INIT_KEYWORDS and not Path(args.init).is_file():
        raise InputError(f"--init {args.init}: no such file (give {', '.join(INIT_KEYWORDS)}, a point cloud, a mesh "
                         "or a splat file)")
    config = config_from_flags(SplatConfig, steps=args.steps, max_seconds=args.max_seconds, init=args.init, init_points=args.init_points,
                         sh_degree=args.sh_degree, backend=args.backend, device=select_device(args.device),
                         seed=args.seed, progress=not args.quiet)
    run = pipeline.run("splat", args.dataset, args.out, config, resume=args.resume, overwrite=args.overwrite,
                       evaluate=not args.no_eval, eval_split=args.eval_split, downscale=args.downscale,
                       masks=args.masks)
    print(json.dumps(run.metrics))


def add_parser(sub) -> None:
    """Register ``splat`` and its actions on the top-level sub-parser collection."""
    splat = sub.add_parser("splat", help="3D Gaussian splatting: train, render, eval")
    actions = splat.add_subparsers(dest="splat_command", metavar="ACTION")
    actions.required = True
    p = actions.add_parser("train", help="train Gaussians on a Blender-format dataset or a COLMAP capture")
    add_dataset_arguments(p, "photo")
    p.add_argument("--out", required=True, help="run folder: splat.pt, scene.ply, scene.splat, metrics.json, renders")
    p.add_argument("--steps", type=int, default=SplatConfig.steps, help="training steps (the learning-rate schedule spans them)")
    p.add_argument("--max-seconds", type=float, default=SplatConfig.max_seconds, help="wall-time budget")
    p.add_argument("--init", default=SplatConfig.init,
                   help="'auto' (the dataset's sparse points when it has them; else the visual hull of images "
                        "with alpha; else 'sfm' on photos, 'random' when that finds too few), 'random' (points in "
                        "the scene box), 'sparse', 'hull', 'sfm' (points COLMAP triangulates on the known cameras, "
                        "cached in --out as sfm_points.npz), a point cloud, a mesh (surface samples) or a splat "
                        "file")
    p.add_argument("--init-points", type=int, default=SplatConfig.init_points, help="number of Gaussians a random, hull or mesh start makes")
    p.add_argument("--sh-degree", type=int, default=SplatConfig.sh_degree, help="final spherical-harmonics degree of the colours (0..3)")
    p.add_argument("--backend", default=SplatConfig.backend, choices=BACKENDS,
                   help="rasterizer: auto (the fastest here), torch (reference), cpu, cuda")
    p.add_argument("--eval-split", default="test", help="the split to evaluate on after training")
    p.add_argument("--no-eval", action="store_true", help="skip the test-split evaluation")
    p.add_argument("--seed", type=int, default=SplatConfig.seed, help="random seed (the same seed gives the same run)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    add_common(p)
    p.set_defaults(func=train)
    add_scene_verbs(actions, 'splat', verbs=('render', 'eval'))
