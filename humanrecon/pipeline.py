"""The Python API of reconstruction: one call from a dataset to a trained, evaluated run
folder, the same for every method; the ``humanrecon nerf|splat|dvr train`` commands call it.

::

    from humanrecon import pipeline

    run = pipeline.run("splat", "data/body_views", "runs/splat", {"steps": 2000})
    run.metrics["psnr"], run.metrics["mask_iou"]        # held-out views
    run.mesh("runs/splat/mesh.ply", resolution=128)     # the shared extractor
    run = pipeline.load("runs/splat")                   # later: the model back, in eval mode

``run(method, dataset, out_dir, config)`` = read the dataset's train split
(:func:`humanrecon.datasets.read_views`: Blender / NeRF-synthetic folders, COLMAP
captures) → train (:func:`humanrecon.trainer.fit`: checkpoints, resume) → render the
test split and compare (:func:`humanrecon.render.novel_views.evaluate_split`; one
picture per view: rendering | truth) → ``metrics.json`` → the method's own files (splats:
``scene.ply`` and ``scene.splat``). Every output is checked before any work: an existing
one is refused unless ``overwrite`` (or ``resume``) is set.

A run folder holds ``<checkpoint>`` (``model.pt`` NeRF, ``splat.pt`` splats, ``dvr.pt``
DVR), ``metrics.json``, ``<eval split>/<image>.png`` and the method's files. Implicit
shapes (``run("implicit", "body.obj", out, {"kind": "sdf"})``) are fitted to a mesh or
a point cloud instead of views: ``shape.pt``, ``metrics.json`` (the mesh against the
source), ``mesh.ply``, ``mesh.png``.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from humanrecon.errors import InputError, MissingFileError

#: the file every run folder holds
METRICS = "metrics.json"


@dataclass(frozen=True)
class Method:
    """One trainable method: its name, config class, training function and model class
    (``module:attribute`` paths, imported when used), and what it trains on (``views``:
    a dataset of posed images; ``shape``: a mesh or a point cloud file)."""

    name: str
    config: str
    train: str
    model: str
    data: str = "views"

    def load(self, what: str):
        module, attribute = getattr(self, what).split(":")
        return getattr(importlib.import_module(module), attribute)

    @property
    def checkpoint(self) -> str:
        """The checkpoint file of a run folder (``CHECKPOINT`` of the config's module)."""
        return importlib.import_module(self.config.split(":")[0]).CHECKPOINT


#: every method a run folder can hold, by name
METHODS: dict[str, Method] = {
    "nerf": Method("nerf", "humanrecon.nerf.config:NerfConfig", "humanrecon.nerf.train:train_nerf",
                   "humanrecon.nerf.model:NerfModel"),
    "splat": Method("splat", "humanrecon.splat.config:SplatConfig", "humanrecon.splat.train:train_splats",
                    "humanrecon.splat.model:SplatModel"),
    "dvr": Method("dvr", "humanrecon.dvr.config:DVRConfig", "humanrecon.dvr.train:train_dvr",
                  "humanrecon.dvr.model:DVRModel"),
    "implicit": Method("implicit", "humanrecon.implicit.config:ShapeConfig", "humanrecon.implicit.train:fit_shape",
                       "humanrecon.implicit.train:ImplicitShape", data="shape"),
}


def method(name: str) -> Method:
    """The :class:`Method` called ``name`` (``InputError`` listing the known ones)."""
    if name not in METHODS:
        raise InputError(f"unknown method {name!r}: choose one of {', '.join(METHODS)}")
    return METHODS[name]


def make_config(name: str, config=None):
    """``config`` as the method's config dataclass: None (the defaults), a dict of its
    fields (unknown keys are an ``InputError`` naming them), or an instance already."""
    config_class = method(name).load("config")
    if config is None:
        return config_class()
    if isinstance(config, config_class):
        return config
    if isinstance(config, dict):
        known = {f.name for f in dataclasses.fields(config_class)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise InputError(f"{name} config: unknown settings {unknown} (known: {sorted(known)})")
        return config_class(**config)
    raise InputError(f"{name} config must be a {config_class.__name__}, a dict or None, got {type(config).__name__}")


@dataclass
class Run:
    """A trained run: the ``model`` (eval mode), its ``out_dir``, ``metrics`` (what
    ``metrics.json`` holds) and, straight after training, the ``history`` of this call."""

    method: str
    out_dir: Path
    model: object
    metrics: dict = field(default_factory=dict)
    history: object = None

    def render(self, camera, background: float = 1.0) -> dict:
        """One view: ``{"rgb": (H, W, 3), "opacity": (H, W), ...}`` of a one-camera
        :class:`~humanrecon.geometry.Camera` (OpenCV convention, metres)."""
        if not hasattr(self.model, "render_image"):
            raise InputError(f"{self.method} runs have no colour to render (mesh them instead)")
        return self.model.render_image(camera, background)

    def mesh(self, path: str | Path | None = None, resolution: int = 256, *, overwrite: bool = False,
             progress: bool = False, **options):
        """A mesh of the model by the shared hierarchical extractor (NeRF: an iso-surface
        of the density; DVR, implicit: the zero level set; splats: not available), written to
        ``path`` when given. Returns the :class:`~humanrecon.geometry.meshing.ExtractionResult`
        (``.mesh``: a trimesh in world metres)."""
        if not hasattr(self.model, "extract_mesh"):
            raise InputError(f"{self.method} runs have no mesh extraction (use nerf or dvr for a mesh)")
        if path is not None:
            from humanrecon.io.files import check_outputs
            from humanrecon.io.meshes import check_mesh_path

            check_outputs([check_mesh_path(path, "mesh path")], overwrite)
        result = self.model.extract_mesh(resolution, progress=progress, **options)
        if path is not None:
            result.save(path)
        return result


def run(method_name: str, dataset: str | Path, out_dir: str | Path, config=None, *, resume: bool = False,
        overwrite: bool = False, evaluate: bool = True, eval_split: str = "test", downscale: int = 1,
        progress: bool | None = None, hooks=(), masks: str = "auto") -> Run:
    """Train ``method_name`` (``"nerf"``, ``"splat"``, ``"dvr"``) on ``dataset``'s train
    split, evaluate on its ``eval_split`` and write the run folder ``out_dir`` (module
    docstring). ``"implicit"`` fits one shape to ``dataset`` = a mesh or a point cloud
    file (:func:`run_shape`).

    Args:
        config: the method's config (dataclass, dict of its fields, or None: defaults).
        resume: continue the run in ``out_dir`` exactly (its checkpoint must exist).
        overwrite: replace an earlier run's files (else they are refused before any work).
        evaluate: render and score the ``eval_split`` (skipped when False).
        downscale: train and evaluate on images downscaled by this integer factor.
        masks: for captures with object masks (DTU's ``mask/``, nerfstudio's ``mask_path``):
            ``"object"`` trains on the object alone (the masks become opacity, as on renders
            with alpha), ``"photo"`` on the whole photos (masked metrics are reported too),
            ``"auto"``: ``"object"`` for DVR (its surface comes from the masks), ``"photo"``
            otherwise. Captures without masks always train on what the images hold.
        progress: show progress bars (None: the config's setting).
        hooks: extra per-step :class:`~humanrecon.training.TrainingHook` s.
    Returns:
        the :class:`Run`, ``metrics`` as written to ``metrics.json``.
    """
    from humanrecon.datasets import read_views
    from humanrecon.io.files import check_outputs, write_json

    spec = method(method_name)
    config = make_config(method_name, config)
    if progress is not None:
        config = dataclasses.replace(config, progress=progress)
    if not isinstance(downscale, int) or downscale < 1:
        raise InputError(f"downscale must be an integer >= 1, got {downscale!r}")
    out = Path(out_dir)
    checkpoint = out / spec.checkpoint
    if resume and overwrite:
        raise InputError("resume continues the run in out_dir and overwrite starts it over: give one")
    if resume and not checkpoint.is_file():
        raise InputError(f"resume: no run to resume, {checkpoint} does not exist")
    if spec.data == "shape":
        return run_shape(Path(dataset), out, config, resume=resume, overwrite=overwrite, evaluate=evaluate,
                         hooks=hooks)
    if masks not in MASK_MODES:
        raise InputError(f"masks must be one of {MASK_MODES}, got {masks!r}")
    train_split = read_views(dataset, "train", downscale=downscale)
    test_split = read_views(dataset, eval_split, downscale=downscale) if evaluate else None
    on_object = _trains_on_masks(method_name, masks, train_split)
    if on_object:
        train_split = train_split.on_masks()
        test_split = None if test_split is None else test_split.on_masks()
    renders = [] if test_split is None else [out / eval_split / f"{Path(n).stem}.png" for n in test_split.names]
    files = [out / name for name in _method_files(method_name)]
    check_outputs(([] if resume else [checkpoint]) + [out / METRICS] + files + renders, overwrite or resume)
    options = {"dataset": str(Path(dataset).resolve())} if method_name == "dvr" else {}
    model, history = spec.load("train")(train_split, out, config, resume=resume, hooks=hooks, **options)
    summary = {"method": method_name, "dataset": str(Path(dataset).resolve()), "format": train_split.format,
               "images": "object (the capture's masks as opacity)" if on_object else "whole images",
               **_training_summary(history)}
    if test_split is not None:
        from humanrecon.render.novel_views import evaluate_split

        metrics = evaluate_split(model, test_split, out / eval_split, progress=config.progress)
        summary |= {"split": eval_split, "split_rule": test_split.split_rule, "train_views": len(train_split),
                    **_rounded(metrics)}
    summary |= _write_method_files(method_name, model, out)
    write_json(out / METRICS, summary)
    return Run(method_name, out, model, summary, history)


def run_shape(source: Path, out: Path, config, *, resume: bool = False, overwrite: bool = False,
              evaluate: bool = True, hooks=()) -> Run:
    """``run("implicit", source, out, config)``: fit an occupancy network / DeepSDF to the
    mesh ``source`` (or IGR to a point cloud) and write ``shape.pt``, ``metrics.json``
    (the extracted mesh against the source: :func:`humanrecon.implicit.evaluate.evaluate_shape`),
    ``mesh.ply`` and ``mesh.png`` (front and side views) into ``out``."""
    from humanrecon.implicit.data import read_shape_data
    from humanrecon.implicit.evaluate import evaluate_shape, source_mesh_of
    from humanrecon.implicit.train import fit_shape
    from humanrecon.io.files import check_outputs, write_json

    spec = METHODS["implicit"]
    evaluate = evaluate and config.eval_resolution > 0
    pictures = [out / "mesh.ply", out / "mesh.png"] if evaluate else []
    check_outputs(([] if resume else [out / spec.checkpoint]) + [out / METRICS] + pictures, overwrite or resume)
    data = read_shape_data(source, config)
    model, history = fit_shape(data, config, out, resume=resume, hooks=hooks)
    summary = {"method": "implicit", "kind": data.kind, "dataset": str(source.resolve()), **_training_summary(history)}
    if evaluate:
        from humanrecon.render import overview_image, save_image

        scores, result = evaluate_shape(model, data, config.eval_resolution, source_mesh=source_mesh_of(source),
                                        points=config.eval_points, progress=config.progress)
        summary |= scores
        if len(result.mesh.faces):
            result.save(out / "mesh.ply")
            save_image(out / "mesh.png", overview_image(result.mesh.vertices, result.mesh.faces,
                                                        views=("front", "left")))
    write_json(out / METRICS, summary)
    return Run("implicit", out, model, summary, history)


def load(out_dir: str | Path, device: str = "auto", method_name: str | None = None) -> Run:
    """The run in ``out_dir`` (written by :func:`run` or ``humanrecon <method> train``; or
    that run's checkpoint file):
    its model on ``device`` (``auto``: CUDA when present) in eval mode and its metrics
    (with the ``dataset`` it was trained on, from ``metrics.json`` or the checkpoint).
    ``method_name``: expect that method's run (``MissingFileError`` naming its checkpoint)."""
    from humanrecon.devices import resolve_device

    out = Path(out_dir)
    candidates = [method(method_name)] if method_name else list(METHODS.values())
    if out.is_file() or (out.suffix == ".pt" and not out.is_dir()):  # a checkpoint file: its method's
        found = [m for m in candidates if method_name or m.checkpoint == out.name]
        checkpoint, out = out, out.parent
    else:
        found = [m for m in candidates if (out / m.checkpoint).is_file()]
        checkpoint = out / found[0].checkpoint if found else None
    if not found:
        names = ", ".join(str(out / m.checkpoint) for m in candidates)
        raise MissingFileError(f"{out_dir}: not a run folder ({names} not found)")
    spec = found[0]
    model, saved = spec.load("model").restore(checkpoint, map_location=resolve_device(device))
    metrics = json.loads((out / METRICS).read_text()) if (out / METRICS).is_file() else {}
    if not metrics.get("dataset") and saved.get("dataset"):
        metrics["dataset"] = saved["dataset"]
    return Run(spec.name, out, model.eval(), metrics)


def _method_files(name: str) -> list[str]:
    return ["scene.ply", "scene.splat"] if name == "splat" else []


def _write_method_files(name: str, model, out: Path) -> dict:
    """A method's own outputs (splats: the scene as ``.ply`` and ``.splat``); returns the
    entries they add to the metrics."""
    if name != "splat":
        return {}
    from humanrecon.splat.files import save_gaussians

    gaussians = model.to_gaussians()
    save_gaussians(out / "scene.ply", gaussians, overwrite=True)
    save_gaussians(out / "scene.splat", gaussians, overwrite=True)
    return {"gaussians": model.num_gaussians}


def _training_summary(history) -> dict:
    return {"steps": history.steps, "train_seconds": round(history.seconds, 1),
            "steps_per_second": round(history.steps / max(history.seconds, 1e-9), 2),
            "final_loss": history.losses[-1] if history.losses else None}


#: how a capture's object masks are used (:func:`run`'s ``masks``)
MASK_MODES = ("auto", "object", "photo")


def _trains_on_masks(method_name: str, masks: str, split) -> bool:
    if split.masks is None:
        if masks == "object":
            raise InputError(f"masks='object': the capture in '{split.root}' has no object masks")
        return False
    return masks == "object" or (masks == "auto" and method_name == "dvr")


def _rounded(metrics: dict) -> dict:
    """The evaluation's means for ``metrics.json`` (per-image lists left out)."""
    digits = {"psnr": 3, "psnr_foreground": 3, "psnr_masked": 3, "ssim": 4, "ssim_masked": 4, "mask_iou": 4,
              "foreground_fraction": 4}
    out = {}
    for key, places in digits.items():
        value = metrics.get(key)
        out[key] = None if value is None else (value if value == float("inf") else round(value, places))
    out["views"] = metrics.get("views")
    return out
