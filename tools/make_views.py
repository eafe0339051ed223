"""Synthetic multi-view dataset of a coloured mesh in the Blender / NeRF-synthetic format.

Renders RGB + alpha from cameras spread over a sphere around the mesh (elevation within
±75°, Y up), a fixed world light (Lambert, so colours do not change with the view), and
writes ``train/``, ``val/``, ``test/`` plus ``transforms_{split}.json`` into ``--out``.
Each split's cameras come from a different seed, so val/test views are novel.
Without MESH, the open body in its rest pose, coloured by body part (dominant skinning joint).

    python tools/make_views.py [MESH] --out DIR [--views 100] [--size 128] [--val 20]
        [--test 20] [--seed 0] [--supersample 1] [--overwrite]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from humanrecon.datasets.synthetic import default_body, make_views, mesh_from_file  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mesh", nargs="?", help="mesh file (trimesh formats); default: the open body")
    parser.add_argument("--out", required=True, help="dataset folder")
    parser.add_argument("--views", type=int, default=100, help="train views")
    parser.add_argument("--val", type=int, default=20)
    parser.add_argument("--test", type=int, default=20)
    parser.add_argument("--size", type=int, default=128, help="image side in pixels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--supersample", type=int, default=1)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        mesh = mesh_from_file(args.mesh) if args.mesh else default_body()
        cams = make_views(*mesh, args.out, args.views, args.size, args.val, args.test, args.seed,
                          args.supersample, args.overwrite)
    except (FileExistsError, FileNotFoundError, ValueError) as exc:
        print(f"make_views: error: {exc}", file=sys.stderr)
        return 1
    counts = ", ".join(f"{len(c)} {name}" for name, c in cams.items())
    print(f"wrote {args.out}: {counts} views at {args.size}x{args.size} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
