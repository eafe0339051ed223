"""Train learned-gradient-descent weights (:mod:`humanrecon.fitting.lgd`) on synthetic
people drawn on the fly (:mod:`humanrecon.fitting.lgd_training`: the tuning half of the
everyday pose library and the anatomical prior, the fitting benchmark's faults).

The shipped ``assets/models/lgd_open.pt`` was made on a 2-core CPU with the defaults
(seed 0, 25 min wall-clock budget, 2 threads)::

    python tools/train_lgd.py --overwrite

A user with SMPL / SMPL+H / SMPL-X files trains weights for them the same way::

    python tools/train_lgd.py --model /path/to/SMPL_NEUTRAL.pkl --out lgd_smpl.pt

Checkpoints go to ``--out`` every 250 steps (``--resume`` continues one). At the end one
JSON line: steps, seconds, the last training loss parts, and PA-MPJPE (mm) of the network
alone on 100 validation people (held-out REPORTING poses of the library, detector faults,
σ = 2 px, seed 500: neither training data nor the benchmark's seed-0 subjects).
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
from humanrecon.fitting.lgd import LGDFitter
from humanrecon.fitting.lgd_training import LGDTrainConfig, train_lgd
from humanrecon.fitting.synthetic import DETECTOR_FAULTS, pa_mpjpe, sample_subjects
from humanrecon.io.files import check_outputs

VALIDATION_SEED = 500


def validate(model: BodyModel, network, n: int = 100) -> float:
    """Mean PA-MPJPE (mm) of LGD alone on held-out library poses (see the docstring)."""
    from humanrecon.body.pose_library import library_poses

    _, body, root = library_poses("reporting", model.input_sizes()["body_pose"] // 3)
    subjects = sample_subjects(model, n, noise_px=2.0, seed=VALIDATION_SEED, faults=DETECTOR_FAULTS,
                               poses=(torch.as_tensor(root), torch.as_tensor(body)))
    result = LGDFitter(model, network).fit(subjects.keypoints, subjects.confidence, subjects.intrinsics,
                                           subjects.image_size)
    with torch.no_grad():
        out = model(betas=result.betas, global_orient=result.global_orient, body_pose=result.body_pose)
    return 1000 * float(pa_mpjpe(out.joints[:, : model.num_joints], subjects.joints).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="open", help="'open' or a SMPL / SMPL+H / SMPL-X model file")
    parser.add_argument("--out", default=None, help="weights file (default for the open body: the shipped asset)")
    defaults = LGDTrainConfig()
    for f in fields(LGDTrainConfig):
        if f.name in ("progress", "device"):
            continue
        kind = float if f.name in ("max_seconds",) else type(getattr(defaults, f.name))
        parser.add_argument("--" + f.name.replace("_", "-"), type=kind, default=getattr(defaults, f.name))
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.out is None:
        if args.model != "open":
            raise SystemExit("--out is needed for a model other than 'open'")
        args.out = str(ROOT / "assets" / "models" / "lgd_open.pt")
    if not args.resume:
        check_outputs([Path(args.out)], args.overwrite)
    config = LGDTrainConfig(**{f.name: getattr(args, f.name) for f in fields(LGDTrainConfig)
                               if f.name not in ("progress", "device")},
                            progress=not args.quiet)
    model = BodyModel.load(args.model)
    network, history = train_lgd(model, args.out, config, resume=args.resume)
    print(json.dumps({"benchmark": "train_lgd", "model": args.model, "out": args.out, "steps": len(history.losses),
                      "seconds": round(history.seconds, 1), "final_loss": round(history.losses[-1], 4),
                      "validation_pa_mpjpe_mm": round(validate(model, network), 1), "seed": config.seed,
                      "threads": args.threads}))


if __name__ == "__main__":
    main()
