"""Train 3D Gaussians on posed images (Blender-format datasets, :mod:`humanrecon.datasets`)
with the shared loop (:func:`humanrecon.training.train_loop`): ``views_per_step`` random
training images per step, composited over a random background, loss ``(1 - w) L1 + w (1 - SSIM)``, Adam
with the paper's per-parameter rates (means decayed exponentially, scaled by the scene
size), SH degree raised every ``sh_increase_every`` steps, adaptive density control
(:class:`~humanrecon.splat.strategy.DensityControl`) as a hook, checkpoints + resume and
the divergence guard of the shared loop."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from humanrecon.errors import InputError
from humanrecon.geometry.scene import dataset_bounds, visual_hull_points
from humanrecon.render.image_metrics import ssim_loss_term
from humanrecon.splat.config import CHECKPOINT, SplatConfig
from humanrecon.splat.model import SplatModel
from humanrecon.splat.strategy import DensityControl
from humanrecon.training import Budget, TrainingHistory, TrainingHook, exponential_decay, train_loop


def initial_model(split, config: SplatConfig, generator: torch.Generator) -> SplatModel:
    """The starting Gaussians (:attr:`SplatConfig.init`): ``"auto"``, ``"random"``,
    ``"sparse"``, ``"hull"``, or a mesh (surface samples), a point cloud or a splat file."""
    points = getattr(split, "points", None)
    has_points = points is not None and len(points) > 0
    has_masks = bool((split.alpha < 0.5).any())
    if config.init == "sparse" and not has_points:
        raise InputError(f"--init sparse: the dataset in '{split.root}' has no sparse points (only COLMAP "
                         "captures do); use 'random' or a point file")
    if config.init == "hull" and not has_masks:
        raise InputError(f"--init hull: the images of '{split.root}' have no masks (alpha is 1 everywhere)")
    if config.init in ("auto", "sparse") and has_points:
        colors = getattr(split, "point_colors", None)
        return SplatModel.from_points(points.float(), None if colors is None else colors.float(),
                                      sh_degree=config.sh_degree)
    box = dataset_bounds(split)
    if config.init in ("auto", "hull") and has_masks:
        points, colors = visual_hull_points(split.cameras, split.alpha, config.init_points, box, images=split.images,
                                            generator=generator)
        if len(points):
            return SplatModel.from_points(points, colors, sh_degree=config.sh_degree)
        if config.init == "hull":
            raise InputError(f"--init hull: no point of the scene box lies inside every mask of '{split.root}'")
    if config.init in ("auto", "random"):
        points = box[0] + (box[1] - box[0]) * torch.rand(config.init_points, 3, generator=generator)
        return SplatModel.from_points(points, sh_degree=config.sh_degree)
    path = Path(config.init)
    suffix = path.suffix.lower()
    if suffix == ".splat" or (suffix == ".ply" and _is_splat_ply(path)):
        from humanrecon.splat.files import load_gaussians

        return SplatModel.from_gaussians(load_gaussians(path))
    if suffix in (".obj", ".ply", ".stl", ".off", ".glb"):
        from humanrecon.io.meshes import load_mesh

        try:
            mesh = load_mesh(path)
        except InputError:  # a .ply without faces: a point cloud
            mesh = None
        if mesh is not None and len(mesh.faces):
            import trimesh

            points, _ = trimesh.sample.sample_surface(mesh, config.init_points, seed=config.seed)
            return SplatModel.from_points(torch.as_tensor(points, dtype=torch.float32), sh_degree=config.sh_degree)
    from humanrecon.io.points import read_point_cloud

    points, _ = read_point_cloud(path)
    return SplatModel.from_points(torch.as_tensor(points, dtype=torch.float32), sh_degree=config.sh_degree)


def _is_splat_ply(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(4096)
    return b"f_dc_0" in head


def optimizer_for(model: SplatModel, config: SplatConfig, scene_scale: float) -> torch.optim.Adam:
    """Adam with one named group per parameter; the means' group decays exponentially from
    ``lr_means`` to ``lr_means_final`` times the scene scale (its ``"schedule"``)."""
    rates = {"quats": config.lr_quats, "log_scales": config.lr_scales, "logit_opacities": config.lr_opacities,
             "sh0": config.lr_sh0, "shN": config.lr_shN}
    start, end = config.lr_means * scene_scale, config.lr_means_final * scene_scale
    groups = [{"params": [model.params["means"]], "name": "means", "lr": start,
               "schedule": lambda done: exponential_decay(start, done, end / start)}]
    groups += [{"params": [model.params[k]], "name": k, "lr": lr, "schedule": (lambda lr: lambda done: lr)(lr)}
               for k, lr in rates.items()]
    return torch.optim.Adam(groups, eps=1e-15)


class _Densify(TrainingHook):
    def __init__(self, control: DensityControl, last: dict) -> None:
        self.control, self.last = control, last

    def after_step(self, step: int, loss: float) -> None:
        self.control.after_step(step, self.last["meta"])


def train_splats(split, out_dir: str | Path, config: SplatConfig | None = None, *, resume: bool = False):
    """Train on a :class:`humanrecon.datasets.BlenderSplit`; checkpoints go to
    ``out_dir/splat.pt`` (parameters, optimiser, step, elapsed time; ``resume=True``
    continues from it). Returns ``(model, history)``; a NaN/inf loss raises
    ``TrainingDivergedError`` naming the last good checkpoint."""
    config = config or SplatConfig()
    out_dir = Path(out_dir)
    checkpoint = out_dir / CHECKPOINT
    device = torch.device(config.device)
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    box = dataset_bounds(split)
    scene_scale = float((box[1] - box[0]).norm() / 2)  # metres: half the box diagonal
    budget = Budget(config.steps, config.max_seconds)
    start_step, elapsed_before = 0, 0.0
    if resume:
        model, saved = SplatModel.load(checkpoint, map_location=device)
        start_step, elapsed_before = saved["step"], saved["elapsed"]
    else:
        model, saved = initial_model(split, config, generator).to(device), None
    optimizer = optimizer_for(model, config, scene_scale)
    if saved is not None:  # the saved groups have no schedules (callables): keep ours
        schedules = [group["schedule"] for group in optimizer.param_groups]
        optimizer.load_state_dict(saved["optimizer"])
        for group, schedule in zip(optimizer.param_groups, schedules):
            group["schedule"] = schedule
    control = DensityControl(model.params, optimizer, scene_scale, config.density)
    images = split.images.to(device)
    alpha = split.alpha.to(device)[..., None]
    last: dict = {}
    history = TrainingHistory()

    def step_fn(step: int) -> torch.Tensor:
        index = torch.randint(len(split), (config.views_per_step,), generator=generator)
        background = torch.rand(len(index), 3, generator=generator).to(device) if config.random_background \
            else torch.ones(len(index), 3, device=device)
        target = images[index] * alpha[index] + background[:, None, None] * (1 - alpha[index])
        degree = min(step // config.sh_increase_every, model.sh_degree)
        colors, _, meta = model.render(split.cameras[index.tolist()].to(device), sh_degree=degree,
                                       background=background, backend=config.backend)
        meta["means2d"].retain_grad()
        last["meta"] = meta
        l1 = (colors - target).abs().mean()
        if config.ssim_weight:
            return (1 - config.ssim_weight) * l1 + config.ssim_weight * (1 - ssim_loss_term(colors, target))
        return l1

    def save(step: int, elapsed: float) -> Path:
        state = optimizer.state_dict()
        for group in state["param_groups"]:
            group.pop("schedule", None)  # callables are rebuilt from the config
        return model.save(checkpoint, optimizer=state, step=step, elapsed=elapsed, config=_plain(asdict(config)))

    model.train()
    train_loop(step_fn, optimizer, budget, lambda done: 0.0, name="splats", save=save,
               checkpoint_every=config.checkpoint_every, hooks=[_Densify(control, last)], start_step=start_step,
               elapsed_before=elapsed_before, last_checkpoint=checkpoint if resume else None, history=history,
               progress=config.progress, postfix=lambda: {"gaussians": model.num_gaussians})
    return model.eval(), history


def _plain(value):
    """Config as plain data (checkpoints load with ``weights_only=True``)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
