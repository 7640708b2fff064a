"""``uniskel quality``: fit a model's quality estimate (its expected OKS from its own
keypoint confidences) on training people; ``uniskel export --quality`` writes it into the
model (how it is fitted: uniskel.training.quality)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from uniskel.commands import options


def add_arguments(p: argparse.ArgumentParser) -> None:
    from uniskel.engine.assets import shared_data

    data = shared_data()
    options.backend(p, model_help="checkpoint (.pt) or ONNX (default: the shipped student); "
                                  "--backend mediapipe fits BlazePose's own confidences, "
                                  "for comparison")
    p.add_argument("--out", type=Path, required=True, help="JSON to write")
    p.add_argument("--lsp-joints", type=Path, default=data / "lspet" / "joints.mat")
    p.add_argument("--lsp-images", type=Path, default=data / "lspet" / "images")
    p.add_argument("--lsp-range", default="0:7500", help="LSPET entries to draw from (0:7500)")
    p.add_argument("--lsp-people", type=int, default=3000, help="LSPET people drawn (3000)")
    p.add_argument("--coco-annotations", type=Path,
                   default=data / "coco_mini" / "annotations" / "person_keypoints_train2017.json")
    p.add_argument("--coco-images", type=Path, default=data / "coco_mini" / "train2017")
    p.add_argument("--coco-repeats", type=int, default=10,
                   help="jittered crops per coco_mini train person (10)")
    p.add_argument("--drawn-below-cut", type=_share_or_off, default=0.05, metavar="SHARE",
                   help="also fit the model's point power: the share of the labelled points "
                        "below a mid-torso cut of these training people that reach the draw "
                        "threshold (default 0.05, as the student v2 draws; 'off': keep the "
                        "model's confidences)")
    p.add_argument("--seed", type=int, default=0)


def _share_or_off(text: str):
    if text.strip().lower() == "off":
        return None
    try:
        v = float(text)
    except ValueError:
        v = float("nan")
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"expected a share between 0 and 1 or 'off', got {text!r}")
    return v


def run(args) -> int:
    import numpy as np

    from uniskel.engine.backends import create
    from uniskel.engine.errors import UniskelError
    from uniskel.training.datasets import read
    from uniskel.training.quality import fit_quality

    from uniskel.engine.media import safefiles

    try:
        a0, a1 = (int(v) for v in args.lsp_range.split(":"))
    except ValueError:
        raise UniskelError(f"--lsp-range: expected START:STOP, got {args.lsp_range!r}") from None
    safefiles.check_output(args.out, "quality fit", {  # before the fit, not after it
        "LSP joints": args.lsp_joints, "COCO annotations": args.coco_annotations,
        "model": args.model})
    rng = np.random.default_rng(args.seed)
    backend = create(args.backend, args.model)
    try:
        lsp = read("lsp", args.lsp_joints, args.lsp_images, index_range=(a0, a1))
        lsp = [lsp[i] for i in sorted(rng.choice(len(lsp), min(args.lsp_people, len(lsp)),
                                                 replace=False))]
        coco = read("coco", args.coco_annotations, args.coco_images, split="train")
        result = fit_quality(backend, lsp, coco, rng, args.coco_repeats, args.seed,
                             args.drawn_below_cut)
    except ValueError as e:
        raise UniskelError(str(e)) from None
    finally:
        backend.close()
    result["model"] = result["model"] or str(args.model)
    safefiles.write_text(args.out, json.dumps(result, indent=2), "quality fit")
    s = result["fit"]
    print(f"fitted on {s['crops']} crops (mean OKS {s['mean_oks']:.3f}); rank correlation "
          f"with OKS: estimate {s['spearman_estimate']:.3f}, mean-confidence rule "
          f"{s['spearman_mean_confidence']:.3f}; written to {args.out}")
    if s.get("hidden_points"):
        print(f"point power {result['point_power']:.3f}: of {s['hidden_points']} labelled points "
              f"below a mid-torso cut, {100 * s['drawn_before']:.1f}% reached the draw "
              f"threshold, {100 * s['drawn_after']:.1f}% now")
    return 0
