"""Train the pose lifter (:mod:`humanrecon.fitting.lifting`): several 3D pose hypotheses
from 2D keypoints, which ``fit --method lgd+smplify`` refines beside LGD's answer
(:mod:`humanrecon.fitting.lifting_training`: synthetic people from the pose corpus's train
subjects and the tuning library, the benchmark's faults).

Two parts. Making the training people (8,192 per chunk, about 12 s per chunk on one
core; run several ranges at once on several cores, into the same folder)::

    python tools/train_lifter.py --make-data 0:120 --data runs/lifter_data &
    python tools/train_lifter.py --make-data 120:240 --data runs/lifter_data

then training on chunks 1.. (chunk 0 is held out to validate on). The shipped
``assets/models/pose_lifter_open.pt`` was made with the defaults (seed 0) on a 2-core CPU
(chunks 0-239; 40 min, 1 thread)::

    python tools/train_lifter.py --data runs/lifter_data --chunks 240 --threads 1 --overwrite

It needs the pose corpus (``tools/build_pose_corpus.py`` → ``runs/pose_corpus.npz``).
At the end one JSON line: steps, seconds, and the held-out chunk's joint errors (mm, root
rotation included, no alignment): the best hypothesis per person and the top-scored one.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from humanrecon.body import BodyModel
from humanrecon.fitting.lifting_training import (LifterTrainConfig, chunk_paths, read_chunks, train_lifter,
                                                 validation_errors, write_chunks)
from humanrecon.io.files import check_outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="open", help="'open' or a SMPL / SMPL+H / SMPL-X model file")
    parser.add_argument("--data", default=str(ROOT / "runs" / "lifter_data"), help="folder of training chunks")
    parser.add_argument("--corpus", default=str(ROOT / "runs" / "pose_corpus.npz"), help="the pose corpus")
    parser.add_argument("--make-data", default=None, metavar="START:STOP",
                        help="only make the chunks START..STOP-1 (skipping those present), then stop")
    parser.add_argument("--chunks", type=int, default=240, help="train on chunks 1..CHUNKS-1 (0 validates)")
    parser.add_argument("--out", default=None, help="weights file (default for the open body: the shipped asset)")
    defaults = LifterTrainConfig()
    for f in fields(LifterTrainConfig):
        if f.name in ("progress", "device"):
            continue
        kind = float if f.name in ("max_seconds",) else type(getattr(defaults, f.name))
        parser.add_argument("--" + f.name.replace("_", "-"), type=kind, default=getattr(defaults, f.name),
                            help=f"(default {getattr(defaults, f.name)})")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = BodyModel.load(args.model)
    if args.make_data:
        start, stop = (int(x) for x in args.make_data.split(":"))
        write_chunks(model, args.data, range(start, stop), args.corpus, progress=not args.quiet)
        return
    if args.out is None:
        if args.model != "open":
            raise SystemExit("--out is needed for a model other than 'open'")
        args.out = str(ROOT / "assets" / "models" / "pose_lifter_open.pt")
    if not args.resume:
        check_outputs([Path(args.out)], args.overwrite)
    paths = chunk_paths(args.data, args.chunks)
    config = LifterTrainConfig(**{f.name: getattr(args, f.name) for f in fields(LifterTrainConfig)
                                  if f.name not in ("progress", "device")}, progress=not args.quiet)
    lifter, history = train_lifter(model, read_chunks(paths[1:]), args.out, config, resume=args.resume)
    joints = model.input_sizes()["body_pose"] // 3 + 1
    from humanrecon.body.lbs import rest_skeleton

    held_out = validation_errors(lifter, read_chunks(paths[:1]), rest_skeleton(model, None, joints),
                                 model.parents[:joints].tolist())
    print(json.dumps({"benchmark": "train_lifter", "model": args.model, "out": args.out,
                      "steps": len(history.losses), "seconds": round(history.seconds, 1),
                      "final_loss": round(history.losses[-1], 4), "held_out": held_out,
                      "training_people": 8192 * (args.chunks - 1), "seed": config.seed, "threads": args.threads}))


if __name__ == "__main__":
    main()
