"""The model card's input-size sweep: one MoveNet-family checkpoint run at several input
sizes (the network is fully convolutional: the same weights, a larger crop), each
point's accuracy on the held-out sets against its per-crop time, with MoveNet Lightning
and Thunder timed in the same run (scripts/time_models.py; the ratio is what carries
over to another machine).

    python scripts/input_sweep.py runs/student_v3/last.pt --sizes 192 224 256
    python scripts/input_sweep.py movenet_thunder --sizes 160 192 256 --out runs/sweep_thunder

Writes runs/sweep/<size>.pt (the slim weights with that input size), <size>.onnx and
runs/eval/v2_{lsp,pool,dev}_<out folder's name><size>.json, then prints one row per size: LSPET limbs
PCK@0.2, neck, head top, pooled COCO val AP, coco_val2017_dev AP, ms per crop and the
ratio to Lightning's. Models trained at another size (a width or resolution of their
own) are rows of scripts/compare_models.sh instead.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMBS = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")


def sets() -> dict:
    shared = ROOT.parent / "shared" / "data"
    return {
        "lsp": ["--format", "lsp", "--range", "7500:8000"],
        "pool": ["--format", "coco", "--annotations", "runs/pooled_val/ann.json",
                 "--images", "runs/pooled_val/images"],
        "dev": ["--format", "coco", "--annotations",
                str(shared / "coco_val2017_dev" / "person_keypoints_val2017.json"),
                "--images", str(shared / "coco_val2017_dev" / "images")],
    }


def published(arch: str) -> dict:
    """Google's published MoveNet ``arch`` widened to the 21 points (the four added
    points from their neighbours, untrained), as a checkpoint's parts."""
    import dataclasses

    from uniskel.engine.models.model import config_for, from_config
    from uniskel.training import students

    cfg = config_for(arch, person_score=0.12)
    model = from_config(cfg)
    students.published_weights(model, students.row(arch))
    return {"config": dataclasses.asdict(cfg), "state_dict": model.state_dict(),
            "meta": {"started_from": arch}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", help="a MoveNet-family .pt, or movenet_lightning / "
                    "movenet_thunder: Google's weights widened to the 21 points")
    ap.add_argument("--sizes", type=int, nargs="+", default=[192, 224, 256])
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "sweep")
    args = ap.parse_args(argv)

    from uniskel.training.checkpoint import load_checkpoint, save_checkpoint

    uniskel = [sys.executable, "-m", "uniskel"]
    args.out.mkdir(parents=True, exist_ok=True)
    (ROOT / "runs" / "eval").mkdir(parents=True, exist_ok=True)
    ck = published(args.checkpoint) if args.checkpoint.startswith("movenet_") \
        else load_checkpoint(args.checkpoint)
    if ck["config"]["arch"] not in ("movenet_lightning", "movenet_thunder"):
        raise SystemExit(f"{args.checkpoint}: not a MoveNet-family student")
    onnx = []
    for size in args.sizes:
        slim = {"config": {**ck["config"], "input_size": (size, size)},
                "state_dict": ck["state_dict"], "meta": ck.get("meta", {})}
        pt, model = args.out / f"{size}.pt", args.out / f"{size}.onnx"
        model.unlink(missing_ok=True)  # this script's own output of an earlier run
        save_checkpoint(slim, pt)
        subprocess.run(uniskel + ["export", "--checkpoint", str(pt), "--onnx", str(model)],
                       check=True, cwd=ROOT)
        for name, flags in sets().items():
            subprocess.run(uniskel + ["eval", *flags, "--backend", "onnx", "--model",
                                      str(model), "--json",
                                      f"runs/eval/v2_{name}_{args.out.name}{size}.json"],
                           check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        onnx.append(str(model))
    models = ROOT / "assets" / "models"
    timing = subprocess.run([sys.executable, str(ROOT / "scripts" / "time_models.py"),
                             str(models / "movenet_lightning.onnx"),
                             str(models / "movenet_thunder.onnx"), *onnx],
                            check=True, cwd=ROOT, capture_output=True, text=True).stdout
    print(timing)
    ms = {line.split(":")[0]: float(line.split("median ")[1].split(" ms")[0])
          for line in timing.splitlines() if "median" in line}
    light = ms[str(models / "movenet_lightning.onnx")]
    print(f"{'input':>6} {'LSP limbs':>9} {'neck':>6} {'head':>6} {'pool AP':>8} "
          f"{'dev AP':>7} {'ms/crop':>8} {'x Lightning':>11}")
    for size, model in zip(args.sizes, onnx):
        r = {k: json.loads((ROOT / f"runs/eval/v2_{k}_{args.out.name}{size}.json").read_text())
             for k in sets()}
        pk = r["lsp"]["per_keypoint"]
        limbs = [v for k, v in pk.items() if any(s in k for s in LIMBS) and v is not None]
        print(f"{size:>6} {100 * sum(limbs) / len(limbs):>9.1f} {100 * pk['neck']:>6.1f} "
              f"{100 * pk['head_top']:>6.1f} {100 * r['pool']['AP']:>8.1f} "
              f"{100 * r['dev']['AP']:>7.1f} {ms[model]:>8.2f} {ms[model] / light:>11.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
