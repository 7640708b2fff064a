"""How often the street clip's half-hidden man in the cap has a skeleton, live.

``make_bench_clip.py``'s clip plays ``mmpose_demo.mp4``'s 5 source frames back and
forth (0 1 2 3 4 3 2 1 ...). On source frames 0 and 1 a man in a white cap and a purple
shirt stands half hidden behind the girl on the right (his region below, in the clip's
1280x720 pixels); on 2 to 4 her head covers him. This feeds the clip twice (120
frames) at its own pace (5 fps) to the pipeline as the window runs it (``target_fps``)
and counts the frames of source 0 and 1 on which a shown person (not the girl: box left
edge right of x=1120) has at least 4 drawn points in his region; also the ids used and
the people shown per frame.

    python scripts/make_bench_clip.py && python scripts/man_in_the_cap.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from make_bench_clip import ping_pong

ROOT = Path(__file__).resolve().parents[1]
MAN = {0: (1160, 225, 1235, 470), 1: (1185, 222, 1258, 470)}  # source frame: his region
ORDER = ping_pong(5)  # make_bench_clip's order of mmpose_demo's 5 source frames


def main(argv: list[str]) -> int:
    from uniskel.engine import backends
    from uniskel.engine.bench import decode_all
    from uniskel.engine.runtime.pipeline import LIVE_FPS, Pipeline
    from uniskel.engine.skeleton import DRAW_THRESHOLD

    clip = argv[0] if argv else str(ROOT / "runs/bench/street_720p.mp4")
    frames, fps = decode_all(clip, 60)
    pipe = Pipeline(backends.create("onnx"), max_people=10, target_fps=LIVE_FPS)
    ids, shown, hits, total = set(), [], 0, 0
    start = time.monotonic()
    for n in range(2 * len(frames)):
        time.sleep(max(start + n / fps - time.monotonic(), 0.0))
        people = pipe.process(frames[n % len(frames)], n / fps).people
        ids |= {p.track_id for p in people}
        shown.append(len(people))
        region = MAN.get(ORDER[(n % len(frames)) % len(ORDER)])
        if region is None:
            continue
        x0, y0, x1, y1 = region
        total += 1
        hits += any(p.box[0] > 1120 and sum(
            x0 <= x <= x1 and y0 <= y <= y1
            for x, y, c in p.keypoints if c >= DRAW_THRESHOLD) >= 4 for p in people)
    pipe.close()
    print(f"man in the cap with a skeleton on {hits} of the {total} frames he shows "
          f"(source frames 0 and 1); ids used {len(ids)}; people shown per frame "
          f"{np.mean(shown):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
