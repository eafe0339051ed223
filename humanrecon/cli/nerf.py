"""``humanrecon nerf train | render | mesh | eval``: argument parsing only; training is
:func:`humanrecon.pipeline.run`, the other verbs are the shared ones of
:mod:`humanrecon.cli._scene`."""

from __future__ import annotations

import argparse
import json

from humanrecon.cli._common import add_common, config_from_flags, select_device
from humanrecon.cli._scene import add_dataset_arguments, add_scene_verbs
from humanrecon.nerf.config import MODEL_PRESETS, NerfConfig

#: flags that override the model preset's settings
PRESET_FLAGS = ("log2_table_size", "finest_resolution", "samples_per_diagonal", "grid_resolution")


def train(args: argparse.Namespace) -> None:
    """Train on DATASET's train split, evaluate on its test split, write the run folder
    (:func:`humanrecon.pipeline.run`)."""
    from humanrecon import pipeline

    overrides = {key: getattr(args, key) for key in PRESET_FLAGS if getattr(args, key) is not None}
    config = config_from_flags(NerfConfig, steps=args.steps, max_seconds=args.max_seconds, samples_per_batch=args.samples_per_batch,
                        lr=args.lr, seed=args.seed, device=select_device(args.device), progress=not args.quiet,
                        preset=args.preset, model=overrides)
    run = pipeline.run("nerf", args.dataset, args.out, config, resume=args.resume, overwrite=args.overwrite,
                       evaluate=not args.no_eval, eval_split=args.eval_split, downscale=args.downscale,
                       masks=args.masks)
    print(json.dumps(run.metrics))


def add_parser(sub) -> None:
    """Register ``nerf`` and its actions on the top-level sub-parser collection."""
    nerf = sub.add_parser("nerf", help="neural radiance fields: train, render, mesh, eval")
    actions = nerf.add_subparsers(dest="nerf_command", metavar="ACTION")
    actions.required = True
    p = actions.add_parser("train", help="train a hash-grid NeRF on a Blender-format dataset or a COLMAP capture")
    add_dataset_arguments(p, "photo")
    p.add_argument("--out", required=True, help="run folder: model.pt, metrics.json, test renders")
    p.add_argument("--steps", type=int, default=NerfConfig.steps, help="training steps (the learning-rate schedule spans them)")
    p.add_argument("--max-seconds", type=float, default=NerfConfig.max_seconds,
                   help="wall-time budget (the schedule follows it)")
    p.add_argument("--samples-per-batch", type=int, default=NerfConfig.samples_per_batch, help="field samples per step")
    p.add_argument("--lr", type=float, default=NerfConfig.lr, help="learning rate (Adam)")
    p.add_argument("--preset", default="auto", choices=("auto", *MODEL_PRESETS),
                   help="model size: 'cpu' (smaller tables, coarser steps), 'ngp' (Instant-NGP's); "
                        "auto: cpu on the CPU, ngp on CUDA")
    p.add_argument("--log2-table-size", type=int, default=None, help="hash-table rows per level, log2")
    p.add_argument("--finest-resolution", type=int, default=None, help="finest hash-grid resolution")
    p.add_argument("--samples-per-diagonal", type=int, default=None, help="marching step = box diagonal / this")
    p.add_argument("--grid-resolution", type=int, default=None, help="occupancy-grid cells per axis")
    p.add_argument("--eval-split", default="test", help="the split to evaluate on after training")
    p.add_argument("--no-eval", action="store_true", help="skip the test-split evaluation")
    p.add_argument("--seed", type=int, default=NerfConfig.seed, help="random seed (the same seed gives the same run)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    add_common(p)
    p.set_defaults(func=train)
    add_scene_verbs(actions, 'nerf')
