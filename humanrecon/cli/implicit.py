"""``humanrecon implicit train | mesh``: fit an implicit shape to a mesh or a point cloud
(a run folder, :func:`humanrecon.pipeline.run`), extract meshes (the shared ``mesh``
verb). Argument parsing only; the work is in :mod:`humanrecon.implicit`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from humanrecon.cli._common import add_common, config_from_flags, select_device
from humanrecon.cli._scene import add_scene_verbs
from humanrecon.errors import InputError
from humanrecon.implicit.config import POOL_POINTS, NetworkConfig, ShapeConfig


def train(args: argparse.Namespace) -> None:
    """Fit an occupancy network or DeepSDF to a watertight mesh, or IGR to a point cloud;
    score the shape's mesh against the source; write the run folder."""
    from humanrecon import pipeline

    if bool(args.mesh) == bool(args.points):
        raise InputError("give exactly one of --mesh (watertight mesh) or --points (point cloud)")
    if args.points and args.kind == "occ":
        raise InputError("a point cloud has no inside/outside labels: use --kind sdf (learned with IGR)")
    network = config_from_flags(NetworkConfig, hidden=args.hidden, layers=args.layers, blocks=args.blocks, frequencies=args.frequencies)
    config = config_from_flags(ShapeConfig, kind=args.kind, network=network, steps=args.steps, max_seconds=args.max_seconds,
                         batch_points=args.batch_points, lr=args.lr, seed=args.seed, pool_points=args.pool_points,
                         use_normals=args.use_normals, repair=args.repair, eval_resolution=args.eval_resolution,
                         eval_points=args.eval_points,
                         checkpoint_every=args.checkpoint_every, device=select_device(args.device),
                         progress=not args.quiet)
    if args.mesh:
        from humanrecon.implicit.data import is_point_cloud

        if is_point_cloud(Path(args.mesh)):
            raise InputError(f"{args.mesh}: a point cloud, not a triangle mesh (use --points)")
    run = pipeline.run("implicit", args.mesh or args.points, args.out, config, resume=args.resume,
                       overwrite=args.overwrite)
    print(json.dumps(run.metrics))


def add_parser(sub) -> None:
    """Register ``implicit`` and its actions on the top-level sub-parser collection."""
    implicit = sub.add_parser("implicit", help="neural implicit shapes: train, mesh")
    actions = implicit.add_subparsers(dest="implicit_command", metavar="ACTION")
    actions.required = True
    p = actions.add_parser("train", help="fit an occupancy network / DeepSDF to a mesh, or IGR to points")
    p.add_argument("--mesh", default="", help="watertight mesh (.obj, .ply, ...), metres")
    p.add_argument("--points", default="", help="point cloud (.ply, .pcd, .xyz), metres: learned with IGR")
    p.add_argument("--kind", default=ShapeConfig.kind, choices=("occ", "sdf"),
                   help="occ: occupancy network; sdf: DeepSDF (mesh) or IGR (points)")
    p.add_argument("--out", required=True, help="run folder: shape.pt, metrics.json, mesh.ply, mesh.png")
    p.add_argument("--steps", type=int, default=ShapeConfig.steps, help="training steps (the learning-rate schedule spans them)")
    p.add_argument("--max-seconds", type=float, default=ShapeConfig.max_seconds,
                   help="wall-time budget (the schedule follows it)")
    p.add_argument("--batch-points", type=int, default=ShapeConfig.batch_points, help="points per training step")
    p.add_argument("--lr", type=float, default=ShapeConfig.lr, help="learning rate (Adam)")
    p.add_argument("--hidden", type=int, default=NetworkConfig.hidden, help="hidden width of the network")
    p.add_argument("--layers", type=int, default=NetworkConfig.layers, help="hidden layers (DeepSDF/IGR)")
    p.add_argument("--blocks", type=int, default=NetworkConfig.blocks, help="ResNet blocks (occupancy network)")
    p.add_argument("--frequencies", type=int, default=NetworkConfig.frequencies,
                   help="Fourier-feature frequencies (0: raw xyz)")
    p.add_argument("--pool-points", type=int, default=POOL_POINTS, help="ground-truth points sampled from the mesh")
    p.add_argument("--use-normals", action="store_true", help="IGR: use the point cloud's normals")
    p.add_argument("--repair", action="store_true", help="try to repair a non-watertight mesh")
    p.add_argument("--eval-resolution", type=int, default=ShapeConfig.eval_resolution,
                   help="cells per axis of the mesh scored against the source after training (0: no evaluation)")
    p.add_argument("--eval-points", type=int, default=ShapeConfig.eval_points,
                   help="surface samples of each mesh for the metrics")
    p.add_argument("--checkpoint-every", type=int, default=ShapeConfig.checkpoint_every,
                   help="steps between checkpoints (and one at the end)")
    p.add_argument("--seed", type=int, default=ShapeConfig.seed, help="random seed (the same seed gives the same run)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    add_common(p)
    p.set_defaults(func=train)
    add_scene_verbs(actions, "implicit", verbs=("mesh",))
