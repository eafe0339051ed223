"""Adaptive density control of 3D Gaussian splatting, as a separate strategy object (in the
spirit of gsplat's ``strategy/``): the trainer calls :meth:`DensityControl.after_step`
with the step's rasterizer ``meta``; the strategy clones small and splits large Gaussians
whose accumulated screen-space gradient is high, prunes transparent and oversized ones,
and periodically resets opacities (Kerbl et al. 2023, Sec. 5.2; gsplat's
``DefaultStrategy`` constants).

Parameters live in a ``torch.nn.ParameterDict`` with rows = Gaussians (``means (N,3)``,
``quats (N,4)``, ``log_scales (N,3)``, ``logit_opacities (N,)``, ``sh0 (N,1,3)``,
``shN (N,K-1,3)``); the optimiser has one parameter group per entry, named by the
group's ``"name"``. Adding or removing rows replaces the parameters and carries the
optimiser's per-row state (Adam's moments: new rows start at zero).
"""

from __future__ import annotations

import torch
from torch import nn

from humanrecon.splat.strategy_config import DensityConfig


def edit_rows(params: nn.ParameterDict, optimizer: torch.optim.Optimizer, *, keep: torch.Tensor | None = None,
              append: dict[str, torch.Tensor] | None = None) -> None:
    """Keep the rows ``keep`` (indices; None: all) of every parameter, then append
    ``append[name]`` rows; the parameters are replaced and the optimiser's per-row state
    follows (kept rows keep their moments, appended rows start at zero)."""
    for group in optimizer.param_groups:
        old, name = group["params"][0], group["name"]
        value = old.detach() if keep is None else old.detach()[keep]
        extra = append[name] if append else value[:0]
        new = nn.Parameter(torch.cat([value, extra.to(value)]))
        state = optimizer.state.pop(old, {})
        for key, moment in list(state.items()):
            if torch.is_tensor(moment) and moment.dim() > 0 and moment.shape[0] == old.shape[0]:
                kept = moment if keep is None else moment[keep]
                state[key] = torch.cat([kept, kept.new_zeros((extra.shape[0],) + kept.shape[1:])])
        group["params"][0] = new
        optimizer.state[new] = state
        params[name] = new


class DensityControl:
    """Clone / split / prune / reset, called after every optimiser step.

    Args:
        params: the model's ParameterDict (see the module docstring).
        optimizer: its optimiser, one group per entry with a ``"name"``.
        scene_scale: metres; the size thresholds are fractions of it.
        config: :class:`DensityConfig`.
    """

    def __init__(self, params: nn.ParameterDict, optimizer: torch.optim.Optimizer, scene_scale: float,
                 config: DensityConfig | None = None) -> None:
        self.params, self.optimizer, self.scene_scale = params, optimizer, float(scene_scale)
        self.config = config or DensityConfig()
        self.grad2d = torch.zeros(0)
        self.count = torch.zeros(0)
        self.history: list[dict[str, int]] = []

    def state_dict(self) -> dict:
        """The accumulated statistics (screen-space gradient sums and view counts per
        Gaussian) and the refinement history, for a resumed run to continue exactly."""
        return {"grad2d": self.grad2d.detach().clone(), "count": self.count.detach().clone(),
                "history": [dict(h) for h in self.history]}

    def load_state_dict(self, state: dict) -> None:
        """Undo :meth:`state_dict`."""
        device = self.params["means"].device
        self.grad2d = state["grad2d"].to(device)
        self.count = state["count"].to(device)
        self.history = [dict(h) for h in state.get("history", [])]

    def after_step(self, step: int, meta: dict) -> None:
        """Accumulate the step's screen-space gradients and refine on schedule.

        As gsplat's ``DefaultStrategy``: the gradient of ``meta["means2d"]`` ``(C, N, 2)``
        (pixels) is scaled by ``width/2 · C`` and ``height/2 · C`` (``C = meta["n_cameras"]``,
        default the gradient's first dimension): NDC units, and undoing the ``1/C`` of a
        loss averaged over the step's cameras, so a threshold means the same whatever
        ``views_per_step``. Each camera where a Gaussian has ``meta["radii"] > 0`` adds the
        norm of its scaled gradient and one to its count; :meth:`refine` compares the
        average with ``grow_grad2d``."""
        cfg = self.config
        n = self.params["means"].shape[0]
        if self.grad2d.shape[0] != n:
            self.grad2d = torch.zeros(n, device=self.params["means"].device)
            self.count = torch.zeros(n, device=self.params["means"].device)
        grad = meta["means2d"].grad
        if grad is not None and step < cfg.refine_stop:
            cameras = meta.get("n_cameras", grad.shape[0])
            factor = torch.tensor([meta["width"] / 2.0 * cameras, meta["height"] / 2.0 * cameras],
                                  dtype=grad.dtype, device=grad.device)
            scaled = grad.detach() * factor
            seen = meta["radii"] > 0  # (C, N)
            self.grad2d += (scaled.norm(dim=-1) * seen).sum(0)
            self.count += seen.sum(0)
        if cfg.refine_start < step < cfg.refine_stop and step % cfg.refine_every == 0:
            self.refine(step)
        if step > 0 and step % cfg.reset_every == 0 and step < cfg.refine_stop:
            self.reset_opacities()

    @torch.no_grad()
    def refine(self, step: int) -> dict[str, int]:
        """Clone, split, then prune; returns the counts (also kept in ``history``)."""
        cfg = self.config
        average = self.grad2d / self.count.clamp(min=1)
        high = average > cfg.grow_grad2d
        scales = self.params["log_scales"].exp().amax(-1)
        small = scales <= cfg.grow_scale3d * self.scene_scale
        room = max(cfg.max_gaussians - self.params["means"].shape[0], 0)
        clone = (high & small).nonzero()[:, 0][: room]
        split = (high & ~small).nonzero()[:, 0][: max(room - len(clone), 0) // 2]
        n = self.params["means"].shape[0]
        if len(clone):
            edit_rows(self.params, self.optimizer, append={k: v.detach()[clone] for k, v in self.params.items()})
        if len(split):
            edit_rows(self.params, self.optimizer, append=self._split(split))
        # the split originals are removed, then the transparent and the oversized
        n_now = self.params["means"].shape[0]
        remove = torch.zeros(n_now, dtype=torch.bool, device=self.params["means"].device)
        remove[split] = True
        remove |= torch.sigmoid(self.params["logit_opacities"]) < cfg.prune_opacity
        if step > cfg.reset_every:
            remove |= self.params["log_scales"].exp().amax(-1) > cfg.prune_scale3d * self.scene_scale
        keep = (~remove).nonzero()[:, 0]
        if len(keep) < n_now:
            edit_rows(self.params, self.optimizer, keep=keep)
        counts = {"step": step, "before": n, "cloned": len(clone), "split": len(split),
                  "pruned": int(remove.sum()) - len(split), "after": int(len(keep))}
        self.history.append(counts)
        self.grad2d = torch.zeros(len(keep), device=self.params["means"].device)
        self.count = torch.zeros(len(keep), device=self.params["means"].device)
        return counts

    def _split(self, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        """The rows to append for splitting ``rows``: two Gaussians each, centred at
        samples of the original, scales / 1.6, everything else copied."""
        from humanrecon.geometry.rotations import quaternion_to_matrix

        p = {k: v.detach() for k, v in self.params.items()}
        scales = p["log_scales"][rows].exp()
        rot = quaternion_to_matrix(torch.nn.functional.normalize(p["quats"][rows], dim=-1))
        offsets = (rot @ (torch.randn(2, len(rows), 3, 1, device=scales.device) * scales[..., None]))[..., 0]
        out = {k: v[rows].repeat(2, *([1] * (v.dim() - 1))) for k, v in p.items()}
        out["means"] = (p["means"][rows][None] + offsets).reshape(-1, 3)
        out["log_scales"] = (scales / 1.6).log().repeat(2, 1)
        return out

    @torch.no_grad()
    def reset_opacities(self) -> None:
        """Opacities to at most twice the pruning threshold (in logit space), and the
        optimiser state of the opacities zeroed (Adam's moments; not its step count), as
        gsplat's ``reset_opa``: stale momentum would otherwise push them straight back."""
        limit = float(torch.logit(torch.tensor(2.0 * self.config.prune_opacity)))
        param = self.params["logit_opacities"]
        param.clamp_(max=limit)
        state = self.optimizer.state.get(param, {})
        for key, value in state.items():
            if key != "step" and torch.is_tensor(value):
                value.zero_()
