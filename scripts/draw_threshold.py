"""What a draw threshold shows: for one model, on the held-out people of the model card
(LSPET 7500-7999; coco128 + coco_mini val pooled by scripts/compare_models.sh), at
several thresholds, the share of labelled points drawn where they are (right: their own
term of OKS at least 0.5) and drawn elsewhere (wrong), whole and framed as close-ups,
the share of points below a mid-torso cut drawn anyway (outside), and of pelvises below
the cut (where both hips are labelled), as the model gives them and as the pipeline
hands them out (no surer than the surer hip: ``skeleton.cap_derived``).

    python scripts/draw_threshold.py [MODEL.onnx | lightning | thunder] [--thresholds 0.1 0.15 0.2]
"""
from __future__ import annotations

import argparse

import numpy as np


def shares(preds, kept, provided, cut: bool, t: float):
    """-> (right, wrong, outside) in % of the labelled points (in the picture; below it)."""
    from uniskel.engine import skeleton as sk
    from uniskel.training.datasets import stack_keypoints
    from uniskel.training.evaluate import instance_areas

    gt, mask = stack_keypoints(kept)
    inside = np.ones_like(mask)
    if cut:
        inside = gt[..., 1] < np.array([i.meta["cut_y"] for i in kept])[:, None]
    vis, hid = mask & inside & provided, mask & ~inside & provided
    good = sk.keypoint_similarity(preds, gt, instance_areas(kept)) >= 0.5
    drawn = preds[..., 2] >= t
    pct = lambda a, b: 100 * a.sum() / max(b.sum(), 1)  # noqa: E731
    return pct(good & drawn & vis, vis), pct(~good & drawn & vis, vis), pct(drawn & hid, hid)


def pelvis_outside(preds, kept, t: float) -> tuple[float, float]:
    """% of the pelvises below the cut drawn: the model's own confidence, and capped."""
    from uniskel.engine import skeleton as sk
    from uniskel.training.datasets import stack_keypoints

    gt, mask = stack_keypoints(kept)
    hips = [sk.INDEX["left_hip"], sk.INDEX["right_hip"]]
    below = mask[:, hips].all(1) & (gt[:, hips, 1].mean(1)
                                    >= np.array([i.meta["cut_y"] for i in kept]))
    capped = sk.cap_derived(preds.copy())
    p = sk.INDEX["pelvis"]
    return (100 * (preds[below, p, 2] >= t).mean(), 100 * (capped[below, p, 2] >= t).mean())


def main() -> int:
    from uniskel.engine import assets
    from uniskel.engine.backends import create
    from uniskel.training import datasets as D
    from uniskel.training import evaluate as E
    from uniskel.training import cuts

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", nargs="?", default=None)
    ap.add_argument("--thresholds", type=float, nargs="+", default=[0.1, 0.15, 0.2])
    a = ap.parse_args()
    be = create("movenet", a.model) if a.model in ("lightning", "thunder") \
        else create("onnx", a.model)
    provided = np.asarray(getattr(be, "provided", np.ones(21, bool)), bool)
    lsp = assets.shared_data() / "lspet"
    people = {"COCO": D.read("coco", "runs/pooled_val/ann.json", "runs/pooled_val/images"),
              "LSPET": D.read_lsp(lsp / "joints.mat", lsp / "images", index_range=(7500, 8000))}
    rows = {t: [] for t in a.thresholds}
    for name, insts in people.items():
        for framing, cut in (("whole", None), ("mid-torso", "mid-torso"),
                             ("close-up", "close-up")):
            chosen = cuts.CUTS[cut](insts) if cut else insts
            preds, kept = E.predict(be.infer, chosen, be.input_size)
            for t in a.thresholds:
                right, wrong, outside = shares(preds, kept, provided, cut is not None, t)
                line = f"{name} {framing}: right {right:.1f} wrong {wrong:.1f}"
                if cut:
                    raw, capped = pelvis_outside(preds, kept, t)
                    line += (f" outside {outside:.1f}; pelvis below the cut drawn {raw:.1f},"
                             f" capped {capped:.1f}")
                rows[t].append(line)
    for t, row in rows.items():
        print(f"threshold {t:g}")
        for r in row:
            print(f"  {r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
