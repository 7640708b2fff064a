"""How far a carried-over pose lies from a fresh one: the live pipeline (everyone, up to
the app's cap, holding 30 fps) over a clip; for every person shown, the student is also
run on their box on that very frame, and the two poses compared (median distance of the
points both are sure of, over the person's box height). Carried poses against that, and,
as the floor, poses inferred on their frame against the same re-run.

    python scripts/carried_pose_error.py runs/bench/street_720p.mp4
"""
from __future__ import annotations

import sys

import numpy as np


def main(source: str) -> int:
    from uniskel.engine import backends
    from uniskel.engine.runtime import crop as C
    from uniskel.engine.bench import decode_all
    from uniskel.engine.runtime.pipeline import EVERYONE, LIVE_FPS, Pipeline

    frames, fps = decode_all(source, 300)
    backend = backends.create("onnx")
    size = tuple(backend.input_size)
    pipe = Pipeline(backend, smoothing=False, max_people=EVERYONE, keep_frame=False,
                    target_fps=LIVE_FPS)
    for i in range(5):  # warm-up: the pipeline learns its cost per crop
        pipe.process(frames[i], i / fps)
    errors = {True: [], False: []}
    for _ in range(2):
        pipe.reset()
        for i, frame in enumerate(frames):
            for p in pipe.process(frame, i / fps).people:
                c, s = C.box_to_center_scale(p.box, size, 1.25)
                m = C.warp_matrix(c, s, size)
                k = backend.infer(C.crop(frame, m, size)[None])[0]
                k[:, :2] = C.apply(C.invert(m), k[:, :2])
                sure = (k[:, 2] > 0.3) & (p.keypoints[:, 2] > 0.3)
                if sure.sum() >= 4:
                    d = np.linalg.norm(k[sure, :2] - p.keypoints[sure, :2], axis=1)
                    errors[p.refreshed].append(np.median(d) / (p.box[3] - p.box[1]))
    for refreshed, label in ((False, "carried over"), (True, "inferred on their frame")):
        e = errors[refreshed]
        if e:
            print(f"{label}: median {np.median(e):.3f}, p90 {np.percentile(e, 90):.3f} of the "
                  f"box height ({len(e)} poses)")
    backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "runs/bench/street_720p.mp4"))
