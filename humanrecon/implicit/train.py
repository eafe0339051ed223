"""Training of implicit networks: occupancy (BCE), DeepSDF (clamped L1 + code prior) and
IGR from raw points (surface + eikonal + optional normal terms).

A single shape is an :class:`ImplicitTrainer` on the one trainer shape
(:func:`humanrecon.trainer.fit`: checkpoints in a run folder, exact resume, hooks,
``device``); :func:`fit_shape` runs it, :func:`train_occupancy` / :func:`train_sdf` /
:func:`train_igr` train a shape already built. Multi-shape training (the DeepSDF
auto-decoder, point-cloud-conditioned occupancy) runs :func:`optimize`. Both are Adam
with a cosine learning-rate decay on the shared loop of :mod:`humanrecon.training`
(progress bar, periodic checkpoints, step or time budget, and a guard that stops with a
clear message when the loss stops being finite, keeping the last good checkpoint).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from humanrecon.errors import InputError
from humanrecon.geometry.scene import uniform_points
from humanrecon.io.checkpoints import Checkpointed
from humanrecon.implicit.losses import clamped_l1, eikonal_loss, gradient, latent_regularizer, occupancy_bce
from humanrecon.implicit.networks import FourierFeatures, ImplicitMLP, OccupancyNetwork
from humanrecon.implicit.config import CHECKPOINT, NetworkConfig, TrainConfig
from humanrecon.trainer import Trainer, fit
from humanrecon.training import Progress, TrainingHistory, train_loop

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


@dataclass
class ShapeData:
    """What one shape is fitted to, for :class:`ImplicitTrainer`:

    * ``kind`` ``"occ"`` / ``"sdf"``: ``sampler(n, generator) -> (points (n, 3), values (n,))``
      draws ground truth (occupancy in {0, 1}, signed distance in metres);
    * ``kind`` ``"igr"``: surface ``points (M, 3)`` (metres) and optional unit
      ``normals (M, 3)``; no ground-truth distance.

    ``settings``: :func:`build_shape`'s dict (``bounds``, ``centre``, network size, ...);
    ``source``: the file it came from, for messages and ``metrics.json``.
    """

    kind: str
    settings: dict
    sampler: Sampler | None = None
    points: torch.Tensor | None = None
    normals: torch.Tensor | None = None
    source: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("occ", "sdf", "igr"):
            raise InputError(f"kind must be 'occ', 'sdf' or 'igr', got '{self.kind}'")
        if (self.kind == "igr") != (self.points is not None) or (self.kind != "igr" and self.sampler is None):
            raise InputError(f"{self.kind} needs {'surface points' if self.kind == 'igr' else 'a sampler'}")


class ImplicitTrainer(Trainer):
    """One implicit shape on the shared trainer shape (:mod:`humanrecon.trainer`): Adam +
    cosine decay (``config.learning_rate``) on the objective of ``data.kind``:

    * ``occ``: Occupancy Networks' binary cross-entropy;
    * ``sdf``: DeepSDF's clamped L1 (``delta`` metres) + ``code_weight · |z|²/σ²``;
    * ``igr``: ``mean |f(x_surf)| + τ mean |∇f(x_surf) − n| + λ mean (|∇f(x)| − 1)²`` with
      ``x`` the surface points moved by N(0, ``local_sigma``²) (default: 5 % of the box's
      largest side) plus uniform points in the box (an eighth as many).

    ``config``: a :class:`~humanrecon.implicit.config.TrainConfig`. Every ground-truth
    draw uses the trainer's generator, so a resumed run continues exactly.
    """

    name = "implicit shape"
    checkpoint_name = CHECKPOINT
    model_class = ImplicitShape

    def __init__(self, data: ShapeData, config: TrainConfig, *, device: torch.device, generator: torch.Generator,
                 model: ImplicitShape | None = None, delta: float = 0.1, code_sigma: float = 0.01,
                 code_weight: float = 1e-4, eikonal_weight: float = 0.1, normal_weight: float = 1.0,
                 local_sigma: float | None = None) -> None:
        self.data, self.config, self.generator, self.device = data, config, generator, device
        self.model = (model if model is not None else build_shape(data.kind, data.settings)).to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr)
        self.history = TrainingHistory()
        self.delta, self.code_sigma, self.code_weight = delta, code_sigma, code_weight
        self.eikonal_weight, self.normal_weight = eikonal_weight, normal_weight
        if data.kind == "igr":
            self.points = torch.as_tensor(data.points, dtype=torch.float32).to(device)
            self.normals = None if data.normals is None else torch.as_tensor(data.normals, dtype=torch.float32).to(device)
            lo, hi = self.model.bounds[0], self.model.bounds[1]
            self.local_sigma = local_sigma if local_sigma is not None else 0.05 * float((hi - lo).max())

    def learning_rate(self, fraction: float) -> float:
        return self.config.learning_rate(fraction)

    def step(self, progress: Progress) -> torch.Tensor:
        self.model.config["steps_trained"] = progress.step + 1
        if self.data.kind == "igr":
            return self._igr_loss()
        points, values = (t.to(self.device) for t in self.data.sampler(self.config.batch_points, self.generator))
        predicted = self.model(points)
        if self.data.kind == "occ":
            return occupancy_bce(predicted, values)
        loss = clamped_l1(predicted, values, self.delta)
        if self.model.code is not None:
            loss = loss + self.code_weight * latent_regularizer(self.model.code[None], self.code_sigma)
        return loss

    def _igr_loss(self) -> torch.Tensor:
        n, shape = self.config.batch_points, self.model
        idx = torch.randint(len(self.points), (n,), generator=self.generator).to(self.device)
        surface = self.points[idx].clone().requires_grad_(self.normals is not None)
        local = surface.detach() + self.local_sigma * torch.randn(surface.shape, generator=self.generator).to(self.device)
        uniform = uniform_points(shape.bounds, n // 8, self.generator)
        space = torch.cat([local, uniform]).requires_grad_(True)
        values = shape(surface)
        loss = values.abs().mean()
        if self.normals is not None:
            loss = loss + self.normal_weight * (gradient(values, surface) - self.normals[idx]).norm(dim=-1).mean()
        return loss + self.eikonal_weight * eikonal_loss(gradient(shape(space), space))


def fit_shape(data: ShapeData, config: TrainConfig, out_dir: str | Path | None = None, *, resume: bool = False,
              hooks=(), model: ImplicitShape | None = None, **objective) -> tuple[ImplicitShape, History]:
    """Fit one shape to ``data`` (:class:`ImplicitTrainer`; ``objective``: its loss
    weights) by :func:`humanrecon.trainer.fit`: checkpoints ``out_dir / shape.pt`` (none
    when ``out_dir`` is None), ``resume`` continues the run there exactly, ``hooks`` are
    per-step callbacks; ``model``: train this shape (else one is built from
    ``data.settings``, its initial weights from ``config.seed``). Returns ``(shape in eval
    mode, history)``."""
    return fit(ImplicitTrainer, data, out_dir, config, resume=resume, hooks=hooks, model=model, **objective)


def train_occupancy(shape: ImplicitShape, sampler: Sampler, config: TrainConfig) -> History:
    """Occupancy Networks' objective on ``sampler(n, generator) -> (points (n, 3), occupancy (n,))``."""
    return fit_shape(ShapeData("occ", shape.config, sampler), config, model=shape)[1]


def train_sdf(shape: ImplicitShape, sampler: Sampler, config: TrainConfig, delta: float = 0.1,
              code_sigma: float = 0.01, code_weight: float = 1e-4) -> History:
    """DeepSDF's objective on ``sampler(n, generator) -> (points (n, 3), sdf (n,))``:
    clamped L1 (δ metres) + ``code_weight · |z|²/σ²``."""
    return fit_shape(ShapeData("sdf", shape.config, sampler), config, model=shape, delta=delta,
                     code_sigma=code_sigma, code_weight=code_weight)[1]


def train_igr(shape: ImplicitShape, points: torch.Tensor, config: TrainConfig, normals: torch.Tensor | None = None,
              eikonal_weight: float = 0.1, normal_weight: float = 1.0, local_sigma: float | None = None) -> History:
    """IGR from a raw point cloud ``points (M, 3)`` (optional unit ``normals (M, 3)``)
    (:class:`ImplicitTrainer`). No ground-truth distance is used."""
    data = ShapeData("igr", shape.config, points=torch.as_tensor(points, dtype=torch.float32), normals=normals)
    return fit_shape(data, config, model=shape, eikonal_weight=eikonal_weight, normal_weight=normal_weight,
                     local_sigma=local_sigma)[1]


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
