"""Several 3D pose hypotheses from one person's 2D keypoints (a lifting network).

One image does not fix a pose: a limb swung towards the camera and one swung away project
alike, and a torso leaning back looks like one standing upright. A single regressor (or
LGD's start) averages such answers and lands between basins; the lifter instead predicts
``K`` hypotheses (trained with a relaxed winner-takes-all loss, Rupprecht et al., ICCV
2017: mainly the best hypothesis of each training person is pulled towards the truth; for
3D human pose, Li & Lee, CVPR 2019), so that
each basin of the ambiguity gets a start, and the fitter refines every one and keeps the
lowest loss (:meth:`humanrecon.fitting.lgd.LGDFitter.fit`, ``method="lgd+smplify"``).

Frames: SMPLify's (:mod:`humanrecon.fitting.smplify`): rotations of the model frame
(metres, Y up, facing +Z) as an OpenCV camera with :data:`~humanrecon.fitting.smplify.FRONT_VIEW_R`
sees it, i.e. the true camera's pitch and roll folded into the root.

Input ``(B, 3K + 3)``: LGD's observation (the keypoints normalised to the person's box, 0
where unseen, and their confidences; :meth:`~humanrecon.fitting.lgd.LGDFitter.observe`)
and where the box lies in the camera: ``(c − p) / f`` (the box centre's offset from the
principal point, 2) and ``log(size / f)`` (1), which tell the view direction and the
perspective. Output: rotations ``(B, K, J + 1, 3, 3)`` (root first, then the body joints)
and a score per hypothesis ``(B, K)`` (higher: more likely the best).

Shipped weights: ``assets/models/pose_lifter_open.pt`` (``tools/train_lifter.py``,
:mod:`humanrecon.fitting.lifting_training`).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from humanrecon.geometry.rotations import rotation_6d_to_matrix
from humanrecon.io.checkpoints import Checkpointed

#: checkpoint kind of lifter weights (:mod:`humanrecon.io.checkpoints`)
LIFTER_KIND = "pose_lifter"
#: the shipped weights for the open body (``tools/train_lifter.py``)
LIFTER_ASSET = "models/pose_lifter_open.pt"
#: camera features appended to LGD's observation (see the module docstring)
CAMERA_FEATURES = 3


def lifter_features(features: torch.Tensor, centre: torch.Tensor, size: torch.Tensor,
                    intrinsics: torch.Tensor) -> torch.Tensor:
    """The lifter's input ``(B, 3K + 3)`` from LGD's observation ``features (B, 3K)``, the
    box ``centre (B, 2)`` and ``size (B,)`` (pixels) and ``intrinsics (B, 3, 3)``."""
    focal = intrinsics[:, 0, 0]
    offset = (centre - intrinsics[:, :2, 2]) / focal[:, None]
    return torch.cat([features, offset, torch.log(size / focal)[:, None]], dim=1)


class _Residual(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.GELU(), nn.Linear(width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class PoseLifter(Checkpointed, nn.Module):
    """``K`` pose hypotheses from 2D keypoints (module docstring).

    Args:
        num_keypoints: keypoints observed (25, BODY_25).
        joints: rotations predicted: the root and the body joints (24 for SMPL's layout).
        hypotheses: ``K``.
        hidden, blocks: width and number of residual blocks of the MLP.
    """

    checkpoint_kind = LIFTER_KIND

    def __init__(self, num_keypoints: int = 25, joints: int = 24, hypotheses: int = 8, hidden: int = 1024,
                 blocks: int = 3) -> None:
        super().__init__()
        self.settings = {"num_keypoints": num_keypoints, "joints": joints, "hypotheses": hypotheses,
                         "hidden": hidden, "blocks": blocks}
        self.num_keypoints, self.joints, self.hypotheses = num_keypoints, joints, hypotheses
        self.input = nn.Linear(3 * num_keypoints + CAMERA_FEATURES, hidden)
        self.trunk = nn.Sequential(*[_Residual(hidden) for _ in range(blocks)], nn.LayerNorm(hidden))
        self.rotations = nn.Linear(hidden, hypotheses * joints * 6)
        self.scores = nn.Linear(hidden, hypotheses)
        with torch.no_grad():  # small distinct starts, so that the hypotheses can specialise
            self.rotations.weight.mul_(0.1)
            self.rotations.bias.normal_(0.0, 0.1)
        identity = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0])
        self.register_buffer("mean_6d", identity.repeat(joints, 1))

    def save(self, path: str | os.PathLike, *, half: bool = False, **extra) -> Path:
        """Write settings + weights + ``extra`` atomically; ``half=True`` stores the weights
        as float16 (half the file; loading turns them back into float32: the shipped
        weights, whose fits this does not change measurably)."""
        if not half:
            return super().save(path, **extra)
        from humanrecon.io.checkpoints import save_checkpoint

        state = {k: v.half() if v.is_floating_point() else v for k, v in self.state_dict().items()}
        return save_checkpoint(path, self.checkpoint_kind, self.checkpoint_settings(), state, **extra)

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``inputs (B, 3K + 3)`` (:func:`lifter_features`) -> ``(rotations (B, K, J, 3, 3),
        scores (B, K))``."""
        h = self.trunk(torch.nn.functional.gelu(self.input(inputs)))
        six = self.rotations(h).view(-1, self.hypotheses, self.joints, 6) + self.mean_6d
        return rotation_6d_to_matrix(six), self.scores(h)


def load_lifter(path: str | os.PathLike | None = None, map_location="cpu") -> PoseLifter:
    """Lifter weights from a checkpoint (default: the shipped ones for the open body).
    Raises :class:`~humanrecon.errors.CheckpointError` naming the file when it is not
    lifter weights."""
    from humanrecon._assets import asset_path

    return PoseLifter.load(Path(path) if path is not None else asset_path(LIFTER_ASSET), map_location)
