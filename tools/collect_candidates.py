"""Record LGD + lifter + SMPLify's refined candidates per subject (the default fitter's 9
starts after the refinement, before the lowest-loss choice), with their loss terms, the
lifter's scores and their true PA-MPJPE, for ``tools/train_selector.py``. Subjects as
``tools/bench_fit.py`` draws them (σ = 2 px, 10 % dropped, detector faults); ``--subsample
N`` with ``--n N --seed 0`` gives bench_fit's very subjects, the default (every pose of the
family) more distinct poses for training. 1 thread, about 1 s per subject.

    python tools/collect_candidates.py --family mocap:tuning --n 500 --seed 1 --out runs/cand_mocap_tuning_1.pt
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_fit
from humanrecon.body import BodyModel
from humanrecon.fitting.lgd import make_fitter
from humanrecon.fitting.lifting import lifter_features
from humanrecon.fitting.smplify import SMPLify
from humanrecon.fitting.synthetic import DETECTOR_FAULTS, pa_mpjpe, sample_subjects


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--family", required=True)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk", type=int, default=100)
    parser.add_argument("--subsample", type=int, default=100000, help="poses evenly subsampled (bench_fit: --n)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = BodyModel.load("open")
    smplify = SMPLify(model)
    bound = make_fitter(model, "lgd+smplify", smplify=smplify)
    lgd = bound.fitter
    record = {}
    original = SMPLify._best

    def spy(self, params, a, stage, batch, keep):
        if keep == 1 and params["transl"].shape[0] > batch:
            with torch.no_grad():
                total, terms, out, kp3d, proj = self._loss_terms(params, *a, stage)
                record.update(total=total.detach().clone(), terms={k: v.detach().clone() for k, v in terms.items()},
                              params={k: v.detach().clone() for k, v in params.items()},
                              joints=out.joints[:, :24].detach().clone())
        return original(self, params, a, stage, batch, keep)

    SMPLify._best = spy
    poses = bench_fit.subsample(bench_fit.family_poses(args.family, model), args.subsample)
    subjects = sample_subjects(model, args.n, noise_px=2.0, drop=0.1, seed=args.seed, poses=poses,
                               faults=DETECTOR_FAULTS)
    chunks = []
    start = time.time()
    for lo in range(0, args.n, args.chunk):
        sl = slice(lo, min(lo + args.chunk, args.n))
        kp, conf, intr = subjects.keypoints[sl], subjects.confidence[sl], subjects.intrinsics[sl]
        b = kp.shape[0]
        result = bound.fit(kp, conf, intr, subjects.image_size, progress=False)
        obs = lgd.observe(kp, conf, intr)
        with torch.no_grad():
            _, scores = lgd.lifter(lifter_features(obs.features, obs.centre, obs.size, obs.intrinsics))
        c = record["total"].shape[0] // b
        joints = record["joints"].view(c, b, 24, 3)
        truth = subjects.joints[sl, :24]
        err = torch.stack([pa_mpjpe(joints[i], truth) for i in range(c)])  # (C, B)
        with torch.no_grad():
            final = model(betas=result.betas, global_orient=result.global_orient, body_pose=result.body_pose)
        chunks.append({
            "total": record["total"].view(c, b), "terms": {k: v.view(c, b) for k, v in record["terms"].items()},
            "body_pose": record["params"]["body_pose"].view(c, b, -1),
            "global_orient": record["params"]["global_orient"].view(c, b, 3),
            "betas": record["params"]["betas"].view(c, b, -1), "transl": record["params"]["transl"].view(c, b, 3),
            "joints": joints, "err": err, "scores": scores, "keypoints": kp, "confidence": conf,
            "final_err": pa_mpjpe(final.joints[:, :24], truth),
        })
        print(f"{sl.stop}/{args.n} {time.time() - start:.0f}s final {1000 * chunks[-1]['final_err'].mean():.1f} "
              f"oracle {1000 * err.min(0).values.mean():.1f}", flush=True)

    def cat(key, dim):
        return torch.cat([ch[key] for ch in chunks], dim)

    data = {k: cat(k, 1) for k in ("total", "body_pose", "global_orient", "betas", "transl", "joints", "err")}
    data["terms"] = {k: torch.cat([ch["terms"][k] for ch in chunks], 1) for k in chunks[0]["terms"]}
    for k in ("scores", "keypoints", "confidence", "final_err"):
        data[k] = cat(k, 0)
    data["family"] = args.family
    torch.save(data, args.out)


if __name__ == "__main__":
    main()
