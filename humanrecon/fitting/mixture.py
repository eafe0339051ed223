"""A Gaussian mixture over body poses, fitted by EM (for the everyday pose prior).

``fit_gaussian_mixture`` is plain EM with full covariances (float64), k-means++ seeding
from a fixed generator and a covariance floor; ``everyday_pose_samples`` draws the
training set the shipped prior is fitted to: the TUNING half of the everyday pose library
(:data:`humanrecon.body.pose_library.TUNING_POSES`), each pose perturbed many times within
the joint limits. ``tools/build_pose_prior.py`` writes the result; the held-out REPORTING
half is only used to report how well it generalises.
"""

from __future__ import annotations

import math

import numpy as np
import torch

#: settings of the shipped prior (``assets/models/pose_prior_everyday.npz``)
COMPONENTS, SAMPLES_PER_POSE, PERTURBATION_RAD, COVARIANCE_FLOOR_RAD, EM_ITERATIONS, SEED = 8, 400, 0.15, 0.05, 60, 0


def everyday_pose_samples(samples_per_pose: int = SAMPLES_PER_POSE, noise: float = PERTURBATION_RAD,
                          seed: int = SEED) -> np.ndarray:
    """``(M * samples_per_pose, 69)`` body poses: every TUNING library pose, each joint axis
    perturbed by N(0, noise²) radians and clipped to the anatomical joint limits."""
    from humanrecon.body.pose_library import library_poses
    from humanrecon.fitting.synthetic import perturb_poses

    _, body, root = library_poses("tuning")
    gen = torch.Generator().manual_seed(seed)
    count = samples_per_pose * len(body)
    _, poses = perturb_poses(torch.as_tensor(root), torch.as_tensor(body), count, noise, gen)
    return poses.numpy().astype(np.float64)


def _kmeans_pp(x: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
    """k-means++ seeds ``(k, D)`` from ``x (N, D)``."""
    centres = [x[torch.randint(len(x), (1,), generator=gen)][0]]
    for _ in range(1, k):
        dist = torch.cdist(x, torch.stack(centres)).amin(1).square()
        centres.append(x[torch.multinomial(dist / dist.sum(), 1, generator=gen)][0])
    return torch.stack(centres)


def fit_gaussian_mixture(x: np.ndarray, components: int = COMPONENTS, iterations: int = EM_ITERATIONS,
                         floor: float = COVARIANCE_FLOOR_RAD, seed: int = SEED) -> dict[str, np.ndarray]:
    """EM for a full-covariance Gaussian mixture on ``x (N, D)``.

    Returns ``{"means" (M, D), "covars" (M, D, D), "weights" (M,)}`` (SMPLify's GMM layout);
    every covariance gets ``floor² I`` added (radians), so no component is sharper than
    ``floor`` in any direction."""
    data = torch.as_tensor(x, dtype=torch.float64)
    n, d = data.shape
    gen = torch.Generator().manual_seed(seed)
    means = _kmeans_pp(data, components, gen)
    for _ in range(10):  # a few k-means steps before EM
        label = torch.cdist(data, means).argmin(1)
        means = torch.stack([data[label == k].mean(0) if (label == k).any() else means[k] for k in range(components)])
    resp = torch.nn.functional.one_hot(torch.cdist(data, means).argmin(1), components).to(data)
    eye = torch.eye(d, dtype=data.dtype)
    for _ in range(iterations):
        mass = resp.sum(0) + 1e-9  # (M,)
        weights = mass / n
        means = (resp.T @ data) / mass[:, None]
        centred = data[None] - means[:, None]  # (M, N, D)
        covars = torch.einsum("mn,mni,mnj->mij", resp.T, centred, centred) / mass[:, None, None] + floor ** 2 * eye
        chol = torch.linalg.cholesky(covars)
        solved = torch.linalg.solve_triangular(chol, centred.transpose(1, 2), upper=False)  # (M, D, N)
        logdet = 2 * torch.log(torch.diagonal(chol, dim1=1, dim2=2)).sum(-1)
        logp = -0.5 * solved.square().sum(1) - 0.5 * logdet[:, None] - 0.5 * d * math.log(2 * math.pi)
        logp = logp + torch.log(weights)[:, None]  # (M, N)
        resp = torch.softmax(logp, dim=0).T
    return {"means": means.numpy(), "covars": covars.numpy(), "weights": weights.numpy()}
