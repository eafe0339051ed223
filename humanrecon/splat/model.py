"""A trainable set of 3D Gaussians: raw parameters (log-scales, logit opacities, SH split
into DC and rest, as the 3DGS trainer keeps them), rendering through
:func:`humanrecon.splat.rasterize` (:mod:`humanrecon.splat.rendering`), conversion to and from :class:`~humanrecon.splat.files.Gaussians`
and checkpoints through the shared helper."""

from __future__ import annotations


import numpy as np
import torch
from torch import nn

from humanrecon.errors import InputError
from humanrecon.geometry import Camera
from humanrecon.io.checkpoints import Checkpointed
from humanrecon.splat._torch_impl import SH_C0

CHECKPOINT_KIND = "splat"


def nearest_neighbour_scale(points: torch.Tensor, k: int = 3) -> torch.Tensor:
    """``(N,)`` mean distance of each point to its ``k`` nearest others (metres; the 3DGS
    initial scale), via scipy's k-d tree."""
    from scipy.spatial import cKDTree

    xyz = points.detach().cpu().double().numpy()
    if len(xyz) < 2:
        return torch.full((len(xyz),), 0.01, dtype=points.dtype, device=points.device)
    dist, _ = cKDTree(xyz).query(xyz, k=min(k, len(xyz) - 1) + 1)
    return torch.as_tensor(np.maximum(dist[:, 1:].mean(1), 1e-7), dtype=points.dtype, device=points.device)


class SplatModel(Checkpointed, nn.Module):
    """``N`` Gaussians with SH colour up to ``sh_degree``.

    Parameters (``self.params``, rows = Gaussians): ``means (N,3)`` world metres,
    ``quats (N,4)`` (w,x,y,z, unnormalised), ``log_scales (N,3)``, ``logit_opacities (N,)``,
    ``sh0 (N,1,3)``, ``shN (N,K-1,3)`` with ``K = (sh_degree + 1)²``.
    """

    def __init__(self, params: dict[str, torch.Tensor], sh_degree: int) -> None:
        super().__init__()
        self.sh_degree = int(sh_degree)
        self.params = nn.ParameterDict({k: nn.Parameter(v) for k, v in params.items()})

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_points(cls, points: torch.Tensor, colors: torch.Tensor | None = None, sh_degree: int = 3,
                    opacity: float = 0.1, seed: int = 0) -> "SplatModel":
        """Gaussians at ``points (N,3)`` (metres) with colours ``(N,3)`` in [0,1] (grey if
        None): isotropic scales = mean distance to the 3 nearest points, identity
        rotations (3DGS starts random; identity is as good for isotropic Gaussians),
        opacity 0.1, higher SH bands zero."""
        points = torch.as_tensor(points, dtype=torch.float32)
        if points.ndim != 2 or points.shape[1] != 3 or len(points) == 0:
            raise InputError(f"initial points must be (N, 3) with N >= 1, got {tuple(points.shape)}")
        n = len(points)
        colors = torch.full((n, 3), 0.5) if colors is None else torch.as_tensor(colors, dtype=torch.float32)
        k = (sh_degree + 1) ** 2
        scale = nearest_neighbour_scale(points)
        return cls({
            "means": points.clone(),
            "quats": torch.tensor([1.0, 0.0, 0.0, 0.0]).repeat(n, 1),
            "log_scales": scale.log()[:, None].repeat(1, 3),
            "logit_opacities": torch.logit(torch.full((n,), opacity)),
            "sh0": ((colors - 0.5) / SH_C0)[:, None, :],
            "shN": torch.zeros(n, k - 1, 3),
        }, sh_degree)

    @classmethod
    def from_gaussians(cls, gaussians) -> "SplatModel":
        """From activated :class:`~humanrecon.splat.files.Gaussians` (a loaded file)."""
        sh = torch.as_tensor(gaussians.sh, dtype=torch.float32)
        degree = int(round(np.sqrt(sh.shape[1]))) - 1
        return cls({
            "means": torch.as_tensor(gaussians.means, dtype=torch.float32),
            "quats": torch.as_tensor(gaussians.quats, dtype=torch.float32),
            "log_scales": torch.as_tensor(gaussians.scales, dtype=torch.float32).log(),
            "logit_opacities": torch.logit(torch.as_tensor(gaussians.opacities, dtype=torch.float32).clamp(1e-6, 1 - 1e-6)),
            "sh0": sh[:, :1], "shN": sh[:, 1:],
        }, degree)

    def to_gaussians(self):
        """Activated :class:`~humanrecon.splat.files.Gaussians` (for ``.ply``/``.splat``)."""
        from humanrecon.splat.files import Gaussians

        p = {k: v.detach().cpu() for k, v in self.params.items()}
        return Gaussians(means=p["means"], quats=torch.nn.functional.normalize(p["quats"], dim=-1),
                         scales=p["log_scales"].exp(), opacities=torch.sigmoid(p["logit_opacities"]),
                         sh=torch.cat([p["sh0"], p["shN"]], 1))

    @property
    def num_gaussians(self) -> int:
        return int(self.params["means"].shape[0])

    # ------------------------------------------------------------------ rendering
    def render(self, cameras: Camera, *, sh_degree: int | None = None, background: torch.Tensor | None = None,
               backend: str = "auto", render_mode: str = "RGB", validate: bool = True):
        """Render ``cameras`` (batch C): ``(colors (C,H,W,3|4), alphas (C,H,W,1), meta)`` via
        :func:`humanrecon.splat.rasterize`; ``background (3,)`` or ``(C,3)`` RGB;
        ``validate=False`` skips the value checks that sync with the device (see there)."""
        from humanrecon.splat.rendering import rasterize

        p = self.params
        viewmats, Ks = cameras.viewmats_and_Ks()
        bg = None
        if background is not None:
            bg = torch.as_tensor(background, dtype=p["means"].dtype, device=p["means"].device)
            bg = bg.expand(len(cameras), 3) if bg.ndim == 1 else bg
        return rasterize(p["means"], p["quats"], p["log_scales"].exp(), torch.sigmoid(p["logit_opacities"]),
                         torch.cat([p["sh0"], p["shN"]], 1), viewmats.to(p["means"]), Ks.to(p["means"]),
                         cameras.width, cameras.height, sh_degree=self.sh_degree if sh_degree is None else sh_degree,
                         backgrounds=bg, render_mode=render_mode, backend=backend, validate=validate)

    @torch.no_grad()
    def render_image(self, camera: Camera, background: float = 1.0, backend: str = "auto") -> dict:
        """One camera over a grey ``background``: ``{"rgb": (H, W, 3), "opacity": (H, W)}``
        (the interface of :mod:`humanrecon.render.novel_views`)."""
        bg = torch.full((3,), float(background), dtype=self.params["means"].dtype, device=self.params["means"].device)
        colors, alphas, _ = self.render(camera.to(self.params["means"].device), background=bg, backend=backend)
        return {"rgb": colors[0].clamp(0, 1), "opacity": alphas[0, ..., 0]}

    # ------------------------------------------------------------------ files
    checkpoint_kind = CHECKPOINT_KIND

    def checkpoint_settings(self) -> dict:
        return {"sh_degree": self.sh_degree}

    @classmethod
    def from_checkpoint(cls, data: dict) -> "SplatModel":
        """The Gaussians of a checkpoint (their number is that of the saved parameters)."""
        params = {k.split(".", 1)[1]: v for k, v in data["state_dict"].items() if k.startswith("params.")}
        return cls(params, data["settings"]["sh_degree"])
