"""``humanrecon motion import``: a BVH motion-capture clip onto a body model by fitting
(:mod:`humanrecon.body.retarget`), written as an AMASS-like ``.npz``. Argument parsing
and files only."""

from __future__ import annotations

import argparse
import json

from humanrecon.cli._common import add_overwrite, add_quiet, check_outputs, png_output
from humanrecon.errors import InputError

#: the rig tables of :data:`humanrecon.body.mocap_skeletons.SKELETONS` (named here so that
#: ``--help`` imports no torch; a test keeps them equal)
SKELETON_NAMES = ("daz", "cmu", "cc", "smpl")


def import_bvh(args: argparse.Namespace) -> None:
    """Read the BVH, fit the body to every frame (subsampled to --fps), write the .npz,
    print the fit's report (mean joint distance), and a picture of fitted frames."""
    from pathlib import Path

    from humanrecon.body import BodyModel
    from humanrecon.body.bvh import read_bvh
    from humanrecon.body.retarget import RetargetSettings, retarget, retarget_picture, write_retargeted

    out = Path(args.out)
    if out.suffix.lower() != ".npz":
        raise InputError(f"--out {out}: a motion file is written as .npz")
    png = png_output(args.png)
    check_outputs([out, png], args.overwrite)
    if args.skeleton not in ("auto", *SKELETON_NAMES):
        raise InputError(f"--skeleton must be auto or one of {', '.join(SKELETON_NAMES)}, got {args.skeleton!r}")
    if not args.fps > 0:
        raise InputError(f"--fps must be > 0, got {args.fps}")
    bvh = read_bvh(args.bvh)
    model = BodyModel.load(args.model)
    result = retarget(bvh, model, skeleton=args.skeleton, settings=RetargetSettings(fps=args.fps),
                      progress=not args.quiet)
    write_retargeted(out, result, model.model_type, overwrite=args.overwrite)
    if png is not None:
        from humanrecon.render import save_image

        save_image(png, retarget_picture(result, model))
    print(json.dumps({"bvh": str(args.bvh), "out": str(out), **result.report()}))


def add_parser(sub) -> None:
    """Register ``motion`` and its actions on the top-level sub-parser collection."""
    motion = sub.add_parser("motion", help="motion capture: import BVH clips onto a body model")
    actions = motion.add_subparsers(dest="motion_command", metavar="ACTION")
    actions.required = True
    p = actions.add_parser("import", help="fit a body model to a BVH clip, write an AMASS-like .npz")
    p.add_argument("bvh", help="motion-capture file (.bvh)")
    p.add_argument("--out", required=True, help="motion file to write (.npz; 'humanrecon body --motion' reads it)")
    p.add_argument("--model", default="open", help="body model: 'open' or an SMPL / SMPL+H / SMPL-X file")
    p.add_argument("--skeleton", default="auto",
                   help=f"the rig's joint table: auto (found from the joint names), {', '.join(SKELETON_NAMES)}")
    p.add_argument("--fps", type=float, default=30.0, help="frames per second kept (the clip is subsampled)")
    p.add_argument("--png", default="", help="also write a picture of fitted frames (body, mocap skeleton) here")
    add_overwrite(p)
    add_quiet(p)
    p.set_defaults(func=import_bvh)
