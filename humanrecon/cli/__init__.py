"""The ``humanrecon`` command line: one console script with a sub-command per subsystem.

Each subsystem's module here (``body``, ``fit``, ``implicit``, ``nerf``, ``splat``, ``dvr``, ``views``,
``capture``, ``info``) exposes ``add_parser(subparsers)``; commands parse arguments, check every
output before any work, and call the library. Heavy modules (torch, open3d, cv2) are
imported inside the commands, so ``humanrecon --help`` stays fast. Every error the
library raises on purpose is a :class:`humanrecon.errors.HumanreconError`: it is
caught here once and printed as one line (exit status 2); ``--debug`` shows the
traceback instead. No library module imports this package.
"""

from __future__ import annotations

import argparse
import sys

from humanrecon.cli import body, capture, dvr, fit, implicit, info, motion, nerf, splat, views
from humanrecon.errors import HumanreconError

SUBCOMMANDS = (body, fit, motion, implicit, nerf, splat, dvr, views, capture, info)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="humanrecon",
        description="3D human and neural-field reconstruction: body models, fitting (SMPLify, LGD), implicit "
                    "shapes, NeRF, Gaussian splatting, DVR, datasets (Blender, COLMAP, synthetic views) and mesh "
                    "extraction.",
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status (0, or 2 after an error line)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except HumanreconError as exc:
        if args.debug:
            raise
        print(f"humanrecon {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0
