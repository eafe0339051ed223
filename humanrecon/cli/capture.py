"""``humanrecon capture PHOTOS_DIR --out CAPTURE_DIR``: structure from motion on a folder of
photos (pycolmap, CPU) into a COLMAP capture every trainer reads (``images/`` undistorted,
``sparse/0/`` PINHOLE cameras and points, ``sfm/`` COLMAP's own files). The work is
:func:`humanrecon.datasets.sfm.run_sfm`; flag defaults are :class:`humanrecon.sfm_config.SfmConfig`'s."""

from __future__ import annotations

import argparse
import json
import math
import time

from humanrecon.cli._common import add_overwrite, add_quiet
from humanrecon.sfm_config import CAMERA_MODELS, MATCHERS, SfmConfig

#: the longest image side the suggested ``splat train --downscale`` aims at (a quick CPU run)
QUICK_SIDE = 800


def run(args: argparse.Namespace) -> None:
    from humanrecon.datasets.sfm import REPORT, run_sfm

    start = time.perf_counter()
    out = run_sfm(args.photos, args.out, overwrite=args.overwrite, matcher=args.matcher,
                  max_image_size=args.max_image_size, max_features=args.max_features,
                  camera_model=args.camera_model, progress=not args.quiet, verbose=args.verbose)
    report = json.loads((out / "sfm" / REPORT).read_text())
    from humanrecon.datasets.colmap import read_colmap

    sizes = sorted({tuple(s) for s in read_colmap(out / "sparse" / "0").sizes.tolist()})
    size = " ".join(f"{w}x{h}" for w, h in sizes)
    print(f"wrote {out}: {report['registered']} of {report['photos']} photos registered, {report['points']} points, "
          f"{report['camera_model']} camera undistorted to PINHOLE {size}, in {time.perf_counter() - start:.1f} s")
    print(f"  {out / 'images'}    the registered photos, undistorted")
    print(f"  {out / 'sparse' / '0'}  the COLMAP model: cameras, poses, sparse points")
    print(f"  {out / 'sfm'}       COLMAP's database, its log and report.json")
    if report["unregistered"]:
        names = report["unregistered"]
        print(f"not registered ({len(names)}): {', '.join(names[:10])}{' ...' if len(names) > 10 else ''}")
    longest = max(max(s) for s in sizes)
    factor = math.ceil(longest / QUICK_SIDE)
    quick = f" --downscale {factor}" if factor > 1 else ""
    print(f"next: humanrecon splat train {out} --out {out.parent / (out.name + '-splat')}{quick}")


def add_parser(sub) -> None:
    """Register ``capture`` on the top-level sub-parser collection."""
    capture = sub.add_parser(
        "capture", help="structure from motion: a folder of photos -> a COLMAP capture to train on",
        description="Find the cameras of a folder of photos of one static scene with COLMAP (pycolmap on the CPU: "
                    "SIFT features, matching, incremental mapping), undistort them and write a COLMAP capture into "
                    "--out: images/ (the registered photos, undistorted), sparse/0/ (PINHOLE cameras, poses, sparse "
                    "points) and sfm/ (COLMAP's database, log and report.json). Then: humanrecon splat train "
                    "CAPTURE_DIR --out RUN.")
    capture.add_argument("photos", help="folder of photos (.jpg, .png, .tif, .bmp; subfolders ignored), at least 3, "
                                        "taken around the subject with overlap")
    capture.add_argument("--out", required=True, help="capture folder to write (images/, sparse/0/, sfm/)")
    capture.add_argument("--matcher", default=SfmConfig.matcher, choices=MATCHERS,
                         help="exhaustive: every pair of photos (up to a few hundred); sequential: each photo with "
                              f"its {SfmConfig.overlap} neighbours by name (video frames)")
    capture.add_argument("--max-image-size", type=int, default=SfmConfig.max_image_size,
                         help="longest side (pixels) photos are downscaled to for feature extraction; the capture "
                              "keeps their full resolution")
    capture.add_argument("--max-features", type=int, default=SfmConfig.max_features,
                         help="SIFT features kept per photo")
    capture.add_argument("--camera-model", default=SfmConfig.camera_model, choices=CAMERA_MODELS,
                         help="COLMAP camera model the photos are calibrated with (one camera for all photos); "
                              "OPENCV suits phones")
    capture.add_argument("--verbose", action="store_true", help="print COLMAP's log (it is in sfm/colmap.log anyway)")
    add_overwrite(capture)
    add_quiet(capture)
    capture.set_defaults(func=run)
