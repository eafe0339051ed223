"""Train 3D Gaussians on posed images (Blender-format datasets, :mod:`humanrecon.datasets`)
in the shape every trainer shares (:func:`humanrecon.trainer.fit`): ``views_per_step`` random
training images per step, composited over a random background, loss ``(1 - w) L1 + w (1 - SSIM)``, Adam
with the paper's per-parameter rates (means decayed exponentially, scaled by the scene
size), SH degree raised every ``sh_increase_every`` steps, adaptive density control
(:class:`~humanrecon.splat.strategy.DensityControl`) as a hook, checkpoints + resume and
the divergence guard of the shared loop."""

from __future__ import annotations

from pathlib import Path

import torch

from humanrecon.errors import InputError
from humanrecon.geometry.scene import dataset_bounds, uniform_points, visual_hull_points
from humanrecon.render.compositing import background_colors, over_background
from humanrecon.render.image_metrics import ssim_loss_term
from humanrecon.splat.config import CHECKPOINT, SplatConfig
from humanrecon.splat.model import SplatModel
from humanrecon.splat.strategy import DensityControl
from humanrecon.trainer import Trainer, fit
from humanrecon.training import Progress, TrainingHistory, TrainingHook, exponential_decay


def initial_model(split, config: SplatConfig, generator: torch.Generator) -> SplatModel:
    """The starting Gaussians (:attr:`SplatConfig.init`): ``"auto"``, ``"random"``,
    ``"sparse"``, ``"hull"``, or a mesh (surface samples), a point cloud or a splat file."""
    points = getattr(split, "points", None)
    has_points = points is not None and len(points) > 0
    # images with alpha start from their visual hull; photos with object masks only when asked
    # (--init hull): their background needs Gaussians too
    transparent = bool((split.alpha < 0.5).any())
    masks = split.alpha if transparent or config.init != "hull" else getattr(split, "masks", None)
    has_masks = masks is not None and bool((masks < 0.5).any())
    if config.init == "sparse" and not has_points:
        raise InputError(f"--init sparse: the dataset in '{split.root}' has no sparse points (only COLMAP "
                         "captures do); use 'sfm', 'random' or a point file")
    if config.init == "sfm" and not has_points:
        raise InputError(f"--init sfm: no points were triangulated for '{split.root}' (train_splats does it: "
                         "humanrecon.datasets.sfm.with_sfm_points)")
    if config.init == "hull" and not has_masks:
        raise InputError(f"--init hull: the images of '{split.root}' have no masks (alpha is 1 everywhere and the "
                         "capture has no mask files)")
    if config.init in ("auto", "sparse", "sfm") and has_points:
        colors = getattr(split, "point_colors", None)
        return SplatModel.from_points(points.float(), None if colors is None else colors.float(),
                                      sh_degree=config.sh_degree)
    box = dataset_bounds(split)
    if config.init in ("auto", "hull") and has_masks:
        points, colors = visual_hull_points(split.cameras, masks, config.init_points, box, images=split.images,
                                            generator=generator)
        if len(points):
            return SplatModel.from_points(points, colors, sh_degree=config.sh_degree)
        if config.init == "hull":
            raise InputError(f"--init hull: no point of the scene box lies inside every mask of '{split.root}'")
    if config.init in ("auto", "random"):
        points = uniform_points(box, config.init_points, generator)
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
    ``lr_means`` times the scene scale to ``lr_means_final_fraction`` of that (its ``"schedule"``)."""
    rates = {"quats": config.lr_quats, "log_scales": config.lr_scales, "logit_opacities": config.lr_opacities,
             "sh0": config.lr_sh0, "shN": config.lr_shN}
    start, final = config.lr_means * scene_scale, config.lr_means_final_fraction
    groups = [{"params": [model.params["means"]], "name": "means", "lr": start,
               "schedule": lambda done: exponential_decay(start, done, final)}]
    groups += [{"params": [model.params[k]], "name": k, "lr": lr, "schedule": (lambda lr: lambda done: lr)(lr)}
               for k, lr in rates.items()]
    return torch.optim.Adam(groups, eps=1e-15)


class _Densify(TrainingHook):
    """Adaptive density control after each step, from the step's rasterizer meta."""

    def __init__(self, trainer: "SplatTrainer") -> None:
        self.trainer = trainer

    def after_step(self, step: int, loss: float) -> None:
        self.trainer.control.after_step(step, self.trainer.meta)


class SplatTrainer(Trainer):
    """3D Gaussian splatting (module docstring) in the shape every trainer shares
    (:class:`humanrecon.trainer.Trainer`)."""

    name, checkpoint_name, model_class = "splats", CHECKPOINT, SplatModel

    def __init__(self, split, config: SplatConfig, *, device: torch.device, generator: torch.Generator,
                 model: SplatModel | None = None) -> None:
        self.config, self.generator, self.split = config, generator, split
        box = dataset_bounds(split)
        scene_scale = float((box[1] - box[0]).norm() / 2)  # metres: half the box diagonal
        self.model = model if model is not None else initial_model(split, config, generator).to(device)
        self.optimizer = optimizer_for(self.model, config, scene_scale)
        self.control = DensityControl(self.model.params, self.optimizer, scene_scale, config.density)
        self.images = split.images.to(device)
        self.alpha = split.alpha.to(device)[..., None]
        self.device = device
        self.meta: dict = {}
        self.history = TrainingHistory()

    def step(self, progress: Progress) -> torch.Tensor:
        config, model = self.config, self.model
        index = torch.randint(len(self.split), (config.views_per_step,), generator=self.generator)
        background = background_colors(len(index), self.generator, config.random_background, self.device)
        target = over_background(self.images[index], self.alpha[index], background)
        degree = min(progress.step // config.sh_increase_every, model.sh_degree)
        colors, _, meta = model.render(self.split.cameras[index.tolist()].to(self.device), sh_degree=degree,
                                       background=background, backend=config.backend, validate=False)
        meta["means2d"].retain_grad()
        self.meta = meta
        l1 = (colors - target).abs().mean()
        if config.ssim_weight:
            return (1 - config.ssim_weight) * l1 + config.ssim_weight * (1 - ssim_loss_term(colors, target))
        return l1

    def learning_rate(self, fraction: float) -> float:
        return 0.0  # every group carries its own schedule (optimizer_for)

    def hooks(self) -> list[TrainingHook]:
        return [_Densify(self)]

    def postfix(self) -> dict:
        return {"gaussians": self.model.num_gaussians}

    def state_dict(self) -> dict:
        return {"density": self.control.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        if "density" in state:
            self.control.load_state_dict(state["density"])


def train_splats(split, out_dir: str | Path, config: SplatConfig | None = None, *, resume: bool = False,
                 hooks=()) -> tuple[SplatModel, TrainingHistory]:
    """Train on a :class:`humanrecon.datasets.BlenderSplit` (:class:`SplatTrainer` through
    :func:`humanrecon.trainer.fit`); checkpoints go to ``out_dir/splat.pt`` (parameters,
    optimiser, step, elapsed time, density statistics, random state; ``resume=True``
    continues it exactly). Returns ``(model in eval mode, history)``; a NaN/inf loss
    raises ``TrainingDivergedError`` naming the last good checkpoint. Splits without sparse
    points get points triangulated on their cameras first when :func:`needs_sfm_points`
    says so (under ``init="auto"`` a warning and a random start when none are found)."""
    config = config or SplatConfig()
    if not resume and needs_sfm_points(split, config):  # a resumed run starts from its checkpoint
        from humanrecon.datasets.sfm import with_sfm_points

        split = with_sfm_points(split, out_dir, required=config.init == "sfm", progress=config.progress,
                                seed=config.seed)
    return fit(SplatTrainer, split, out_dir, config, resume=resume, hooks=hooks)


def needs_sfm_points(split, config: SplatConfig) -> bool:
    """Whether the start triangulates points on the split's known cameras (cached in the run
    folder: :func:`humanrecon.datasets.sfm.with_sfm_points`): ``init="sfm"``, or ``"auto"``
    on opaque images without sparse points (where it would otherwise start at random)."""
    points = getattr(split, "points", None)
    if points is not None and len(points) > 0:
        return False
    return config.init == "sfm" or (config.init == "auto" and not bool((split.alpha < 0.5).any()))
