"""Train the latent pose prior (:mod:`humanrecon.fitting.latent_prior`) and ship its weights.

Data: the pose corpus's TRAIN split (``tools/build_pose_corpus.py``; its mirrored copies
included) and the tuning half of the pose library, each library pose repeated and
perturbed by N(0, 0.1²) rad within the joint limits
(:func:`humanrecon.fitting.synthetic.perturb_poses`), as many as the corpus has poses.
Never the VALIDATION subjects (CMU 02 and 06), on which the report is made. ELBO with
VPoser's KL weight (5e-3), Adam 1e-3 with cosine decay, batch 256, seed 0, one thread.
Then ``energy_scale`` is set so that the prior's median energy on the training poses
equals the everyday mixture's median there.

Prints one JSON line: validation reconstruction error (mean geodesic angle per joint,
degrees, decoding the encoder mean), the mean negative ELBO per pose on the train and
validation splits and on random joint-limit poses (``JointLimitPrior().sample``, scale 1),
and the energy medians of validation poses vs those random poses for this prior and the
everyday mixture.

    python tools/train_pose_vae.py [--poses runs/pose_corpus.npz] [--out assets/models/pose_prior_vae.pt]
        [--steps 6000] [--max-seconds 540] [--overwrite]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from humanrecon.errors import OutputExistsError
from humanrecon.fitting.latent_prior import PoseVAE, VAEPosePrior, geodesic_degrees, pose_to_matrices

KL_WEIGHT = 5e-3


def training_poses(corpus, generator: torch.Generator) -> torch.Tensor:
    """``(N, 69)`` the corpus TRAIN poses plus as many perturbed tuning-library poses."""
    from humanrecon.body.pose_library import library_poses
    from humanrecon.fitting.synthetic import perturb_poses

    train = torch.tensor(corpus.part("train").body_pose, dtype=torch.float32)
    _, body, root = library_poses("tuning")
    _, perturbed = perturb_poses(torch.tensor(root), torch.tensor(body), len(train), 0.1, generator)
    return torch.cat([train, perturbed])


@torch.no_grad()
def evaluate(vae: PoseVAE, poses: torch.Tensor, generator: torch.Generator) -> dict:
    """Mean negative ELBO per pose and mean per-joint geodesic error (degrees) of
    decode(mu) for ``poses (N, 69)``."""
    vae.eval()
    loss, _, _ = vae.negative_elbo(poses, KL_WEIGHT, generator)
    mu, _ = vae.encode(poses)
    angle = geodesic_degrees(vae.decode_matrices(mu), pose_to_matrices(poses))
    return {"neg_elbo": round(float(loss.mean()), 4), "recon_deg": round(float(angle.mean()), 3)}


def train(vae: PoseVAE, poses: torch.Tensor, steps: int, max_seconds: float, generator: torch.Generator) -> int:
    """Adam 1e-3, cosine decay, batch 256; returns the steps done."""
    opt = torch.optim.Adam(vae.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s / steps, 1.0))))
    start, vae = time.time(), vae.train()
    for step in range(steps):
        batch = poses[torch.randint(len(poses), (256,), generator=generator)]
        loss = vae.negative_elbo(batch, KL_WEIGHT, generator)[0].mean()
        if not torch.isfinite(loss):
            raise RuntimeError(f"loss became {float(loss)} at step {step}")
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 500 == 0:
            print(f"step {step} loss {loss.item():.4f} {time.time() - start:.0f}s", file=sys.stderr)
        if time.time() - start > max_seconds:
            return step + 1
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--poses", default=str(ROOT / "runs/pose_corpus.npz"))
    parser.add_argument("--out", default=str(ROOT / "assets/models/pose_prior_vae.pt"))
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--max-seconds", type=float, default=540.0)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    if Path(args.out).exists() and not args.overwrite:
        raise OutputExistsError(f"{args.out} exists; pass --overwrite to replace it")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)

    from humanrecon.body.pose_corpus import read_corpus
    from humanrecon.fitting.priors import EverydayPosePrior, JointLimitPrior

    corpus = read_corpus(args.poses)
    poses = training_poses(corpus, generator)
    train_real = torch.tensor(corpus.part("train").body_pose, dtype=torch.float32)
    valid = torch.tensor(corpus.part("validation").body_pose, dtype=torch.float32)
    random = JointLimitPrior().sample(len(valid), scale=1.0, generator=torch.Generator().manual_seed(1))

    vae = PoseVAE()
    start = time.time()
    done = train(vae, poses, args.steps, args.max_seconds, generator)
    seconds = time.time() - start

    everyday, prior = EverydayPosePrior(), VAEPosePrior(vae)
    with torch.no_grad():
        vae.energy_scale.fill_(float(everyday(train_real).median() / prior.learned_energy(train_real).median()))
        medians = {name: {"validation": round(float(p(valid).median()), 2), "random": round(float(p(random).median()), 2)}
                   for name, p in (("vae", prior), ("everyday", everyday))}
    vae.save(args.out, steps=done, seconds=seconds)
    print(json.dumps({"steps": done, "seconds": round(seconds, 1), "train_poses": len(poses),
                      "validation": evaluate(vae, valid, generator), "train": evaluate(vae, train_real, generator),
                      "random_limits": evaluate(vae, random, generator),
                      "energy_scale": round(float(vae.energy_scale), 4), "energy_medians": medians,
                      "out": str(args.out), "bytes": Path(args.out).stat().st_size}))


if __name__ == "__main__":
    main()
