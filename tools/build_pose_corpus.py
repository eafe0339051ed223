"""Build the pose corpus (:mod:`humanrecon.body.pose_corpus`) from the shared CMU clips.

Every clip of ``--mocap`` (default ``../shared/data/mocap/cmu``) is retargeted onto the
open body by fitting (:func:`humanrecon.body.retarget.retarget`, subsampled to ``--fps``),
one JSON line per clip with its fit error (mean joint distance; ``limb_error_mm`` over
hips to wrists); then the poses (heading removed) plus the TUNING half of the everyday
pose library go into one corpus: near-duplicates dropped (mean joint distance below
``--min-distance`` metres, separately per split), every pose also mirrored left/right,
whole CMU subjects (:data:`~humanrecon.body.pose_corpus.VALIDATION_SUBJECTS`) in the
validation split and nowhere else. Deterministic (no random numbers). A last JSON line
sums it up.

The corpus is derived from CMU's data: "The data used in this project was obtained from
mocap.cs.cmu.edu. The database was created with funding from NSF EIA-0196217." It is
written outside the package (``--out``, default ``runs/pose_corpus.npz``); only what
the fitter needs from it (priors, start banks) is shipped, with that acknowledgement in
``assets/models/NOTICE.md``.

    python tools/build_pose_corpus.py [--fps 10] [--min-distance 0.02] [--out runs/pose_corpus.npz]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from humanrecon.body import BodyModel
from humanrecon.body.bvh import read_bvh
from humanrecon.body.pose_corpus import (VALIDATION_SUBJECTS, PoseCorpus, distinct_poses, mirror_poses,
                                         pose_joints, subject_of, without_heading, write_corpus)
from humanrecon.body.retarget import RetargetSettings, retarget
from humanrecon.errors import PoseFileError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mocap", default=str(ROOT.parent / "shared" / "data" / "mocap" / "cmu"))
    parser.add_argument("--fps", type=float, default=10.0, help="frames per second kept from each clip")
    parser.add_argument("--min-distance", type=float, default=0.02,
                        help="drop poses closer than this mean joint distance (metres) to a kept one")
    parser.add_argument("--clips", default="", help="comma list of clip names (default: all)")
    parser.add_argument("--out", default=str(ROOT / "runs" / "pose_corpus.npz"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = BodyModel.load("open")
    paths = sorted(Path(args.mocap).glob("*.bvh"))
    if args.clips:
        paths = [p for p in paths if p.stem in args.clips.split(",")]
    rows = {k: [] for k in ("body_pose", "global_orient", "subject", "clip")}
    errors = []
    for path in paths:
        start = time.perf_counter()
        try:
            result = retarget(read_bvh(path), model, settings=RetargetSettings(fps=args.fps), progress=False)
        except PoseFileError as exc:
            print(json.dumps({"clip": path.stem, "skipped": str(exc)}), flush=True)
            continue
        motion = result.motion
        rows["body_pose"].append(motion.body_pose)
        rows["global_orient"].append(without_heading(motion.global_orient))
        rows["subject"].append(np.full(len(motion), subject_of(path.stem)))
        rows["clip"].append(np.full(len(motion), path.stem.removeprefix("cc_")))
        errors.append(result.limb_error_mm)
        print(json.dumps({"clip": path.stem, "subject": subject_of(path.stem), **result.report(),
                          "seconds": round(time.perf_counter() - start, 1)}), flush=True)
    from humanrecon.body.pose_library import library_poses

    _, body, root = library_poses("tuning")
    mocap = {k: np.concatenate(v) for k, v in rows.items()}
    body_pose = np.concatenate([mocap["body_pose"], np.asarray(body, np.float32)])
    orient = np.concatenate([mocap["global_orient"], without_heading(np.asarray(root, np.float32))])
    subject = np.concatenate([mocap["subject"], np.full(len(body), -1)])
    clip = np.concatenate([mocap["clip"], np.full(len(body), "library")])
    split = np.where(np.isin(subject, VALIDATION_SUBJECTS), "validation", "train")
    kept = []
    for name in ("train", "validation"):
        idx = np.flatnonzero(split == name)
        joints = pose_joints(model, orient[idx], body_pose[idx])
        kept.append(idx[distinct_poses(joints, args.min_distance)])
    kept = np.sort(np.concatenate(kept))
    m_orient, m_body = mirror_poses(orient[kept], body_pose[kept])
    corpus = PoseCorpus(body_pose=np.concatenate([body_pose[kept], m_body]).astype(np.float32),
                        global_orient=np.concatenate([orient[kept], m_orient]).astype(np.float32),
                        split=np.concatenate([split[kept]] * 2), subject=np.concatenate([subject[kept]] * 2),
                        clip=np.concatenate([clip[kept]] * 2),
                        mirrored=np.concatenate([np.zeros(len(kept), bool), np.ones(len(kept), bool)]))
    write_corpus(args.out, corpus, overwrite=args.overwrite)
    print(json.dumps({"corpus": args.out, "clips": len(errors), "retargeted_frames": len(mocap["body_pose"]),
                      "library_poses": len(body), "kept_before_mirroring": len(kept),
                      "train": int((corpus.split == "train").sum()),
                      "validation": int((corpus.split == "validation").sum()),
                      "validation_subjects": list(VALIDATION_SUBJECTS),
                      "mean_limb_error_mm": round(float(np.mean(errors)), 1), "fps": args.fps,
                      "min_distance_m": args.min_distance}), flush=True)


if __name__ == "__main__":
    main()
