"""Single-shape training of implicit networks: occupancy (BCE), DeepSDF (clamped L1 +
code prior) and IGR from raw points (surface + eikonal + optional normal terms).

Every trainer runs :func:`optimize`: Adam with a cosine learning-rate decay on the shared
loop of :mod:`humanrecon.training` (progress bar, periodic checkpoints, step or time
budget, and a guard that stops with a clear message when the loss stops being finite,
keeping the last good checkpoint on disk).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from torch import nn

from humanrecon.errors import InputError
from humanrecon.geometry.scene import uniform_points
from humanrecon.io.checkpoints import Checkpointed
from humanrecon.implicit.losses import clamped_l1, eikonal_loss, gradient, latent_regularizer, occupancy_bce
from humanrecon.implicit.networks import FourierFeatures, ImplicitMLP, OccupancyNetwork
from humanrecon.implicit.config import NetworkConfig, TrainConfig
from humanrecon.training import TrainingHistory, train_loop

Sampler = Callable[[int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


#: what a single-shape training run did (losses per step, wall seconds)
History = TrainingHistory


class ImplicitShape(Checkpointed, nn.Module):
    """A trained single shape: network + its code, callable on points for meshing.

    ``kind``: ``"occ"`` (values are occupancy logits, inside > 0), ``"sdf"`` or ``"igr"``
    (signed distances, inside < 0). ``forward(points (N, 3)) -> (N,)``. ``bounds``: the
    box ``(2, 3)`` (metres) the shape was trained in, for mesh extraction; ``centre``
    ``(3,)``: subtracted from points before the network (IGR's geometric initialisation
    is a sphere around the network's origin).

    Checkpoints: ``save(path)``, ``ImplicitShape.load(path)`` (eval mode: the occupancy
    decoder's batch norm uses its running statistics), ``ImplicitShape.restore``
    (:class:`~humanrecon.io.checkpoints.Checkpointed`).
    """

    def __init__(self, kind: str, network: nn.Module, code: torch.Tensor | None, bounds: torch.Tensor,
                 config: dict) -> None:
        super().__init__()
        if kind not in ("occ", "sdf", "igr"):
            raise InputError(f"kind must be 'occ', 'sdf' or 'igr', got '{kind}'")
        self.kind = kind
        self.network = network
        self.code = nn.Parameter(code) if code is not None else None
        self.register_buffer("bounds", torch.as_tensor(bounds, dtype=torch.float32).reshape(2, 3))
        self.register_buffer("centre", torch.as_tensor(config.get("centre", (0.0, 0.0, 0.0)), dtype=torch.float32))
        self.config = config

    @property
    def level(self) -> float:
        return 0.0

    @property
    def inside(self) -> str:
        """``"positive"`` for occupancy logits, ``"negative"`` for signed distances."""
        return "positive" if self.kind == "occ" else "negative"

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        code = None if self.code is None else self.code.expand(1, -1)
        return self.network((points - self.centre)[None], code)[0]

    checkpoint_kind = "implicit-shape"

    def checkpoint_settings(self) -> dict:
        return {"kind": self.kind, "config": self.config}

    @classmethod
    def from_checkpoint(cls, data: dict) -> "ImplicitShape":
        shape = build_shape(data["settings"]["kind"], data["settings"]["config"])
        shape.load_state_dict(data["state_dict"])
        return shape

    def extract_mesh(self, resolution: int = 256, *, initial_resolution: int = 32, hierarchical: bool = True,
                     progress: bool = False):
        """The surface (level 0 of the network's value) in :attr:`bounds` by the shared
        extractor (hierarchical unless ``hierarchical=False``; ``resolution`` cells per
        axis): an :class:`~humanrecon.geometry.meshing.ExtractionResult` in world metres."""
        from humanrecon.geometry.meshing import extract_mesh

        return extract_mesh(self, self.bounds.detach().cpu().numpy(), resolution, self.level, inside=self.inside,
                            hierarchical=hierarchical, initial_resolution=initial_resolution,
                            device=self.bounds.device, progress=progress)


def build_shape(kind: str, config: dict) -> ImplicitShape:
    """Network + code for a ``kind`` from a plain config dict (also used to restore)."""
    encoding = FourierFeatures(config.get("frequencies", NetworkConfig.frequencies), config.get("encoding_scale", 1.0))
    c_dim = config.get("c_dim", 0)
    hidden, layers = config.get("hidden", NetworkConfig.hidden), config.get("layers", NetworkConfig.layers)
    if kind == "occ":
        network = OccupancyNetwork(max(c_dim, 1), hidden, config.get("blocks", NetworkConfig.blocks), encoding)
        c_dim = max(c_dim, 1)
    elif kind == "sdf":
        network = ImplicitMLP(c_dim, hidden, layers, activation="relu",
                              weight_norm=True, output_tanh=False, encoding=encoding,
                              geometric_init="init_radius" in config, init_radius=config.get("init_radius", 0.5))
    else:
        network = ImplicitMLP(0, hidden, layers, activation="softplus",
                              geometric_init=True, init_radius=config.get("init_radius", 0.5), encoding=encoding)
        c_dim = 0
    code = torch.zeros(c_dim) if c_dim else None
    return ImplicitShape(kind, network, code, torch.tensor(config["bounds"]), dict(config, c_dim=c_dim))


def optimize(module: nn.Module, loss_fn: Callable[[int, torch.Generator], torch.Tensor],
             config: TrainConfig, name: str | None = None) -> History:
    """Adam + cosine decay of ``module``'s parameters on the shared loop
    (:func:`humanrecon.training.train_loop`) for ``config.steps`` or ``config.max_seconds``;
    ``loss_fn(step, generator)`` draws a batch and returns the loss. Checkpoints go to
    ``config.checkpoint`` (when set, and ``module`` has ``save(path)``) every
    ``checkpoint_every`` steps and at the end; a non-finite loss raises
    :class:`humanrecon.errors.TrainingDivergedError` naming the last good checkpoint.
    An :class:`ImplicitShape` records the steps run in ``config["steps_trained"]``."""
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    opt = torch.optim.Adam(module.parameters(), lr=config.lr)
    name = name or getattr(module, "kind", type(module).__name__)

    def record(steps: int) -> None:
        if isinstance(module, ImplicitShape):
            module.config["steps_trained"] = steps

    def save(steps: int, elapsed: float) -> Path:
        record(steps)
        return module.save(config.checkpoint)

    history = train_loop(lambda progress: loss_fn(progress.step, generator), opt, config.budget, config.learning_rate,
                         name=name, save=save if config.checkpoint else None,
                         checkpoint_every=config.checkpoint_every, progress=config.progress)
    record(history.steps)
    return history


def train_occupancy(shape: ImplicitShape, sampler: Sampler, config: TrainConfig) -> History:
    """Occupancy Networks' objective on ``sampler(n, generator) -> (points (n, 3), occupancy (n,))``."""
    def loss_fn(step, generator):
        points, occ = sampler(config.batch_points, generator)
        return occupancy_bce(shape(points), occ)
    return optimize(shape, loss_fn, config)


def train_sdf(shape: ImplicitShape, sampler: Sampler, config: TrainConfig, delta: float = 0.1,
              code_sigma: float = 0.01, code_weight: float = 1e-4) -> History:
    """DeepSDF's objective on ``sampler(n, generator) -> (points (n, 3), sdf (n,))``:
    clamped L1 (δ metres) + ``code_weight · |z|²/σ²``."""
    def loss_fn(step, generator):
        points, sdf = sampler(config.batch_points, generator)
        loss = clamped_l1(shape(points), sdf, delta)
        if shape.code is not None:
            loss = loss + code_weight * latent_regularizer(shape.code[None], code_sigma)
        return loss
    return optimize(shape, loss_fn, config)


def train_igr(shape: ImplicitShape, points: torch.Tensor, config: TrainConfig, normals: torch.Tensor | None = None,
              eikonal_weight: float = 0.1, normal_weight: float = 1.0, local_sigma: float | None = None) -> History:
    """IGR from a raw point cloud ``points (M, 3)`` (optional unit ``normals (M, 3)``):
    ``mean |f(x_surf)| + τ mean |∇f(x_surf) − n| + λ mean (|∇f(x)| − 1)²`` with ``x`` the
    surface points moved by N(0, local_sigma²) (default: 5 % of the box size) plus uniform
    points in the box. No ground-truth distance is used."""
    points = torch.as_tensor(points, dtype=torch.float32)
    lo, hi = shape.bounds[0], shape.bounds[1]
    sigma = local_sigma if local_sigma is not None else 0.05 * float((hi - lo).max())

    def loss_fn(step, generator):
        idx = torch.randint(len(points), (config.batch_points,), generator=generator)
        surface = points[idx].clone().requires_grad_(normals is not None)
        local = surface.detach() + sigma * torch.randn(surface.shape, generator=generator)
        uniform = uniform_points(shape.bounds, config.batch_points // 8, generator)
        space = torch.cat([local, uniform]).requires_grad_(True)
        values = shape(surface)
        loss = values.abs().mean()
        if normals is not None:
            loss = loss + normal_weight * (gradient(values, surface) - normals[idx]).norm(dim=-1).mean()
        return loss + eikonal_weight * eikonal_loss(gradient(shape(space), space))
    return optimize(shape, loss_fn, config)


def train_autodecoder(network: nn.Module, samplers: list[Sampler], config: TrainConfig, delta: float = 0.1,
                      code_sigma: float = 0.01, code_weight: float = 1e-4) -> tuple[torch.Tensor, History]:
    """DeepSDF's auto-decoder over several shapes: one code per shape (``network.c_dim``),
    initialised N(0, σ²), learned jointly with the network. Each step draws
    ``batch_points / S`` points per shape. Returns the codes ``(S, C)`` and the history."""
    num_shapes, c_dim = len(samplers), network.c_dim
    holder = ImplicitShape("sdf", network, None, torch.zeros(2, 3), {})
    holder.codes = nn.Parameter(code_sigma * torch.randn(num_shapes, c_dim,
                                                         generator=torch.Generator().manual_seed(config.seed)))
    per_shape = max(1, config.batch_points // num_shapes)

    def loss_fn(step, generator):
        batches = [sampler(per_shape, generator) for sampler in samplers]
        points = torch.stack([b[0] for b in batches])
        sdf = torch.stack([b[1] for b in batches])
        pred = network(points, holder.codes)
        return clamped_l1(pred, sdf, delta) + code_weight * latent_regularizer(holder.codes, code_sigma)
    history = optimize(holder, loss_fn, config)
    return holder.codes.detach().clone(), history


def infer_code(network: nn.Module, points: torch.Tensor, sdf: torch.Tensor, steps: int = 500, lr: float = 5e-3,
               delta: float = 0.1, code_sigma: float = 0.01, code_weight: float = 1e-4, seed: int = 0) -> torch.Tensor:
    """DeepSDF inference: the code ``(C,)`` of a new shape from its SDF samples
    ``points (N, 3)``, ``sdf (N,)`` by optimising the code with the network frozen."""
    generator = torch.Generator().manual_seed(seed)
    code = (code_sigma * torch.randn(1, network.c_dim, generator=generator)).requires_grad_(True)
    for p in network.parameters():
        p.requires_grad_(False)
    opt = torch.optim.Adam([code], lr=lr)
    try:
        for _ in range(steps):
            opt.zero_grad()
            loss = clamped_l1(network(points[None], code), sdf[None], delta) \
                + code_weight * latent_regularizer(code, code_sigma)
            loss.backward()
            opt.step()
    finally:
        for p in network.parameters():
            p.requires_grad_(True)
    return code.detach()[0]
