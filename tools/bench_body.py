"""Benchmark: humanrecon's BodyModel forward vs smplx's on the same SMPL-format model.

Prints one JSON line: CPU forward times (median of repeats, ms) of both at batch 1 and 64,
the ratio humanrecon/smplx (target: <= 0.7 at batch 64) and the max vertex/joint
difference (identical output expected, < 1e-5 m).

The model is SMPL-sized (6890 vertices, 24 joints, 10 betas, 207 pose correctives as in
the official files) with random contents, so the benchmark runs without a licensed
download; `--model PATH` benchmarks a real SMPL file (.pkl or .npz) instead.

    python tools/bench_body.py [--model PATH] [--repeats 30] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from humanrecon.body import BodyModel  # noqa: E402
from humanrecon.body.io import load_model_arrays  # noqa: E402


def random_smpl_arrays(seed: int = 0) -> dict:
    """An SMPL-layout model with random contents (official sizes)."""
    from tests.body.model_factory import random_model_arrays

    return random_model_arrays("smpl", seed=seed)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="", help="SMPL .pkl/.npz to use instead of a random one")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import smplx
    from smplx.utils import Struct

    arrays = load_model_arrays(args.model) if args.model else random_smpl_arrays()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "SMPL_NEUTRAL.npz"
        np.savez(path, **arrays)
        ours = BodyModel.load(path)
    result = {"benchmark": "body_forward", "baseline": "smplx " + smplx.__version__ if hasattr(smplx, "__version__")
              else "smplx", "model": args.model or "random SMPL layout (6890 v, 207 posedirs)",
              "device": "cpu", "threads": args.threads, "machine": platform.machine()}
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for batch in (1, 64):
            ref = smplx.SMPL(model_path=tmp, data_struct=Struct(**arrays), batch_size=batch)
            inputs = {"betas": torch.randn(batch, 10, generator=gen),
                      "global_orient": 0.3 * torch.randn(batch, 3, generator=gen),
                      "body_pose": 0.3 * torch.randn(batch, 69, generator=gen),
                      "transl": torch.randn(batch, 3, generator=gen)}
            t_ours = time_forward(lambda: ours(**inputs), args.repeats)
            t_ref = time_forward(lambda: ref(**inputs), args.repeats)
            a, b = ours(**inputs), ref(**inputs)
            result[f"humanrecon_ms_b{batch}"] = round(t_ours, 3)
            result[f"smplx_ms_b{batch}"] = round(t_ref, 3)
            result[f"ratio_b{batch}"] = round(t_ours / t_ref, 3)
            result[f"max_vertex_diff_m_b{batch}"] = float((a.vertices - b.vertices).abs().max())
            result[f"max_joint_diff_m_b{batch}"] = float((a.joints - b.joints).abs().max())
    result["target_ratio_b64"] = 0.7
    result["meets_target"] = result["ratio_b64"] <= 0.7 and result["max_vertex_diff_m_b64"] < 1e-5
    print(json.dumps(result))


if __name__ == "__main__":
    main()
