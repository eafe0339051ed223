"""``humanrecon body``: pose and shape a body model, write the mesh (and a picture)."""

from __future__ import annotations

import argparse

from humanrecon.cli._common import (add_overwrite, add_png, check_outputs, mesh_output, parse_floats, png_output,
                                    write_mesh_picture)
from humanrecon.errors import InputError

#: default of ``--num-betas`` (the loader's default)
NUM_BETAS = 10


def run(args: argparse.Namespace) -> None:
    import numpy as np
    import torch

    from humanrecon.body import BodyModel
    from humanrecon.body.poses import check_betas, load_pose
    from humanrecon.io.meshes import save_mesh

    out = mesh_output(args.out)
    png = png_output(args.png)
    check_outputs([out, png], args.overwrite)
    if args.num_betas < 0:
        raise InputError(f"--num-betas must be >= 0, got {args.num_betas}")
    betas = check_betas(np.asarray(parse_floats(args.betas, "--betas"), dtype=np.float64), "--betas")
    model = BodyModel.load(args.model, gender=args.gender, num_betas=args.num_betas)
    body_joints = {"smpl": 23, "smplh": 21, "smplx": 21}.get(model.model_type)
    pose: dict = {}
    if args.pose and args.motion:
        raise InputError("give --pose or --motion, not both")
    if (args.pose or args.motion) and body_joints is None:
        raise InputError(f"--pose and --motion apply to body models; {args.model} is a "
                         f"{model.model_type.upper()} model")
    if args.pose:
        pose = load_pose(args.pose, body_joints, model.joint_names)
    elif args.motion:
        from humanrecon.body.motion import read_motion

        motion = read_motion(args.motion, model)
        try:
            pose = motion.frame(args.frame)
        except InputError as exc:
            raise InputError(f"--frame: {args.motion}: {exc}") from exc
        pose = {k: v for k, v in pose.items() if k in model.input_sizes()}
        if "betas" in pose:  # AMASS files carry 16; the model's leading components
            pose["betas"] = pose["betas"][: model.num_betas]
    if args.betas:
        pose["betas"] = betas.astype(np.float32)
    if "betas" in pose:
        betas = pose["betas"]
        if betas.size > model.num_betas:
            raise InputError(f"{betas.size} betas given but the model uses {model.num_betas} "
                             "(raise --num-betas, up to what the model file has)")
        pose["betas"] = np.pad(betas, (0, model.num_betas - betas.size))
    inputs = {k: torch.as_tensor(v)[None] for k, v in pose.items()}
    with torch.no_grad():
        vertices = model(**inputs).vertices[0].numpy()
    if not np.isfinite(vertices).all():
        raise InputError(f"the posed {args.model} model has non-finite vertices: check --pose and --betas")
    save_mesh(out, vertices, model.faces)
    print(f"wrote {out} ({vertices.shape[0]} vertices, {len(model.faces)} faces)")
    write_mesh_picture(png, vertices, model.faces)


def add_parser(sub) -> None:
    """Register ``body`` on the top-level sub-parser collection."""
    body = sub.add_parser("body", help="pose and shape a body model, write a mesh (and a PNG)",
                          description="Pose and shape a body model and write the mesh (.obj/.ply) "
                                      "and optionally a PNG picture (front and side views).")
    body.add_argument("--model", default="open",
                      help="'open' (shipped open body), 'open-hand', a .pkl/.npz model file or a model folder")
    body.add_argument("--gender", default="neutral", choices=("neutral", "male", "female"),
                      help="which file to pick from a model folder")
    body.add_argument("--betas", default="", help="shape coefficients, comma-separated (e.g. 0.5,-1)")
    body.add_argument("--num-betas", type=int, default=NUM_BETAS, help=f"shape components to use (default {NUM_BETAS})")
    body.add_argument("--pose", default="",
                      help="built-in pose (t, a, walk), a pose-library name (e.g. phone_at_right_ear, "
                           "lying_on_back; list: humanrecon.body.pose_library) or a pose JSON file "
                           "({'body_pose': [...] or {joint: [rx,ry,rz]}, 'global_orient', 'transl', 'betas'})")
    body.add_argument("--motion", default="",
                      help="a motion file (.npz: AMASS, 'humanrecon motion import', or body_pose arrays): pose the "
                           "body as in its frame --frame")
    body.add_argument("--frame", type=int, default=0, help="the frame of --motion (negative counts from the end)")
    body.add_argument("--out", required=True, help="output mesh, .obj or .ply")
    add_png(body)
    add_overwrite(body)
    body.set_defaults(func=run)
