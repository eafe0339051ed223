"""``humanrecon views [MESH] --out DIR``: a synthetic multi-view dataset of a mesh in the
Blender / NeRF-synthetic format (``transforms_{split}.json`` + RGBA PNGs), for training
NeRF. The work is in :func:`humanrecon.datasets.make_views`."""

from __future__ import annotations

import argparse
import time

from humanrecon.cli._common import add_overwrite, add_quiet
from humanrecon.errors import InputError

#: defaults: train / val / test images, image side in pixels, supersampling factor
TRAIN_VIEWS, VAL_VIEWS, TEST_VIEWS, SIZE, SUPERSAMPLE = 100, 20, 20, 128, 1


def run(args: argparse.Namespace) -> None:
    for flag in ("views", "size", "supersample"):
        if getattr(args, flag) < 1:
            raise InputError(f"--{flag} must be >= 1, got {getattr(args, flag)}")
    for flag in ("val", "test"):
        if getattr(args, flag) < 0:
            raise InputError(f"--{flag} must be >= 0, got {getattr(args, flag)}")
    from humanrecon.datasets.synthetic import default_body, make_views, mesh_from_file

    start = time.perf_counter()
    mesh = mesh_from_file(args.mesh) if args.mesh else default_body()
    cams = make_views(*mesh, args.out, args.views, args.size, args.val, args.test, args.seed,
                      args.supersample, args.overwrite, progress=not args.quiet)
    counts = ", ".join(f"{len(c)} {name}" for name, c in cams.items())
    print(f"wrote {args.out}: {counts} views at {args.size}x{args.size} in {time.perf_counter() - start:.1f} s")


def add_parser(sub) -> None:
    """Register ``views`` on the top-level sub-parser collection."""
    views = sub.add_parser(
        "views", help="render a synthetic multi-view dataset of a mesh (Blender / NeRF-synthetic format)",
        description="Render RGB + alpha of MESH (default: the open body coloured by part) from cameras spread "
                    "over a sphere (elevation within ±75°, Y up) under a fixed light, and write train/, val/, "
                    "test/ and transforms_{split}.json into --out. Each split's cameras come from a different "
                    "seed, so val/test views are novel.")
    views.add_argument("mesh", nargs="?", help="mesh file (trimesh formats, metres); default: the open body")
    views.add_argument("--out", required=True, help="dataset folder")
    views.add_argument("--views", type=int, default=TRAIN_VIEWS, help=f"train views (default {TRAIN_VIEWS})")
    views.add_argument("--val", type=int, default=VAL_VIEWS, help=f"validation views (default {VAL_VIEWS})")
    views.add_argument("--test", type=int, default=TEST_VIEWS, help=f"test views (default {TEST_VIEWS})")
    views.add_argument("--size", type=int, default=SIZE, help=f"image side in pixels (default {SIZE})")
    views.add_argument("--seed", type=int, default=0, help="random seed (the same seed gives the same run)")
    views.add_argument("--supersample", type=int, default=SUPERSAMPLE,
                       help="render at this multiple of --size and average down (antialiased edges)")
    add_overwrite(views)
    add_quiet(views)
    views.set_defaults(func=run)
