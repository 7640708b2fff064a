"""The model alone, per crop: ONNX files timed in turn in one process, so that a busy
machine slows them alike (the ratio is what carries over).

    python scripts/time_models.py assets/models/uniskel_student.onnx \\
        assets/models/movenet_lightning.onnx

Each file gets one crop at its own input size (NCHW float 0..255, or NHWC int32 for the
published MoveNet files: Lightning 192, Thunder 256), 20 warm-up runs, then 300 runs alternating with the others, with the
engine's ONNX Runtime session options (threads not spinning between runs, so that
the sessions do not compete for the cores). Prints the median and the 10th percentile.
"""
from __future__ import annotations

import sys
import time

import numpy as np


def main(paths) -> int:
    import onnxruntime as ort

    from uniskel.engine.backends.onnx import session_options

    opts = session_options(None)
    # idle sessions' threads must not spin while another runs (they would share the cores)
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sessions = [ort.InferenceSession(p, opts, providers=["CPUExecutionProvider"])
                for p in paths]
    rng = np.random.default_rng(0)
    feeds = []
    for s in sessions:
        i = s.get_inputs()[0]
        dims = [d if isinstance(d, int) and d > 0 else 1 for d in i.shape]
        if i.type == "tensor(int32)":  # the published MoveNet files: NHWC int32
            x = rng.integers(0, 256, dims).astype(np.int32)
        else:
            x = rng.uniform(0, 255, dims).astype(np.float32)
        feeds.append({i.name: x})
    for s, f in zip(sessions, feeds):
        for _ in range(20):
            s.run(None, f)
    times = [[] for _ in sessions]
    for _ in range(300):
        for k, (s, f) in enumerate(zip(sessions, feeds)):
            t = time.perf_counter()
            s.run(None, f)
            times[k].append(time.perf_counter() - t)
    for p, t in zip(paths, times):
        print(f"{p}: median {1000 * np.median(t):.2f} ms, p10 {1000 * np.quantile(t, 0.1):.2f} ms, "
              f"{np.median(t) / np.median(times[0]):.2f}x the first")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
