"""The verbs every scene method shares, with the same flags: ``render`` (an orbit of novel
views, or one camera of a dataset), ``mesh`` (the shared extractor) and ``eval`` (the
shared held-out evaluation). ``nerf``, ``splat`` and ``dvr`` register them with
:func:`add_scene_verbs`; ``train`` stays each method's own. Argument parsing and files
only: the models come from :func:`humanrecon.pipeline.load`."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from humanrecon.cli._common import (add_common, add_png, check_outputs, mesh_output, png_output, positive,
                                    select_device, write_mesh_picture)
from humanrecon.errors import InputError

#: defaults of ``render`` and ``mesh``
ORBIT_VIEWS, ORBIT_FPS, MESH_RESOLUTION, INITIAL_RESOLUTION = 36, 12.0, 256, 32
#: scene files ``splat render`` also takes instead of a run folder
SCENE_SUFFIXES = (".ply", ".splat")


#: what every ``train`` verb says its DATASET may be
DATASET_HELP = ("a capture folder in any format read_views knows: Blender (transforms_{train,test}.json), instant-ngp "
                "/ nerfstudio (transforms.json, distortion undistorted), COLMAP (sparse/0 + images/), DTU / IDR "
                "(cameras_sphere.npz + images/ + mask/), LLFF (poses_bounds.npy + images/); without its own split "
                "every 8th image is the test split")


def add_dataset_arguments(parser: argparse.ArgumentParser, masks_default_help: str) -> None:
    """The positional DATASET and the flags of how it is read: ``--downscale``, ``--masks``."""
    parser.add_argument("dataset", help=DATASET_HELP)
    parser.add_argument("--downscale", type=int, default=1, help="train on images downscaled by this factor")
    parser.add_argument("--masks", default="auto", choices=("auto", "object", "photo"),
                        help="captures with object masks: 'object' trains on the object alone (masks as opacity), "
                             f"'photo' on the whole photos (masked metrics reported too); auto: {masks_default_help}")


def load_run(path: str, device: str, method: str | None = None):
    """The :class:`humanrecon.pipeline.Run` of a run folder, or (splats) of a ``.ply`` /
    ``.splat`` scene file."""
    from humanrecon import pipeline

    target = Path(path)
    if target.suffix.lower() in SCENE_SUFFIXES and target.is_file():
        from humanrecon.splat.files import load_gaussians
        from humanrecon.splat.model import SplatModel

        model = SplatModel.from_gaussians(load_gaussians(target)).to(device).eval()
        return pipeline.Run("splat", target.parent, model)
    return pipeline.load(target, device, method)


def _dataset_of(args: argparse.Namespace, run) -> str | None:
    """``--dataset``, else the dataset the run recorded in its metrics (None without)."""
    return args.dataset or run.metrics.get("dataset") or None


def _run_and_split(args: argparse.Namespace):
    """``(run, dataset path, the dataset's --split)`` for verbs that need the dataset."""
    from humanrecon.datasets import read_views

    run = load_run(args.run, select_device(args.device), args.method)
    _check_method(run, args.method, args.run)
    dataset = _dataset_of(args, run)
    if not dataset:
        raise InputError(f"{args.run} does not record its dataset: pass --dataset")
    split = read_views(dataset, args.split)
    if str(run.metrics.get("images", "")).startswith("object") and split.masks is not None:
        split = split.on_masks()  # score it as it was trained: the object over the background
    return run, dataset, split


def _centre_and_radius(model):
    """The scene's centre ``(3,)`` and a radius (metres): the box of a field, or the
    median of the Gaussians and the distance holding 90 % of them."""
    import torch

    if hasattr(model, "bounds"):
        box = model.bounds.detach().cpu()
        return box.mean(0), float((box[1] - box[0]).norm() / 2)
    means = model.params["means"].detach().cpu()
    centre = means.median(0).values
    return centre, float(torch.quantile((means - centre).norm(dim=-1), 0.9))


def _check_method(run, method: str, path: str) -> None:
    if run.method != method:
        raise InputError(f"{path}: a {run.method} run, not a {method} one (use 'humanrecon {run.method} ...')")


def render(args: argparse.Namespace) -> None:
    """``--orbit N`` novel views around the scene (PNGs, ``orbit.gif``, contact sheet), or
    with ``--view I`` one camera of a dataset split: rendering | truth (| normals)."""
    import torch

    from humanrecon.render import image_grid, save_animation, save_image

    if args.orbit < 1 or (args.size is not None and args.size < 1):
        raise InputError(f"--orbit and --size must be >= 1, got {args.orbit} and {args.size}")
    positive(args.fps, "--fps")
    out = Path(args.out)
    if args.view is not None:
        return _render_view(args, out)
    views = [out / f"view_{i:03d}.png" for i in range(args.orbit)]
    gif, sheet = out / "orbit.gif", out / "contact_sheet.png"
    check_outputs(views + [gif, sheet], args.overwrite)
    run = load_run(args.run, select_device(args.device), args.method)
    _check_method(run, args.method, args.run)
    centre, radius = _centre_and_radius(run.model)
    dataset = _dataset_of(args, run)
    elevation = math.radians(args.elevation)
    if dataset:
        from humanrecon.datasets import read_views
        from humanrecon.render.novel_views import orbit_cameras

        cameras = orbit_cameras(read_views(dataset, "train").cameras, centre, args.orbit, args.size, args.size,
                                elevation_rad=elevation)
    else:
        from humanrecon.render.raycast import turntable_cameras

        size = args.size or 256
        cameras = turntable_cameras(centre.numpy(), args.distance or 3.0 * radius, args.orbit, width=size,
                                    height=size, fov_x_rad=0.8, elevation_rad=elevation, up=tuple(args.up))
    from humanrecon.render.novel_views import render_orbit

    with torch.no_grad():
        frames = render_orbit(run.model, cameras, background=args.background, progress=not args.quiet)
    for path, frame in zip(views, frames):
        save_image(path, frame)
    save_animation(gif, frames, fps=args.fps)
    save_image(sheet, image_grid(frames[:: max(1, len(frames) // 8)][:8], cols=4, pad=2))
    print(f"wrote {len(frames)} views, {gif} and {sheet}")


def _render_view(args: argparse.Namespace, out: Path) -> None:
    from humanrecon.render import image_grid, save_image
    from humanrecon.render.novel_views import normal_picture

    run, dataset, split = _run_and_split(args)
    if not 0 <= args.view < len(split.cameras):
        raise InputError(f"--view {args.view}: the {args.split} split has {len(split.cameras)} views "
                         f"(0..{len(split.cameras) - 1})")
    path = out / f"{Path(split.names[args.view]).stem}.png"
    check_outputs([path], args.overwrite)
    rendered = run.render(split.cameras[args.view], args.background)
    truth = split.composite([args.background] * 3)[args.view]
    tiles = [rendered["rgb"].detach().cpu().numpy(), truth.numpy()]
    if "normals" in rendered:
        tiles.append(normal_picture(rendered["normals"], rendered["opacity"] > 0.5))
    save_image(path, image_grid(tiles, cols=len(tiles), pad=2))
    print(f"wrote {path} (rendering | truth{' | normals' if len(tiles) == 3 else ''})")


def mesh(args: argparse.Namespace) -> None:
    """A mesh of a trained run by the shared extractor (and a PNG of it)."""
    out = mesh_output(args.out)
    png = png_output(args.png)
    if args.resolution < 2 or args.initial_resolution < 1:
        raise InputError(f"--resolution must be >= 2 and --initial-resolution >= 1 cells per axis, got "
                         f"{args.resolution} and {args.initial_resolution}")
    level = getattr(args, "level", None)
    if level is not None and not (math.isfinite(level) and level > 0):
        raise InputError(f"--level must be a density > 0 (1/m), got {level}")
    check_outputs([out, png], args.overwrite)
    run = load_run(args.run, select_device(args.device), args.method)
    _check_method(run, args.method, args.run)
    options = {"initial_resolution": args.initial_resolution}
    if args.method == "nerf":
        options["level"] = level
    if args.method == "implicit":
        options["hierarchical"] = not args.dense
    try:
        result = run.mesh(None, args.resolution, progress=not args.quiet, **options)
    except InputError as exc:  # e.g. no surface at this level (an untrained or empty field)
        raise InputError(f"{args.run}: {exc}") from exc
    result.save(out)
    print(f"wrote {out} ({len(result.mesh.vertices)} vertices)")
    write_mesh_picture(png, result.mesh.vertices, result.mesh.faces, getattr(result, "vertex_colors", None))


def evaluate(args: argparse.Namespace) -> None:
    """Score a trained run on a dataset split (the shared evaluation), print the metrics
    as JSON and, with ``--out``, write one picture per view and ``metrics.json`` there."""
    from humanrecon.io.files import write_json
    from humanrecon.pipeline import METRICS, _rounded
    from humanrecon.render.novel_views import evaluate_split

    run, dataset, split = _run_and_split(args)
    out = Path(args.out) if args.out else None
    if out is not None:
        check_outputs([out / METRICS] + [out / f"{Path(n).stem}.png" for n in split.names], args.overwrite)
    metrics = {"method": run.method, "dataset": str(dataset), "split": args.split,
               **_rounded(evaluate_split(run.model, split, out, background=args.background,
                                         progress=not args.quiet))}
    if out is not None:
        write_json(out / METRICS, metrics)
    print(json.dumps(metrics))


def add_scene_verbs(actions, method: str, *, verbs: tuple[str, ...] = ("render", "eval", "mesh")) -> None:
    """Register ``verbs`` (of ``render``, ``eval``, ``mesh``) for ``method`` on its sub-parsers."""
    run_help = f"run folder from 'humanrecon {method} train'" + {
        "splat": " (or a .ply / .splat scene file)", "implicit": " (or its shape.pt)"}.get(method, "")
    if "render" in verbs:
        _add_render(actions, method, run_help)
    if "eval" in verbs:
        _add_eval(actions, method, run_help)
    if "mesh" in verbs:
        _add_mesh(actions, method, run_help)


def _add_render(actions, method: str, run_help: str) -> None:
    r = actions.add_parser("render", help="novel views on an orbit (PNGs, orbit.gif, contact sheet), or one "
                                          "dataset camera with --view")
    r.add_argument("run", help=run_help)
    r.add_argument("--out", required=True, help="output folder")
    r.add_argument("--orbit", type=int, default=ORBIT_VIEWS, help="number of views around the scene")
    r.add_argument("--size", type=int, default=None,
                   help="image width and height in pixels (default: the dataset's, or 256)")
    r.add_argument("--dataset", default=None, help="dataset folder (default: the one the run was trained on, from "
                                                   "its metrics.json); its cameras place the orbit")
    r.add_argument("--view", type=int, default=None, help="render this camera of --split instead of an orbit")
    r.add_argument("--split", default="test", help="the split --view indexes")
    r.add_argument("--distance", type=float, default=None,
                   help="camera distance without a dataset (default 3 x the scene radius)")
    r.add_argument("--elevation", type=float, default=15.0, help="degrees above the centre")
    r.add_argument("--up", type=float, nargs=3, default=(0.0, 1.0, 0.0),
                   help="the scene's up direction without a dataset")
    r.add_argument("--background", type=float, default=1.0, help="grey level of the background")
    r.add_argument("--fps", type=float, default=ORBIT_FPS, help="frames per second of orbit.gif")
    add_common(r)
    r.set_defaults(func=render, method=method)


def _add_eval(actions, method: str, run_help: str) -> None:
    dataset_help = "dataset folder (default: the one the run was trained on, from its metrics.json)"
    e = actions.add_parser("eval", help="score a trained run on a dataset split (PSNR, SSIM, mask IoU)")
    e.add_argument("run", help=run_help)
    e.add_argument("--dataset", default=None, help=dataset_help)
    e.add_argument("--split", default="test", help="the split to score")
    e.add_argument("--out", default=None, help="also write metrics.json and one picture per view here")
    e.add_argument("--background", type=float, default=1.0, help="grey level the images are composited over")
    add_common(e)
    e.set_defaults(func=evaluate, method=method)


def _add_mesh(actions, method: str, run_help: str) -> None:
    m = actions.add_parser("mesh", help="extract a mesh by the shared hierarchical extractor",
                           aliases=["extract"] if method == "implicit" else [])
    m.add_argument("run", help=run_help)
    m.add_argument("--out", required=True, help="mesh file (.ply, .obj, ...)")
    m.add_argument("--resolution", type=int, default=MESH_RESOLUTION, help="grid cells per axis")
    m.add_argument("--initial-resolution", type=int, default=INITIAL_RESOLUTION,
                   help="cells per axis of the first (dense) level; resolution = initial x 2^k")
    if method == "nerf":
        m.add_argument("--level", type=float, default=None,
                       help="density iso-level in 1/m (default: 50%% opacity over 10%% of the box, ~3 /m for a "
                            "2 m box)")
    if method == "implicit":
        m.add_argument("--dense", action="store_true", help="evaluate the full grid instead of refining hierarchically")
    add_png(m)
    add_common(m)
    m.set_defaults(func=mesh, method=method)
