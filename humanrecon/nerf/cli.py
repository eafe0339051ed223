"""``humanrecon nerf train | render | mesh``: argument parsing and files only; the work
is in :mod:`humanrecon.nerf.train` and :mod:`humanrecon.nerf.evaluate`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from humanrecon.cli import CommandError, _check_writable


def _device(name: str):
    import torch

    if name.startswith("cuda") and not torch.cuda.is_available():
        raise CommandError(f"--device {name}: CUDA is not available on this machine (use --device cpu)")
    return name


def _load_model(run_dir: str, device: str):
    from humanrecon.nerf.model import NerfModel
    from humanrecon.nerf.train import CHECKPOINT

    try:
        return NerfModel.load(Path(run_dir) / CHECKPOINT, map_location=device)
    except (ValueError, FileNotFoundError) as exc:
        raise CommandError(str(exc)) from exc


def _dataset(root: str, split: str, downscale: int):
    from humanrecon.datasets import read_blender

    try:
        return read_blender(root, split, downscale=downscale)
    except (ValueError, FileNotFoundError) as exc:
        raise CommandError(str(exc)) from exc


def cmd_train(args: argparse.Namespace) -> None:
    """Train on DATASET's train split, evaluate on its test split, write pictures."""
    from humanrecon.nerf.evaluate import evaluate_split
    from humanrecon.nerf.train import CHECKPOINT, MODEL_PRESETS, NerfConfig, train_nerf

    out = Path(args.out)
    if (out / CHECKPOINT).exists() and not (args.overwrite or args.resume):
        raise CommandError(f"{out / CHECKPOINT} exists; pass --resume to continue it or --overwrite to start over")
    device = _device(args.device)
    train = _dataset(args.dataset, "train", args.downscale)
    preset = args.preset if args.preset != "auto" else ("cpu" if device == "cpu" else "ngp")
    model_settings = dict(MODEL_PRESETS[preset])
    for key in model_settings:  # explicit flags override the preset
        if getattr(args, key) is not None:
            model_settings[key] = getattr(args, key)
    config = NerfConfig(steps=args.steps, max_seconds=args.max_seconds, samples_per_batch=args.samples_per_batch,
                        lr=args.lr, seed=args.seed, device=device, progress=not args.quiet, model=model_settings)
    try:
        model, history = train_nerf(train, out, config, resume=args.resume)
    except RuntimeError as exc:
        raise CommandError(str(exc)) from exc
    summary = {"steps": history.steps, "train_seconds": round(history.seconds, 1),
               "final_loss": history.losses[-1] if history.losses else None}
    if not args.no_eval:
        test = _dataset(args.dataset, args.eval_split, args.downscale)
        metrics = evaluate_split(model, test, out / args.eval_split, progress=not args.quiet)
        summary.update({"split": args.eval_split, "psnr": round(metrics["psnr"], 3), "ssim": round(metrics["ssim"], 4)})
    (out / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary))


def cmd_render(args: argparse.Namespace) -> None:
    """Render a turntable of novel views (PNGs + GIF) from a trained run."""
    from humanrecon.nerf.evaluate import orbit_cameras, render_orbit
    from humanrecon.render import image_grid, save_animation, save_image

    out = Path(args.out)
    gif = out / "turntable.gif"
    _check_writable(gif, args.overwrite)
    model, _ = _load_model(args.run, _device(args.device))
    like = _dataset(args.dataset, "train", 1).cameras
    centre = 0.5 * (model.bounds[0] + model.bounds[1]).cpu()
    frames = render_orbit(model, orbit_cameras(like, centre, args.views, args.size, args.size), progress=not args.quiet)
    for i, frame in enumerate(frames):
        save_image(out / f"view_{i:03d}.png", frame)
    save_animation(gif, frames, fps=args.fps)
    save_image(out / "contact_sheet.png", image_grid(frames[:: max(1, len(frames) // 8)][:8], cols=4, pad=2))
    print(f"wrote {len(frames)} views, {gif} and {out / 'contact_sheet.png'}")


def cmd_mesh(args: argparse.Namespace) -> None:
    """Extract a mesh of the density of a trained run (and a PNG of it)."""
    from humanrecon.nerf.evaluate import extract_density_mesh

    out = Path(args.out)
    _check_writable(out, args.overwrite)
    model, _ = _load_model(args.run, _device(args.device))
    try:
        result = extract_density_mesh(model, args.resolution, args.level, progress=not args.quiet)
    except ValueError as exc:  # e.g. no surface at this level (an untrained or empty field)
        raise CommandError(f"{Path(args.run) / 'model.pt'}: {exc}") from exc
    result.save(out)
    print(f"wrote {out} ({len(result.mesh.vertices)} vertices)")
    if args.png:
        from humanrecon.render import overview_image, save_image

        save_image(args.png, overview_image(result.mesh.vertices, result.mesh.faces, views=("front", "left")))
        print(f"wrote {args.png}")


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def add_parser(sub) -> None:
    """Register ``nerf`` and its actions on the top-level sub-parser collection."""
    nerf = sub.add_parser("nerf", help="neural radiance fields: train, render, mesh")
    actions = nerf.add_subparsers(dest="nerf_command", metavar="ACTION")
    actions.required = True
    train = actions.add_parser("train", help="train a hash-grid NeRF on a Blender-format dataset")
    train.add_argument("dataset", help="folder with transforms_{train,val,test}.json")
    train.add_argument("--out", required=True, help="run folder: model.pt, metrics.json, test renders")
    train.add_argument("--steps", type=int, default=20_000)
    train.add_argument("--max-seconds", type=float, default=None, help="wall-time budget (the schedule follows it)")
    train.add_argument("--samples-per-batch", type=int, default=1 << 16, help="field samples per step")
    train.add_argument("--lr", type=float, default=1e-2)
    train.add_argument("--preset", default="auto", choices=("auto", "cpu", "ngp"),
                       help="model size: 'cpu' (smaller tables, coarser steps), 'ngp' (Instant-NGP's); "
                            "auto: cpu on the CPU, ngp on CUDA")
    train.add_argument("--log2-table-size", type=int, default=None, help="hash-table rows per level, log2")
    train.add_argument("--finest-resolution", type=int, default=None, help="finest hash-grid resolution")
    train.add_argument("--samples-per-diagonal", type=int, default=None, help="marching step = box diagonal / this")
    train.add_argument("--grid-resolution", type=int, default=None, help="occupancy-grid cells per axis")
    train.add_argument("--downscale", type=int, default=1, help="train on images downscaled by this factor")
    train.add_argument("--eval-split", default="test")
    train.add_argument("--no-eval", action="store_true", help="skip the test-split evaluation")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    _add_common(train)
    train.set_defaults(func=cmd_train)
    render = actions.add_parser("render", help="render a turntable of novel views (PNGs + GIF)")
    render.add_argument("run", help="run folder from 'humanrecon nerf train'")
    render.add_argument("--dataset", required=True, help="the training dataset (places the novel cameras)")
    render.add_argument("--out", required=True)
    render.add_argument("--views", type=int, default=36)
    render.add_argument("--size", type=int, default=None, help="image width and height (default: the dataset's)")
    render.add_argument("--fps", type=float, default=12.0)
    _add_common(render)
    render.set_defaults(func=cmd_render)
    mesh = actions.add_parser("mesh", help="extract a mesh of the density")
    mesh.add_argument("run", help="run folder from 'humanrecon nerf train'")
    mesh.add_argument("--out", required=True, help="mesh file (.ply, .obj)")
    mesh.add_argument("--resolution", type=int, default=256)
    mesh.add_argument("--level", type=float, default=None, help="density iso-level in 1/m (default: 50%% opacity over 10%% of the box, ~3 /m for a 2 m box)")
    mesh.add_argument("--png", default="", help="also write a picture of the mesh")
    _add_common(mesh)
    mesh.set_defaults(func=cmd_mesh)
