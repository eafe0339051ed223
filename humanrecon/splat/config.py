"""Settings of Gaussian-splatting training (torch-free, so the CLI reads its defaults
without importing torch). Learning rates are the 3DGS paper's (gsplat's defaults)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from humanrecon.errors import InputError
from humanrecon.config_checks import check_count, check_number
from humanrecon.splat.strategy_config import DensityConfig
from humanrecon.training import Budget

#: the checkpoint file a training run writes into its output folder
CHECKPOINT = "splat.pt"
#: initialisations named by a word rather than a file (``SplatConfig.init``)
INIT_KEYWORDS = ("auto", "random", "sparse", "hull", "sfm")
#: rasterizer backends (:func:`humanrecon.splat.rasterize`, :attr:`SplatConfig.backend`)
BACKENDS = ("auto", "torch", "cpu", "cuda")
#: the highest spherical-harmonics degree the rasterizer evaluates
MAX_SH_DEGREE = 3
#: density control for the short CPU runs this trainer is used for (minutes, hundreds to a
#: few thousand steps): refine from step 100 every 50 steps at a 3x lower gradient
#: threshold than the paper's 30,000-step schedule (``DensityConfig()``), which would not
#: start before step 500. Chosen on the synthetic body views (2e-5 grew 231k Gaussians in
#: 5 min and scored lower than 6e-5).
SHORT_RUN_DENSITY = DensityConfig(refine_start=100, refine_every=50, grow_grad2d=6e-5)


@dataclass
class SplatConfig:
    """How to train.

    Attributes:
        steps, max_seconds: budget (steps; optional wall-time seconds).
        init: ``"auto"`` (the dataset's sparse structure-from-motion points with their
            colours when it has them, as 3DGS starts from COLMAP's; else ``"hull"`` when its
            images have masks (alpha); else ``"sfm"`` on photos, falling back to
            ``"random"`` with a warning when too few points are found), ``"random"``
            (``init_points`` uniform in the scene box), ``"sparse"`` (the sparse points; an
            error without them), ``"hull"`` (``init_points`` uniform inside the masks' visual
            hull, coloured from the images: :func:`humanrecon.geometry.scene.visual_hull_points`),
            ``"sfm"`` (points triangulated by COLMAP on the known cameras, cached in the run
            folder as ``sfm_points.npz``: :func:`humanrecon.datasets.sfm.with_sfm_points`; an
            error when none are found), or a path: a point cloud (``.ply``/``.xyz``/...), a
            mesh (surface samples) or a splat file.
        init_points: how many Gaussians a random, hull or mesh initialisation makes.
        sh_degree: final SH degree; raised by one every ``sh_increase_every`` steps.
        lr_means, lr_means_final_fraction: means' rate at the start, times the scene scale
            (metres), decayed exponentially to this fraction of it at the end (gsplat's
            0.01); the others are constant.
        views_per_step: training images rendered per step (the paper: 1).
        ssim_weight: the loss is ``(1 - w) L1 + w (1 - SSIM)`` (the paper's 0.2).
        random_background: composite each training image over a random colour.
        density: adaptive density control (:class:`DensityConfig`; default: a copy of
            :data:`SHORT_RUN_DENSITY`, each config its own; ``DensityConfig()`` for the
            paper's schedule).
        backend: rasterizer backend (``"auto"``, ``"torch"``, ``"cpu"``, ``"cuda"``).

    Raises:
        InputError: a value out of range, naming the field.
    """

    steps: int = 7_000
    max_seconds: float | None = None
    init: str = "auto"
    init_points: int = 5_000
    sh_degree: int = 3
    sh_increase_every: int = 1_000
    lr_means: float = 1.6e-4
    lr_means_final_fraction: float = 0.01
    lr_sh0: float = 2.5e-3
    lr_shN: float = 2.5e-3 / 20
    lr_opacities: float = 5e-2
    lr_scales: float = 5e-3
    lr_quats: float = 1e-3
    views_per_step: int = 1
    ssim_weight: float = 0.2
    random_background: bool = True
    density: DensityConfig = field(default_factory=lambda: replace(SHORT_RUN_DENSITY))
    backend: str = "auto"
    device: str = "auto"
    checkpoint_every: int = 1_000
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        Budget(self.steps, self.max_seconds)  # checks steps and max_seconds
        if not isinstance(self.init, str) or not self.init:
            raise InputError(f"init must be one of {INIT_KEYWORDS} or a file path, got {self.init!r}")
        for name in ("init_points", "sh_increase_every", "views_per_step"):
            check_count(self, name, minimum=1)
        check_count(self, "checkpoint_every", minimum=0)
        check_count(self, "sh_degree", minimum=0)
        if self.sh_degree > MAX_SH_DEGREE:
            raise InputError(f"sh_degree must be an int in 0..{MAX_SH_DEGREE}, got {self.sh_degree}")
        for name in ("lr_means", "lr_sh0", "lr_shN", "lr_opacities", "lr_scales", "lr_quats"):
            check_number(self, name)
        check_number(self, "lr_means_final_fraction", 0.0, 1.0)
        check_number(self, "ssim_weight", 0.0, 1.0, low_open=False)
        if not isinstance(self.density, DensityConfig):
            raise InputError(f"density must be a DensityConfig, got {type(self.density).__name__}")
        if self.backend not in BACKENDS:
            raise InputError(f"backend must be one of {BACKENDS}, got {self.backend!r}")

