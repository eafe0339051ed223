"""``humanrecon implicit train | extract``: fit an implicit shape to a mesh or a point
cloud, extract meshes. The work is in :mod:`humanrecon.implicit`."""

from __future__ import annotations

import argparse
from pathlib import Path

from humanrecon.cli._common import (add_overwrite, add_png, add_quiet, check_outputs, mesh_output, png_output,
                                    write_mesh_picture)
from humanrecon.errors import InputError
from humanrecon.implicit.config import POOL_POINTS, NetworkConfig, TrainConfig

#: mesh extraction defaults (cells per axis of the finest and the first level)
RESOLUTION, INITIAL_RESOLUTION = 256, 32


def train(args: argparse.Namespace) -> None:
    """Fit an occupancy network or DeepSDF to a watertight mesh, or IGR to a point cloud."""
    out = Path(args.out)
    check_outputs([out], args.overwrite)
    if bool(args.mesh) == bool(args.points):
        raise InputError("give exactly one of --mesh (watertight mesh) or --points (point cloud)")
    if args.points and args.kind == "occ":
        raise InputError("a point cloud has no inside/outside labels: use --kind sdf (learned with IGR)")
    for flag in ("hidden", "layers", "blocks", "pool_points"):
        if getattr(args, flag) < 1:
            raise InputError(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(args, flag)}")
    if args.frequencies < 0:
        raise InputError(f"--frequencies must be >= 0, got {args.frequencies}")
    network = {"hidden": args.hidden, "layers": args.layers, "blocks": args.blocks, "frequencies": args.frequencies}
    config = TrainConfig(steps=args.steps, batch_points=args.batch_points, lr=args.lr, seed=args.seed,
                         checkpoint=out, checkpoint_every=max(1, args.steps // 10), progress=not args.quiet)
    if args.mesh:
        from humanrecon.implicit.data import fit_mesh
        from humanrecon.io.meshes import load_mesh

        mesh = load_mesh(args.mesh)
        shape = fit_mesh(mesh.vertices, mesh.faces, args.kind, config, network, repair=args.repair,
                         source=str(args.mesh), n_points=args.pool_points)
    else:
        from humanrecon.implicit.data import fit_points
        from humanrecon.io.points import read_point_cloud

        points, normals = read_point_cloud(args.points, need_normals=args.use_normals)
        shape = fit_points(points, config, normals if args.use_normals else None, network)
    print(f"wrote {out} ({shape.kind}, {sum(p.numel() for p in shape.parameters())} parameters)")


def extract(args: argparse.Namespace) -> None:
    """Extract a mesh from an implicit-shape checkpoint (and a PNG picture of it)."""
    from humanrecon.implicit.train import ImplicitShape

    out = mesh_output(args.out)
    png = png_output(args.png)
    check_outputs([out, png], args.overwrite)
    shape = ImplicitShape.load(args.model)
    result = shape.extract_mesh(args.resolution, initial_resolution=args.initial_resolution,
                                hierarchical=not args.dense, progress=not args.quiet)
    result.save(out)
    print(f"wrote {out} ({len(result.mesh.vertices)} vertices; {result.num_evaluations} network evaluations, "
          f"{result.ratio:.3f} of a dense grid, {result.seconds:.1f} s)")
    write_mesh_picture(png, result.mesh.vertices, result.mesh.faces)


def add_parser(sub) -> None:
    """Register ``implicit`` and its actions on the top-level sub-parser collection."""
    implicit = sub.add_parser("implicit", help="neural implicit shapes: train, extract meshes")
    actions = implicit.add_subparsers(dest="implicit_command", metavar="ACTION")
    actions.required = True
    p = actions.add_parser("train", help="fit an occupancy network / DeepSDF to a mesh, or IGR to points")
    p.add_argument("--mesh", default="", help="watertight mesh (.obj, .ply, ...), metres")
    p.add_argument("--points", default="", help="point cloud (.ply, .pcd, .xyz), metres: learned with IGR")
    p.add_argument("--kind", default="sdf", choices=("occ", "sdf"),
                   help="occ: occupancy network; sdf: DeepSDF (mesh) or IGR (points)")
    p.add_argument("--out", required=True, help="checkpoint to write (.pt)")
    p.add_argument("--steps", type=int, default=TrainConfig.steps, help="training steps (the learning-rate schedule spans them)")
    p.add_argument("--batch-points", type=int, default=TrainConfig.batch_points, help="points per training step")
    p.add_argument("--lr", type=float, default=TrainConfig.lr, help="learning rate (Adam)")
    p.add_argument("--hidden", type=int, default=NetworkConfig.hidden, help="hidden width of the network")
    p.add_argument("--layers", type=int, default=NetworkConfig.layers, help="hidden layers (DeepSDF/IGR)")
    p.add_argument("--blocks", type=int, default=NetworkConfig.blocks, help="ResNet blocks (occupancy network)")
    p.add_argument("--frequencies", type=int, default=NetworkConfig.frequencies,
                   help="Fourier-feature frequencies (0: raw xyz)")
    p.add_argument("--pool-points", type=int, default=POOL_POINTS, help="ground-truth points sampled from the mesh")
    p.add_argument("--use-normals", action="store_true", help="IGR: use the point cloud's normals")
    p.add_argument("--repair", action="store_true", help="try to repair a non-watertight mesh")
    p.add_argument("--seed", type=int, default=TrainConfig.seed, help="random seed (the same seed gives the same run)")
    add_overwrite(p)
    add_quiet(p)
    p.set_defaults(func=train)
    p = actions.add_parser("extract", help="extract a mesh from a trained implicit shape")
    p.add_argument("model", help="checkpoint from 'humanrecon implicit train'")
    p.add_argument("--out", required=True, help="mesh to write (.ply, .obj)")
    p.add_argument("--resolution", type=int, default=RESOLUTION, help="grid cells per axis")
    p.add_argument("--initial-resolution", type=int, default=INITIAL_RESOLUTION,
                   help="first level of the hierarchical extraction")
    p.add_argument("--dense", action="store_true", help="evaluate the full grid instead of MISE-style refinement")
    add_png(p)
    add_overwrite(p)
    add_quiet(p)
    p.set_defaults(func=extract)
