"""Benchmark: humanrecon's BodyModel forward vs smplx's on the same SMPL-format models.

Prints one JSON line. For each model: CPU forward time (median of repeats, ms) of
humanrecon and smplx at batch 1 and 64, the ratio humanrecon/smplx (target: <= 0.7 at
batch 64) and the max vertex and joint difference (identical output expected, < 1e-5 m).

Models:
  * ``open``: the shipped open body (13,348 vertices, no pose correctives). smplx needs a
    ``posedirs`` array, so it gets zeros (V, 3, 207), as when the file is converted for
    smplx; humanrecon knows the correctives are zero and skips them.
  * ``open_shipped``: the open body as users get it, ``BodyModel.load("open")`` with its
    COCO surface regressor: each humanrecon call is the forward pass (whose ``joints``
    include the regressor's 11 face/feet points) plus the 17 COCO keypoints of
    ``keypoint_map(model, "coco17")``; each smplx call is its forward pass plus the same
    ``(17, V)`` vertex regressor applied to its vertices. Also reports the max keypoint
    difference.
  * ``smpl_layout``: official SMPL sizes (6,890 vertices, 10 betas, dense random
    207-column pose correctives), random contents
    (``humanrecon.body.random_models``), so no licensed download is needed.
  * ``--model PATH`` adds a real SMPL file (.pkl or .npz).

The smplx version in the output is the installed package's.

    python tools/bench_body.py [--model PATH] [--repeats 30] [--threads 2]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from humanrecon._assets import asset_path
from humanrecon.body import BodyModel, keypoint_map, load_model_arrays
from humanrecon.body.random_models import random_model_arrays


def time_forward(fn, repeats: int) -> float:
    """Median wall time of ``fn()`` in milliseconds after 3 warm-up calls."""
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


def bench_model(arrays: dict, repeats: int, shipped: str = "", batches: tuple[int, ...] = (1, 64)) -> dict:
    """Time both implementations on one model (arrays in SMPL layout).

    With ``shipped`` (a built-in model name), humanrecon's side is ``BodyModel.load(shipped)``
    as users get it, and both sides also compute the COCO-17 keypoints (humanrecon through
    ``keypoint_map``, smplx by the same vertex regressor on its vertices)."""
    import smplx
    from smplx.utils import Struct

    smplx_arrays = dict(arrays)
    if "posedirs" not in smplx_arrays:
        num_v = arrays["v_template"].shape[0]
        smplx_arrays["posedirs"] = np.zeros((num_v, 3, 207), dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.npz"
        np.savez(path, **arrays)
        ours = BodyModel.load(shipped or path)
        result = {"vertices": int(arrays["v_template"].shape[0]),
                  "pose_correctives": ours.posedirs is not None}
        kmap = keypoint_map(ours, "coco17") if shipped else None
        if kmap is not None:
            if kmap.vertex_weights is None or kmap.joint_weights.abs().sum() > 0:
                raise SystemExit(f"{shipped}: COCO keypoints do not all come from a surface regressor")
            result.update(keypoints="coco17", output_joints=len(ours.joint_names))
            coco_w = kmap.vertex_weights

        def run_ours(inputs):
            out = ours(**inputs)
            return out, (kmap(out) if kmap is not None else None)

        def run_ref(ref, inputs):
            out = ref(**inputs)
            return out, (torch.einsum("kv,bvc->bkc", coco_w, out.vertices) if kmap is not None else None)

        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for batch in batches:
                with contextlib.redirect_stdout(sys.stderr):  # smplx prints warnings: keep stdout one JSON line
                    ref = smplx.SMPL(model_path=tmp, data_struct=Struct(**smplx_arrays), batch_size=batch, num_betas=10)
                inputs = {"betas": torch.randn(batch, 10, generator=gen),
                          "global_orient": 0.3 * torch.randn(batch, 3, generator=gen),
                          "body_pose": 0.3 * torch.randn(batch, 69, generator=gen),
                          "transl": torch.randn(batch, 3, generator=gen)}
                t_ours = time_forward(lambda: run_ours(inputs), repeats)
                t_ref = time_forward(lambda: run_ref(ref, inputs), repeats)
                (a, ka), (b, kb) = run_ours(inputs), run_ref(ref, inputs)
                result[f"humanrecon_ms_b{batch}"] = round(t_ours, 3)
                result[f"smplx_ms_b{batch}"] = round(t_ref, 3)
                result[f"ratio_b{batch}"] = round(t_ours / t_ref, 3)
                result[f"max_vertex_diff_m_b{batch}"] = float((a.vertices - b.vertices).abs().max())
                result[f"max_joint_diff_m_b{batch}"] = float((a.joints[:, :24] - b.joints[:, :24]).abs().max())
                if kmap is not None:
                    result[f"max_keypoint_diff_m_b{batch}"] = float((ka - kb).abs().max())
    last = batches[-1]
    result["meets_target"] = bool(result[f"ratio_b{last}"] <= 0.7 and result[f"max_vertex_diff_m_b{last}"] < 1e-5)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="", help="also benchmark this SMPL .pkl/.npz")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    open_arrays = load_model_arrays(asset_path("models/open_body.npz"))
    models = {"open": (open_arrays, ""), "open_shipped": (open_arrays, "open"),
              "smpl_layout": (random_model_arrays("smpl", seed=0), "")}
    if args.model:
        models[Path(args.model).name] = (load_model_arrays(args.model), "")
    keep = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")
    result = {"benchmark": "body_forward", "baseline": f"smplx {importlib.metadata.version('smplx')}",
              "device": "cpu", "threads": args.threads, "machine": platform.machine(),
              "target_ratio_b64": 0.7}
    for name, (arrays, shipped) in models.items():
        result[name] = bench_model({k: v for k, v in arrays.items() if k in keep}, args.repeats, shipped)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
