"""``humanrecon dvr train | render | mesh``: argument parsing and files only; the work is
in :mod:`humanrecon.dvr.train`, :mod:`humanrecon.dvr.render` and :mod:`humanrecon.dvr.evaluate`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from humanrecon.cli._common import (add_device, add_overwrite, add_png, add_quiet, check_outputs, mesh_output, png_output, select_device, write_mesh_picture)
from humanrecon.dvr.config import DVRConfig
from humanrecon.errors import InputError, MissingFileError

#: defaults of ``dvr render`` and ``dvr mesh`` (the library's)
RENDER_SAMPLES, MESH_RESOLUTION, INITIAL_RESOLUTION = 256, 256, 32
#: the checkpoint of a run folder, and the key under which training stores its dataset
CHECKPOINT, DATASET_KEY = "dvr.pt", "dataset"


def _load_model(run_dir: str, device: str):
    """``(model, checkpoint dict)`` of the run folder ``run_dir``; MissingFileError naming
    ``run_dir/dvr.pt`` when it is not there."""
    from humanrecon.dvr.model import DVRModel

    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        raise MissingFileError(f"{path}: DVR checkpoint not found ({run_dir} is not a run folder of "
                               "'humanrecon dvr train')")
    model, checkpoint = DVRModel.restore(path, map_location=device)
    return model.eval(), checkpoint


def _dataset_root(args: argparse.Namespace, checkpoint: dict) -> str:
    """--dataset, else the dataset the run was trained on (stored in its checkpoint)."""
    if args.dataset:
        return args.dataset
    stored = checkpoint.get(DATASET_KEY)
    if not isinstance(stored, str) or not stored:
        raise InputError(f"{Path(args.run) / CHECKPOINT} does not record its dataset: pass --dataset")
    return stored


def train(args: argparse.Namespace) -> None:
    """Train on DATASET's train split (alpha = masks), evaluate on its test split, write
    the run folder (:func:`humanrecon.pipeline.run`)."""
    from humanrecon import pipeline

    config = DVRConfig(steps=args.steps, max_seconds=args.max_seconds, rays=args.rays, samples=args.samples,
                       lr=args.lr, hull_fraction=args.hull_fraction, seed=args.seed,
                       device=select_device(args.device), progress=not args.quiet)
    run = pipeline.run("dvr", args.dataset, args.out, config, resume=args.resume, overwrite=args.overwrite,
                       evaluate=not args.no_eval, eval_split=args.eval_split)
    print(json.dumps(run.metrics))


def render(args: argparse.Namespace) -> None:
    """One PNG of camera --view of a dataset split: colour | normals | depth."""
    from humanrecon.datasets import read_views
    from humanrecon.dvr.render import depth_image, normal_image, render_views
    from humanrecon.render import image_grid, save_image

    if args.samples < 2:
        raise InputError(f"--samples must be >= 2 per ray, got {args.samples}")
    out = png_output(args.out)
    check_outputs([out], args.overwrite)
    model, checkpoint = _load_model(args.run, select_device(args.device))
    split = read_views(_dataset_root(args, checkpoint), args.split)
    if not 0 <= args.view < len(split.cameras):
        raise InputError(f"--view {args.view}: the {args.split} split has {len(split.cameras)} views "
                         f"(0..{len(split.cameras) - 1})")
    result = render_views(model, split.cameras[args.view], samples=args.samples, progress=not args.quiet)
    tiles = [result["rgb"][0].numpy(), normal_image(result["normals"][0], result["mask"][0]),
             depth_image(result["depth"][0], result["mask"][0])]
    save_image(out, image_grid(tiles, cols=3, pad=2))
    print(f"wrote {out} ({Path(split.names[args.view]).name}: colour | normals | depth)")


def mesh(args: argparse.Namespace) -> None:
    """Extract the zero level set of a trained run's shape (and a PNG of it)."""
    from humanrecon.dvr.evaluate import extract_dvr_mesh
    from humanrecon.io.meshes import save_mesh

    out = mesh_output(args.out)
    png = png_output(args.png)
    if args.resolution < 2 or args.initial_resolution < 1:
        raise InputError(f"--resolution must be >= 2 and --initial-resolution >= 1 cells per axis, got "
                         f"{args.resolution} and {args.initial_resolution}")
    check_outputs([out, png], args.overwrite)
    model, _ = _load_model(args.run, select_device(args.device))
    try:
        vertices, faces = extract_dvr_mesh(model, args.resolution, initial_resolution=args.initial_resolution,
                                           progress=not args.quiet)
    except InputError as exc:  # e.g. no surface in the box
        raise InputError(f"{Path(args.run) / CHECKPOINT}: {exc}") from exc
    save_mesh(out, vertices, faces)
    print(f"wrote {out} ({len(vertices)} vertices)")
    write_mesh_picture(png, vertices, faces)


def _add_common(parser: argparse.ArgumentParser) -> None:
    add_device(parser)
    add_overwrite(parser)
    add_quiet(parser)


def add_parser(sub) -> None:
    """Register ``dvr`` and its actions on the top-level sub-parser collection."""
    dvr = sub.add_parser("dvr", help="differentiable volumetric rendering (implicit surfaces): train, render, mesh")
    actions = dvr.add_subparsers(dest="dvr_command", metavar="ACTION")
    actions.required = True
    p = actions.add_parser("train", help="shape and texture from posed RGBA images (alpha = mask)")
    p.add_argument("dataset", help="folder with transforms_{train,test}.json whose PNGs carry the masks as alpha "
                   "(e.g. from 'humanrecon views')")
    p.add_argument("--out", required=True, help="run folder: dvr.pt, metrics.json, test renders")
    p.add_argument("--steps", type=int, default=DVRConfig.steps)
    p.add_argument("--max-seconds", type=float, default=DVRConfig.max_seconds,
                   help="wall-time budget (the schedules follow it)")
    p.add_argument("--rays", type=int, default=DVRConfig.rays, help="rays per step (at the end of the schedule)")
    p.add_argument("--samples", type=int, default=DVRConfig.samples, help="marching samples per ray (at the end)")
    p.add_argument("--lr", type=float, default=DVRConfig.lr)
    p.add_argument("--hull-fraction", type=float, default=DVRConfig.hull_fraction,
                   help="share of the budget fitting the visual hull first (0: start from a sphere)")
    p.add_argument("--eval-split", default="test")
    p.add_argument("--no-eval", action="store_true", help="skip the test-split evaluation")
    p.add_argument("--seed", type=int, default=DVRConfig.seed)
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    _add_common(p)
    p.set_defaults(func=train)
    p = actions.add_parser("render", help="one camera of a dataset split: colour | normals | depth in one PNG")
    p.add_argument("run", help="run folder holding dvr.pt from 'humanrecon dvr train'")
    p.add_argument("--view", type=int, required=True, help="camera index in the split")
    p.add_argument("--split", default="test")
    p.add_argument("--dataset", default=None, help="dataset folder (default: the one the run was trained on)")
    p.add_argument("--out", required=True, help="PNG file")
    p.add_argument("--samples", type=int, default=RENDER_SAMPLES, help="marching samples per ray")
    _add_common(p)
    p.set_defaults(func=render)
    p = actions.add_parser("mesh", help="extract the surface of a trained run as a mesh")
    p.add_argument("run", help="run folder holding dvr.pt from 'humanrecon dvr train'")
    p.add_argument("--out", required=True, help="mesh file (.ply, .obj, ...)")
    p.add_argument("--resolution", type=int, default=MESH_RESOLUTION, help="grid cells per axis")
    p.add_argument("--initial-resolution", type=int, default=INITIAL_RESOLUTION,
                   help="cells per axis of the first (dense) level; resolution = initial x 2^k")
    add_png(p)
    _add_common(p)
    p.set_defaults(func=mesh)
