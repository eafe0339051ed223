"""``humanrecon nerf train | render | mesh``: argument parsing and files only; the work
is in :mod:`humanrecon.nerf.train` and :mod:`humanrecon.nerf.evaluate`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from humanrecon.cli._common import (add_device, add_overwrite, add_png, add_quiet, check_outputs, mesh_output, png_output, positive, select_device,
                                    write_mesh_picture)
from humanrecon.errors import InputError
from humanrecon.nerf.config import CHECKPOINT, MODEL_PRESETS, NerfConfig

#: defaults of ``nerf render`` and ``nerf mesh``
ORBIT_VIEWS, ORBIT_FPS, MESH_RESOLUTION = 36, 12.0, 256
#: flags that override the model preset's settings
PRESET_FLAGS = ("log2_table_size", "finest_resolution", "samples_per_diagonal", "grid_resolution")


def _load_model(run_dir: str, device: str):
    from humanrecon.nerf.model import NerfModel

    return NerfModel.load(Path(run_dir) / CHECKPOINT, map_location=device)


def _dataset(root: str, split: str, downscale: int):
    from humanrecon.datasets import read_views

    return read_views(root, split, downscale=downscale)


def train(args: argparse.Namespace) -> None:
    """Train on DATASET's train split, evaluate on its test split, write the run folder
    (:func:`humanrecon.pipeline.run`)."""
    from humanrecon import pipeline

    overrides = {key: getattr(args, key) for key in PRESET_FLAGS if getattr(args, key) is not None}
    config = NerfConfig(steps=args.steps, max_seconds=args.max_seconds, samples_per_batch=args.samples_per_batch,
                        lr=args.lr, seed=args.seed, device=select_device(args.device), progress=not args.quiet,
                        preset=args.preset, model=overrides)
    run = pipeline.run("nerf", args.dataset, args.out, config, resume=args.resume, overwrite=args.overwrite,
                       evaluate=not args.no_eval, eval_split=args.eval_split, downscale=args.downscale)
    print(json.dumps(run.metrics))


def render(args: argparse.Namespace) -> None:
    """Render a turntable of novel views (PNGs + GIF) from a trained run."""
    from humanrecon.nerf.evaluate import orbit_cameras, render_orbit
    from humanrecon.render import image_grid, save_animation, save_image

    if args.views < 1:
        raise InputError(f"--views must be >= 1, got {args.views}")
    if args.size is not None and args.size < 1:
        raise InputError(f"--size must be >= 1 pixel, got {args.size}")
    positive(args.fps, "--fps")
    out = Path(args.out)
    gif, sheet = out / "turntable.gif", out / "contact_sheet.png"
    views = [out / f"view_{i:03d}.png" for i in range(args.views)]
    check_outputs(views + [gif, sheet], args.overwrite)
    model = _load_model(args.run, select_device(args.device))
    like = _dataset(args.dataset, "train", 1).cameras
    centre = 0.5 * (model.bounds[0] + model.bounds[1]).cpu()
    frames = render_orbit(model, orbit_cameras(like, centre, args.views, args.size, args.size), progress=not args.quiet)
    for path, frame in zip(views, frames):
        save_image(path, frame)
    save_animation(gif, frames, fps=args.fps)
    save_image(sheet, image_grid(frames[:: max(1, len(frames) // 8)][:8], cols=4, pad=2))
    print(f"wrote {len(frames)} views, {gif} and {sheet}")


def mesh(args: argparse.Namespace) -> None:
    """Extract a mesh of the density of a trained run (and a PNG of it)."""
    import math

    from humanrecon.nerf.evaluate import extract_density_mesh

    out = mesh_output(args.out)
    png = png_output(args.png)
    if args.resolution < 2:
        raise InputError(f"--resolution must be >= 2 cells per axis, got {args.resolution}")
    if args.level is not None and not (math.isfinite(args.level) and args.level > 0):
        raise InputError(f"--level must be a density > 0 (1/m), got {args.level}")
    check_outputs([out, png], args.overwrite)
    model = _load_model(args.run, select_device(args.device))
    try:
        result = extract_density_mesh(model, args.resolution, args.level, progress=not args.quiet)
    except InputError as exc:  # e.g. no surface at this level (an untrained or empty field)
        raise InputError(f"{Path(args.run) / CHECKPOINT}: {exc}") from exc
    result.save(out)
    print(f"wrote {out} ({len(result.mesh.vertices)} vertices)")
    write_mesh_picture(png, result.mesh.vertices, result.mesh.faces)


def _add_common(parser: argparse.ArgumentParser) -> None:
    add_device(parser)
    add_overwrite(parser)
    add_quiet(parser)


def add_parser(sub) -> None:
    """Register ``nerf`` and its actions on the top-level sub-parser collection."""
    nerf = sub.add_parser("nerf", help="neural radiance fields: train, render, mesh")
    actions = nerf.add_subparsers(dest="nerf_command", metavar="ACTION")
    actions.required = True
    p = actions.add_parser("train", help="train a hash-grid NeRF on a Blender-format dataset or a COLMAP capture")
    p.add_argument("dataset", help="folder with transforms_{train,val,test}.json, or a COLMAP capture (sparse/0 + "
                   "images/; every 8th image is the test split)")
    p.add_argument("--out", required=True, help="run folder: model.pt, metrics.json, test renders")
    p.add_argument("--steps", type=int, default=NerfConfig.steps)
    p.add_argument("--max-seconds", type=float, default=NerfConfig.max_seconds,
                   help="wall-time budget (the schedule follows it)")
    p.add_argument("--samples-per-batch", type=int, default=NerfConfig.samples_per_batch, help="field samples per step")
    p.add_argument("--lr", type=float, default=NerfConfig.lr)
    p.add_argument("--preset", default="auto", choices=("auto", *MODEL_PRESETS),
                   help="model size: 'cpu' (smaller tables, coarser steps), 'ngp' (Instant-NGP's); "
                        "auto: cpu on the CPU, ngp on CUDA")
    p.add_argument("--log2-table-size", type=int, default=None, help="hash-table rows per level, log2")
    p.add_argument("--finest-resolution", type=int, default=None, help="finest hash-grid resolution")
    p.add_argument("--samples-per-diagonal", type=int, default=None, help="marching step = box diagonal / this")
    p.add_argument("--grid-resolution", type=int, default=None, help="occupancy-grid cells per axis")
    p.add_argument("--downscale", type=int, default=1, help="train on images downscaled by this factor")
    p.add_argument("--eval-split", default="test")
    p.add_argument("--no-eval", action="store_true", help="skip the test-split evaluation")
    p.add_argument("--seed", type=int, default=NerfConfig.seed)
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    _add_common(p)
    p.set_defaults(func=train)
    p = actions.add_parser("render", help="render a turntable of novel views (PNGs + GIF)")
    p.add_argument("run", help="run folder from 'humanrecon nerf train'")
    p.add_argument("--dataset", required=True, help="the training dataset (places the novel cameras)")
    p.add_argument("--out", required=True)
    p.add_argument("--views", type=int, default=ORBIT_VIEWS)
    p.add_argument("--size", type=int, default=None, help="image width and height (default: the dataset's)")
    p.add_argument("--fps", type=float, default=ORBIT_FPS)
    _add_common(p)
    p.set_defaults(func=render)
    p = actions.add_parser("mesh", help="extract a mesh of the density")
    p.add_argument("run", help="run folder from 'humanrecon nerf train'")
    p.add_argument("--out", required=True, help="mesh file (.ply, .obj)")
    p.add_argument("--resolution", type=int, default=MESH_RESOLUTION)
    p.add_argument("--level", type=float, default=None,
                   help="density iso-level in 1/m (default: 50%% opacity over 10%% of the box, ~3 /m for a 2 m box)")
    add_png(p)
    _add_common(p)
    p.set_defaults(func=mesh)
