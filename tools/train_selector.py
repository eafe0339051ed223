"""Experiment (not adopted; docs/benchmarks.md "A learned choice among the candidates"):
choose among LGD + lifter + SMPLify's refined candidates with a learned scorer instead of
the lowest loss. Data from ``tools/collect_candidates.py``: trained on the TUNING splits
(``--train``), reported on the held-out ones (``--test``). Per candidate: its loss terms
(absolute and above the person's lowest), loss rank, the lifter's score, LGD or lifter,
agreement with the other candidates (Procrustes distances, weighted by their loss), the
mocap mixture's and the VAE's energy; a small MLP scores each candidate, softmax over a
person's candidates, trained to minimise the expected PA-MPJPE (capped at 200 mm, plus
50 mm for a pick over 100 mm). Prints, per split: lowest loss, the truth's pick (oracle),
and the learned pick.

    python tools/train_selector.py --train runs/cand_library_tuning.pt,runs/cand_mocap_tuning.pt \
        --test runs/cand_library_heldout.pt,runs/cand_mocap_heldout.pt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from humanrecon.fitting.priors import pose_prior_named
from humanrecon.fitting.synthetic import procrustes_align

PRIORS = {}


def prior_energy(name: str, body_pose: torch.Tensor) -> torch.Tensor:
    if name not in PRIORS:
        PRIORS[name] = pose_prior_named(name)
    with torch.no_grad():
        return PRIORS[name](body_pose)


def features(d: dict) -> torch.Tensor:
    """``(C, B, F)`` per-candidate features (nothing from the truth)."""
    total, terms = d["total"], d["terms"]
    c, b = total.shape
    rel = lambda x: x - x.min(0, keepdim=True).values
    scores = torch.log_softmax(d["scores"], 1).T  # (K, B)
    lifter_score = torch.cat([torch.zeros(1, b), scores])
    is_lgd = torch.zeros(c, b)
    is_lgd[0] = 1
    joints = d["joints"]  # (C, B, 24, 3)
    # pairwise PA distance between candidates
    dist = torch.zeros(c, c, b)
    for i in range(c):
        for j in range(c):
            if i != j:
                dist[i, j] = (procrustes_align(joints[i], joints[j]) - joints[j]).norm(dim=-1).mean(-1)
    weight = torch.softmax(-rel(total) / 2.0, 0)  # (C, B) soft trust by loss
    consensus = (dist * weight[None]).sum(1)  # distance to the loss-weighted others
    to_best = dist.gather(1, total.argmin(0)[None, None].expand(c, 1, b))[:, 0]
    mocap = prior_energy("mocap", d["body_pose"].flatten(0, 1)).view(c, b)
    vae = prior_energy("vae", d["body_pose"].flatten(0, 1)).view(c, b)
    rank = total.argsort(0).argsort(0).float()
    feats = [rel(total), rel(terms["data"]), terms["data"], terms["pose"], terms["bend"], terms["upright"],
             terms["shape"], lifter_score, is_lgd, consensus * 10, dist.mean(1) * 10, to_best * 10,
             rel(mocap) / 10, rel(vae) / 10, rank / c]
    return torch.stack([f.float() for f in feats], -1)


class Scorer(torch.nn.Module):
    def __init__(self, f: int, hidden: int = 32) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(f, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, hidden),
                                       torch.nn.ReLU(), torch.nn.Linear(hidden, 1))

    def forward(self, x):  # (C, B, F) -> (C, B)
        return self.net(x)[..., 0]


def report(name: str, d: dict, choice: torch.Tensor) -> str:
    err = d["err"].gather(0, choice[None])[0] * 1000
    return f"{name}: {err.mean():.1f} mm, {(err > 100).float().mean() * 100:.0f} % > 100"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--wd", type=float, default=1e-3)
    parser.add_argument("--save", default="")
    args = parser.parse_args()
    torch.manual_seed(0)
    train = [torch.load(p) for p in args.train.split(",")]
    test = [torch.load(p) for p in args.test.split(",")]
    ftrain = [features(d) for d in train]
    ftest = [features(d) for d in test]
    x = torch.cat(ftrain, 1)
    mu, sd = x.flatten(0, 1).mean(0), x.flatten(0, 1).std(0).clamp(min=1e-6)
    err = torch.cat([d["err"] for d in train], 1) * 1000
    for d in train + test:
        print(report("lowest loss " + d["family"], d, d["total"].argmin(0)),
              "|", report("oracle", d, d["err"].argmin(0)),
              "| final (with mirrors)", f"{d['final_err'].mean() * 1000:.1f}")
    model = Scorer(x.shape[-1], args.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=args.wd)
    xn = (x - mu) / sd
    for step in range(args.steps):
        p = torch.softmax(model(xn), 0)
        # expected error with a cap (the >100 mm cases dominate otherwise) plus a tail term
        loss = (p * (err.clamp(max=200) + 50 * (err > 100).float())).sum(0).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 1000 == 0 or step == args.steps - 1:
            with torch.no_grad():
                line = [f"step {step} loss {loss:.1f}"]
                for d, f in zip(train + test, ftrain + ftest):
                    line.append(report(d["family"], d, model((f - mu) / sd).argmax(0)))
            print(" | ".join(line), flush=True)
    if args.save:
        torch.save({"state": model.state_dict(), "mu": mu, "sd": sd}, args.save)


if __name__ == "__main__":
    main()
