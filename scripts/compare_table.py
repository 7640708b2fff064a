"""The model card's comparison table from scripts/compare_models.sh's results:

    python scripts/compare_table.py student lightning thunder mediapipe
"""
import json, sys
from pathlib import Path
E = Path(__file__).resolve().parents[1] / "runs" / "eval"
LIMBS = ["shoulder", "elbow", "wrist", "hip", "knee", "ankle"]
def get(f):
    p = E / f
    return json.loads(p.read_text()) if p.is_file() else None
print(f"{'model':<10} {'LSP limbs':>9} {'neck':>6} {'head':>6} {'head UD':>7} {'pool AP':>8} {'AP75':>6} {'dev AP':>7} | {'cut LSP':>8} {'out LSP':>8} {'cut AP':>7} {'out COCO':>8}"
      f" | {'near AP':>8} {'right':>8} {'out':>8} {'LSP right':>9} {'out':>8}")
for tag in sys.argv[1:]:
    l, p, d, cl, cp, nl, np_ = (get(f"v2_{k}_{tag}.json") for k in ("lsp", "pool", "dev", "cutlsp",
                                                                     "cutpool", "nearlsp", "nearpool"))
    row = [tag]
    if l:
        pk = l["per_keypoint"]
        limbs = [v for k, v in pk.items() if any(s in k for s in LIMBS) and v is not None]
        row += [100 * sum(limbs) / len(limbs), 100 * (pk.get("neck") or 0), 100 * (pk.get("head_top") or pk.get("head top") or 0)]
        ud = (l.get("by_orientation") or {}).get("upside down", {}).get("head_top")  # people upside down
        row += [float("nan") if ud is None else 100 * ud]
    else: row += [float("nan")] * 4
    row += [100 * p["AP"], 100 * p["AP75"]] if p else [float("nan")] * 2
    row += [100 * d["AP"]] if d else [float("nan")]
    row += [100 * cl["PCK@0.2"], 100 * cl["outside_drawn"]] if cl else [float("nan")] * 2
    row += [100 * cp["AP"], 100 * cp["outside_drawn"]] if cp else [float("nan")] * 2
    row += [100 * np_["AP"], 100 * np_["inside_drawn_right"], 100 * np_["outside_drawn"]] \
        if np_ else [float("nan")] * 3
    row += [100 * nl["inside_drawn_right"], 100 * nl["outside_drawn"]] if nl else [float("nan")] * 2
    print(f"{row[0]:<10} " + " ".join(f"{v:>8.1f}" for v in row[1:]))
