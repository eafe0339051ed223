"""The ``humanrecon`` command line: one console script with a sub-command per subsystem.

Heavy modules (torch, open3d, cv2) are imported inside the commands, so ``humanrecon
--help`` stays fast. Commands only parse arguments and do file I/O; the work happens in
the library.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


class CommandError(Exception):
    """An error to report to the user in one line (exit status 2), without a traceback."""


def _parse_floats(text: str, what: str) -> list[float]:
    try:
        values = [float(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError as exc:
        raise CommandError(f"{what} must be comma-separated numbers, got '{text}'") from exc
    if any(v != v or v in (float("inf"), float("-inf")) for v in values):
        raise CommandError(f"{what} contains NaN or infinite values: '{text}'")
    return values


def _check_writable(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise CommandError(f"{path} exists; pass --overwrite to replace it")


# --------------------------------------------------------------------------- body
def cmd_body(args: argparse.Namespace) -> None:
    """Pose and shape a body model; write the mesh and optionally a picture."""
    import numpy as np
    import torch

    from humanrecon.body import BodyModel, ModelFileError
    from humanrecon.body.poses import PoseFileError, load_pose

    out = Path(args.out)
    if out.suffix.lower() not in (".obj", ".ply"):
        raise CommandError(f"--out must end in .obj or .ply, got '{out.name}'")
    png = Path(args.png) if args.png else None
    for path in (out, png):
        if path is not None:
            _check_writable(path, args.overwrite)
    try:
        model = BodyModel.load(args.model, gender=args.gender, num_betas=args.num_betas)
    except (ModelFileError, FileNotFoundError) as exc:
        raise CommandError(str(exc)) from exc
    body_joints = {"smpl": 23, "smplh": 21, "smplx": 21}.get(model.model_type)
    pose: dict = {}
    if args.pose:
        if body_joints is None:
            raise CommandError(f"--pose applies to body models; {args.model} is a {model.model_type.upper()} model")
        try:
            pose = load_pose(args.pose, body_joints, model.joint_names)
        except PoseFileError as exc:
            raise CommandError(str(exc)) from exc
    if args.betas:
        pose["betas"] = np.asarray(_parse_floats(args.betas, "--betas"), dtype=np.float32)
    if "betas" in pose:
        betas = pose["betas"]
        if betas.size > model.num_betas:
            raise CommandError(f"{betas.size} betas given but the model uses {model.num_betas} "
                               "(raise --num-betas, up to what the model file has)")
        pose["betas"] = np.pad(betas, (0, model.num_betas - betas.size))
    inputs = {k: torch.as_tensor(v)[None] for k, v in pose.items()}
    with torch.no_grad():
        vertices = model(**inputs).vertices[0].numpy()
    from humanrecon.geometry.mesh_io import save_mesh

    save_mesh(out, vertices, model.faces)
    print(f"wrote {out} ({vertices.shape[0]} vertices, {len(model.faces)} faces)")
    if png is not None:
        from humanrecon.render import overview_image, save_image

        save_image(png, overview_image(vertices, model.faces, views=("front", "left")))
        print(f"wrote {png}")


# --------------------------------------------------------------------------- fit
def cmd_fit(args: argparse.Namespace) -> None:
    """Fit body models to the people in one photo or a folder of photos."""
    from humanrecon.body import BodyModel, ModelFileError
    from humanrecon.fitting.pipeline import find_jobs, run
    from humanrecon.fitting.smplify import SMPLify

    if not args.detect and not args.keypoints:
        raise CommandError("give --keypoints FILE|FOLDER (OpenPose or COCO JSON) or --detect")
    if args.focal is not None and not (args.focal > 0 and args.focal != float("inf")):
        raise CommandError(f"--focal must be a positive number of pixels, got {args.focal}")
    person = None if args.person == "all" else _parse_person(args.person)
    try:
        jobs = find_jobs(args.image, None if args.detect else args.keypoints, args.out)
        model = BodyModel.load(args.model, gender=args.gender)
        prior = _load_pose_prior(args.pose_prior)
    except (ModelFileError, FileNotFoundError, ValueError) as exc:
        raise CommandError(str(exc)) from exc
    if not args.upright_weight >= 0:
        raise CommandError(f"--upright-weight must be >= 0, got {args.upright_weight}")
    fitter = SMPLify(model, pose_prior=prior, optimizer=args.optimizer, upright_weight=args.upright_weight)
    report = run(jobs, fitter, faces=model.faces, model_name=args.model, focal=args.focal, person=person,
                 detect=args.detect, layout=args.layout, overwrite=args.overwrite, progress=not args.quiet)
    for image, paths in report.written.items():
        print(f"{image}: wrote {', '.join(str(p) for p in paths)}")
    if report.failures:
        lines = "\n".join(f"  {image}: {message}" for image, message in report.failures)
        raise CommandError(f"{len(report.failures)} of {len(jobs)} image(s) failed:\n{lines}")


def _parse_person(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise CommandError(f"--person must be an index (0, 1, ...) or 'all', got '{text}'") from exc
    if value < 0:
        raise CommandError(f"--person must be >= 0, got {value}")
    return value


def _load_pose_prior(path: str | None):
    if not path:
        return None
    from humanrecon.fitting.priors import GMMPosePrior

    return GMMPosePrior.load(path)


# --------------------------------------------------------------------------- implicit
def cmd_implicit_train(args: argparse.Namespace) -> None:
    """Fit an implicit shape to a watertight mesh (occupancy or DeepSDF) or to a point
    cloud (IGR), writing a checkpoint."""
    from humanrecon.implicit.train import TrainConfig, TrainingDivergedError

    out = Path(args.out)
    _check_writable(out, args.overwrite)
    if bool(args.mesh) == bool(args.points):
        raise CommandError("give exactly one of --mesh (watertight mesh) or --points (point cloud)")
    if args.points and args.kind == "occ":
        raise CommandError("a point cloud has no inside/outside labels: use --kind sdf (learned with IGR)")
    network = {"hidden": args.hidden, "layers": args.layers, "blocks": args.blocks, "frequencies": args.frequencies}
    config = TrainConfig(steps=args.steps, batch_points=args.batch_points, lr=args.lr, seed=args.seed,
                         checkpoint=out, checkpoint_every=max(1, args.steps // 10), progress=not args.quiet)
    try:
        if args.mesh:
            from humanrecon.geometry.mesh_io import load_mesh
            from humanrecon.implicit.data import fit_mesh

            mesh = load_mesh(args.mesh)
            shape = fit_mesh(mesh.vertices, mesh.faces, args.kind, config, network, repair=args.repair,
                             source=str(args.mesh), n_points=args.pool_points)
        else:
            from humanrecon.implicit.data import fit_points, read_point_cloud

            points, normals = read_point_cloud(args.points, need_normals=args.use_normals)
            shape = fit_points(points, config, normals if args.use_normals else None, network)
    except TrainingDivergedError as exc:
        raise CommandError(str(exc)) from exc
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    print(f"wrote {shape.save(out)} ({shape.kind}, {sum(p.numel() for p in shape.parameters())} parameters)")


def cmd_implicit_extract(args: argparse.Namespace) -> None:
    """Extract a mesh from an implicit-shape checkpoint (and a PNG picture of it)."""
    from humanrecon.geometry.meshing import extract_mesh
    from humanrecon.implicit.train import ImplicitShape

    out = Path(args.out)
    png = Path(args.png) if args.png else None
    for path in (out, png):
        if path is not None:
            _check_writable(path, args.overwrite)
    try:
        shape = ImplicitShape.load(args.model).eval()
        result = extract_mesh(shape, shape.bounds.numpy(), args.resolution, shape.level, inside=shape.inside,
                              hierarchical=not args.dense, initial_resolution=args.initial_resolution,
                              progress=not args.quiet)
    except (ValueError, FileNotFoundError) as exc:
        raise CommandError(str(exc)) from exc
    result.save(out)
    print(f"wrote {out} ({len(result.mesh.vertices)} vertices; {result.num_evaluations} network evaluations, "
          f"{result.ratio:.3f} of a dense grid, {result.seconds:.1f} s)")
    if png is not None:
        from humanrecon.render import overview_image, save_image

        save_image(png, overview_image(result.mesh.vertices, result.mesh.faces, views=("front", "left")))
        print(f"wrote {png}")


# --------------------------------------------------------------------------- info
def cmd_info(args: argparse.Namespace) -> None:
    """Print versions, devices and the body models humanrecon can find."""
    import importlib.metadata as md
    import platform

    import torch

    import humanrecon
    from humanrecon.body.model import BUILTIN_MODELS, resolve_model_path

    print(f"humanrecon {humanrecon.__version__}  (python {platform.python_version()}, {platform.machine()})")
    for dist in ("torch", "numpy", "smplx", "trimesh", "open3d-cpu", "open3d", "scikit-image",
                 "opencv-python-headless", "mediapipe"):
        try:
            print(f"  {dist:24s} {md.version(dist)}")
        except md.PackageNotFoundError:
            pass
    cuda = torch.cuda.is_available()
    device = f"cuda ({torch.cuda.get_device_name(0)})" if cuda else "cpu only (no CUDA device)"
    print(f"device: {device}; torch threads: {torch.get_num_threads()}")
    print("body models:")
    for name in BUILTIN_MODELS:
        try:
            path, _ = resolve_model_path(name)
            print(f"  {name:10s} {path} ({path.stat().st_size / 1e6:.1f} MB)")
        except Exception as exc:  # report, don't fail: info must always answer
            print(f"  {name:10s} unavailable: {exc}")
    for folder in args.model_dirs:
        _list_model_folder(Path(folder))


def _list_model_folder(folder: Path) -> None:
    from humanrecon.body.io import ModelFileError, load_model_arrays
    from humanrecon.body.model import detect_model_type

    if not folder.is_dir():
        print(f"  {folder}: not a folder")
        return
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".pkl", ".npz"))
    if not files:
        print(f"  {folder}: no .pkl/.npz model files")
    for path in files:
        try:
            kind = detect_model_type(load_model_arrays(path), str(path)).upper()
        except ModelFileError as exc:
            kind = f"not a body model ({exc})"
        print(f"  {path}: {kind}")


# --------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="humanrecon",
        description="3D human and neural-field reconstruction: body models, fitting, implicit shapes, NeRF, splats.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    body = sub.add_parser("body", help="pose and shape a body model, write a mesh (and a PNG)",
                          description="Pose and shape a body model and write the mesh (.obj/.ply) "
                                      "and optionally a PNG picture (front and side views).")
    body.add_argument("--model", default="open",
                      help="'open' (shipped open body), 'open-hand', a .pkl/.npz model file or a model folder")
    body.add_argument("--gender", default="neutral", choices=("neutral", "male", "female"),
                      help="which file to pick from a model folder")
    body.add_argument("--betas", default="", help="shape coefficients, comma-separated (e.g. 0.5,-1)")
    body.add_argument("--num-betas", type=int, default=10, help="shape components to use (default 10)")
    body.add_argument("--pose", default="",
                      help="built-in pose (t, a, walk) or a pose JSON file "
                           "({'body_pose': [...] or {joint: [rx,ry,rz]}, 'global_orient', 'transl', 'betas'})")
    body.add_argument("--out", required=True, help="output mesh, .obj or .ply")
    body.add_argument("--png", default="", help="also write a PNG picture here")
    body.add_argument("--overwrite", action="store_true", help="replace existing output files")
    body.set_defaults(func=cmd_body)

    fit = sub.add_parser("fit", help="fit a body model to the people in a photo (SMPLify)",
                         description="Fit a body model to 2D keypoints of the people in IMAGE (or every image "
                                     "in a folder, batched) and write mesh.obj (mesh_<k>.obj per person), "
                                     "params.json and overlay.png into --out (one sub-folder per image).")
    fit.add_argument("image", help="a photo, or a folder of photos")
    fit.add_argument("--keypoints", default="",
                     help="OpenPose JSON (BODY_25 or COCO-18) or COCO keypoint JSON; for a folder of photos a "
                          "folder of <stem>_keypoints.json / <stem>.json files or one COCO file")
    fit.add_argument("--detect", action="store_true",
                     help="detect keypoints with the built-in detector (pip install 'humanrecon[detect]')")
    fit.add_argument("--out", required=True, help="output folder")
    fit.add_argument("--model", default="open", help="'open', a model file or folder (SMPL, SMPL+H, SMPL-X)")
    fit.add_argument("--gender", default="neutral", choices=("neutral", "male", "female"))
    fit.add_argument("--focal", type=float, default=None,
                     help="focal length in pixels (default: from EXIF, else the image diagonal)")
    fit.add_argument("--person", default="all", help="index of the person in the keypoint file, or 'all'")
    fit.add_argument("--layout", default=None, choices=("body25", "coco18"),
                     help="declare the OpenPose keypoint layout (default: from the count)")
    fit.add_argument("--pose-prior", default="", help="SMPLify GMM pose prior (gmm_08.pkl); default: joint limits")
    fit.add_argument("--optimizer", default="lbfgs", choices=("lbfgs", "adam"))
    fit.add_argument("--upright-weight", type=float, default=100.0,
                     help="weight of the prior that people stand upright (0 for lying or upside-down people)")
    fit.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    fit.add_argument("--quiet", action="store_true", help="no progress bar")
    fit.set_defaults(func=cmd_fit)

    implicit = sub.add_parser("implicit", help="neural implicit shapes: train, extract meshes")
    implicit_sub = implicit.add_subparsers(dest="implicit_command", metavar="ACTION")
    implicit_sub.required = True
    train = implicit_sub.add_parser("train", help="fit an occupancy network / DeepSDF to a mesh, or IGR to points")
    train.add_argument("--mesh", default="", help="watertight mesh (.obj, .ply, ...), metres")
    train.add_argument("--points", default="", help="point cloud (.ply, .pcd, .xyz), metres: learned with IGR")
    train.add_argument("--kind", default="sdf", choices=("occ", "sdf"),
                       help="occ: occupancy network; sdf: DeepSDF (mesh) or IGR (points)")
    train.add_argument("--out", required=True, help="checkpoint to write (.pt)")
    train.add_argument("--steps", type=int, default=3000)
    train.add_argument("--batch-points", type=int, default=8192)
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--hidden", type=int, default=256)
    train.add_argument("--layers", type=int, default=6, help="hidden layers (DeepSDF/IGR)")
    train.add_argument("--blocks", type=int, default=3, help="ResNet blocks (occupancy network)")
    train.add_argument("--frequencies", type=int, default=0, help="Fourier-feature frequencies (0: raw xyz)")
    train.add_argument("--pool-points", type=int, default=300_000, help="ground-truth points sampled from the mesh")
    train.add_argument("--use-normals", action="store_true", help="IGR: use the point cloud's normals")
    train.add_argument("--repair", action="store_true", help="try to repair a non-watertight mesh")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--overwrite", action="store_true")
    train.add_argument("--quiet", action="store_true")
    train.set_defaults(func=cmd_implicit_train)
    extract = implicit_sub.add_parser("extract", help="extract a mesh from a trained implicit shape")
    extract.add_argument("model", help="checkpoint from 'humanrecon implicit train'")
    extract.add_argument("--out", required=True, help="mesh to write (.ply, .obj)")
    extract.add_argument("--resolution", type=int, default=256, help="grid cells per axis")
    extract.add_argument("--initial-resolution", type=int, default=32, help="first level of the hierarchical extraction")
    extract.add_argument("--dense", action="store_true", help="evaluate the full grid instead of MISE-style refinement")
    extract.add_argument("--png", default="", help="also write a picture of the mesh")
    extract.add_argument("--overwrite", action="store_true")
    extract.add_argument("--quiet", action="store_true")
    extract.set_defaults(func=cmd_implicit_extract)

    from humanrecon.nerf.cli import add_parser as add_nerf_parser

    add_nerf_parser(sub)

    info = sub.add_parser("info", help="versions, device and the body models found")
    info.add_argument("model_dirs", nargs="*", help="folders to scan for SMPL-family model files")
    info.set_defaults(func=cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except CommandError as exc:
        print(f"humanrecon {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
