"""A picture of a trained DVR run's mesh (the shared hierarchical extractor, vertex colours
from the texture field) from held-out cameras, beside the photos: for each chosen test
view one row of photo | coloured mesh | shaded mesh (grey, headlight), all at the
dataset's (downscaled) resolution, rendered by :func:`humanrecon.render.render_mesh`.
Also writes the mesh (``.ply`` with vertex colours) when ``--mesh`` is given.

    python tools/render_dvr_mesh.py RUN --out docs/images/dvr_dtu_scan24.png
        [--dataset DIR] [--split test] [--views 0,3] [--downscale 4] [--resolution 256]
        [--mesh RUN/mesh.ply]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="run folder of 'humanrecon dvr train'")
    parser.add_argument("--out", required=True, help="the picture (.png)")
    parser.add_argument("--dataset", default=None, help="default: the run's own (metrics.json)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--views", default="0,3", help="comma-separated view indices of --split")
    parser.add_argument("--downscale", type=int, default=4)
    parser.add_argument("--resolution", type=int, default=256, help="mesh cells per axis (32 x 2^k)")
    parser.add_argument("--mesh", default=None, help="also write the mesh here (.ply keeps the vertex colours)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    from humanrecon import pipeline
    from humanrecon.datasets import read_views
    from humanrecon.render import image_grid, render_mesh, save_image

    torch.set_num_threads(args.threads)
    run = pipeline.load(args.run, "cpu", "dvr")
    dataset = args.dataset or run.metrics.get("dataset")
    split = read_views(dataset, args.split, downscale=args.downscale)
    result = run.mesh(args.mesh, args.resolution, overwrite=True)
    vertices, faces = result.mesh.vertices, result.mesh.faces
    print(f"mesh: {len(vertices)} vertices, {len(faces)} faces, {result.seconds:.1f} s")
    tiles = []
    for i in (int(v) for v in args.views.split(",")):
        camera = split.cameras[i]
        coloured = render_mesh(vertices, faces, camera, vertex_colors=result.vertex_colors, ambient=0.6)
        shaded = render_mesh(vertices, faces, camera)
        tiles += [split.images[i].numpy(), coloured.image, shaded.image]
    save_image(args.out, image_grid(tiles, cols=3, pad=4))
    print(f"wrote {args.out} (photo | mesh with vertex colours | shaded mesh; {args.split} views {args.views})")


if __name__ == "__main__":
    main()
