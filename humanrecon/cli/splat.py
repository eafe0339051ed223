"""``humanrecon splat train | render``: argument parsing and files only; the work is in
:mod:`humanrecon.splat.train`, :mod:`humanrecon.splat.files` and
:mod:`humanrecon.render.novel_views`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from humanrecon.cli._common import (add_device, add_overwrite, add_quiet, check_outputs, positive, select_device)
from humanrecon.errors import InputError
from humanrecon.splat.config import INIT_KEYWORDS, SplatConfig

#: defaults of ``splat render``
ORBIT_VIEWS, ORBIT_FPS, ORBIT_SIZE = 36, 12.0, 256
BACKENDS = ("auto", "torch", "cpu", "cuda")


def train(args: argparse.Namespace) -> None:
    """Train on DATASET's train split, evaluate on its test split, write the run folder
    with the scene files (:func:`humanrecon.pipeline.run`)."""
    from humanrecon import pipeline

    if args.init not in INIT_KEYWORDS and not Path(args.init).is_file():
        raise InputError(f"--init {args.init}: no such file (give {', '.join(INIT_KEYWORDS)}, a point cloud, a mesh "
                         "or a splat file)")
    config = SplatConfig(steps=args.steps, max_seconds=args.max_seconds, init=args.init, init_points=args.init_points,
                         sh_degree=args.sh_degree, backend=args.backend, device=select_device(args.device),
                         seed=args.seed, progress=not args.quiet)
    run = pipeline.run("splat", args.dataset, args.out, config, resume=args.resume, overwrite=args.overwrite,
                       evaluate=not args.no_eval, eval_split=args.eval_split, downscale=args.downscale)
    print(json.dumps(run.metrics))


def render(args: argparse.Namespace) -> None:
    """Orbit views (PNGs + GIF + contact sheet) of a ``.ply`` / ``.splat`` scene."""
    import torch

    from humanrecon.geometry import Camera
    from humanrecon.render import image_grid, save_animation, save_image
    from humanrecon.render.novel_views import render_orbit
    from humanrecon.render.raycast import turntable_cameras
    from humanrecon.splat.files import load_gaussians
    from humanrecon.splat.model import SplatModel

    if args.orbit < 1 or args.size < 1:
        raise InputError(f"--orbit and --size must be >= 1, got {args.orbit} and {args.size}")
    positive(args.fps, "--fps")
    out = Path(args.out)
    views = [out / f"view_{i:03d}.png" for i in range(args.orbit)]
    gif, sheet = out / "orbit.gif", out / "contact_sheet.png"
    check_outputs(views + [gif, sheet], args.overwrite)
    model = SplatModel.from_gaussians(load_gaussians(args.scene)).to(select_device(args.device))
    means = model.params["means"].detach().cpu()
    centre = means.median(0).values
    radius = float((means - centre).norm(dim=-1).quantile(0.9))
    cameras: Camera = turntable_cameras(centre.numpy(), args.distance or 3.0 * radius, args.orbit, width=args.size,
                                        height=args.size, fov_x_rad=0.8, elevation_rad=float(torch.deg2rad(
                                            torch.tensor(args.elevation))), up=tuple(args.up))
    frames = render_orbit(model, cameras, background=args.background, progress=not args.quiet)
    for path, frame in zip(views, frames):
        save_image(path, frame)
    save_animation(gif, frames, fps=args.fps)
    save_image(sheet, image_grid(frames[:: max(1, len(frames) // 8)][:8], cols=4, pad=2))
    print(f"wrote {len(frames)} views, {gif} and {sheet}")


def add_parser(sub) -> None:
    """Register ``splat`` and its actions on the top-level sub-parser collection."""
    splat = sub.add_parser("splat", help="3D Gaussian splatting: train, render")
    actions = splat.add_subparsers(dest="splat_command", metavar="ACTION")
    actions.required = True
    p = actions.add_parser("train", help="train Gaussians on a Blender-format dataset or a COLMAP capture")
    p.add_argument("dataset", help="folder with transforms_{train,val,test}.json, or a COLMAP capture (sparse/0 + "
                   "images/; every 8th image is the test split)")
    p.add_argument("--out", required=True, help="run folder: splat.pt, scene.ply, scene.splat, metrics.json, renders")
    p.add_argument("--steps", type=int, default=SplatConfig.steps)
    p.add_argument("--max-seconds", type=float, default=SplatConfig.max_seconds, help="wall-time budget")
    p.add_argument("--init", default=SplatConfig.init,
                   help="'auto' (the dataset's sparse points when it has them, else 'random'), 'random' (points in "
                        "the scene box), 'sparse', a point cloud, a mesh (surface samples) or a splat file")
    p.add_argument("--init-points", type=int, default=SplatConfig.init_points)
    p.add_argument("--sh-degree", type=int, default=SplatConfig.sh_degree)
    p.add_argument("--backend", default=SplatConfig.backend, choices=BACKENDS)
    p.add_argument("--downscale", type=int, default=1, help="train on images downscaled by this factor")
    p.add_argument("--eval-split", default="test")
    p.add_argument("--no-eval", action="store_true", help="skip the test-split evaluation")
    p.add_argument("--seed", type=int, default=SplatConfig.seed)
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    for parser in (p,):
        add_device(parser)
        add_overwrite(parser)
        add_quiet(parser)
    p.set_defaults(func=train)
    r = actions.add_parser("render", help="orbit views of a .ply / .splat scene (PNGs, GIF, contact sheet)")
    r.add_argument("scene", help="a 3DGS .ply or a .splat file")
    r.add_argument("--out", required=True, help="output folder")
    r.add_argument("--orbit", type=int, default=ORBIT_VIEWS, help="number of views around the scene")
    r.add_argument("--size", type=int, default=ORBIT_SIZE, help="image width and height in pixels")
    r.add_argument("--distance", type=float, default=None, help="camera distance (default 3 x the scene radius: 90 %% of the Gaussians lie within it)")
    r.add_argument("--elevation", type=float, default=15.0, help="degrees above the centre")
    r.add_argument("--up", type=float, nargs=3, default=(0.0, 1.0, 0.0), help="the scene's up direction")
    r.add_argument("--background", type=float, default=1.0, help="grey level of the background")
    r.add_argument("--fps", type=float, default=ORBIT_FPS)
    add_device(r)
    add_overwrite(r)
    add_quiet(r)
    r.set_defaults(func=render)
