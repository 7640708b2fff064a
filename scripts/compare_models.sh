#!/bin/bash
# The model card's comparison: the same ground-truth-box crops for every model, on
# held-out data only (LSPET 7500-7999; coco128 + coco_mini's val part, pooled), whole
# cut at mid-torso, and framed as close-ups (head and shoulders); and COCO val2017's 377
# people in ../shared/data/coco_val2017_dev (official labels and areas). Writes
# runs/eval/v2_{lsp,pool,dev,cutlsp,cutpool,nearlsp,nearpool}_TAG.json;
# python scripts/compare_table.py TAG... prints the table.
#
#   scripts/compare_models.sh student lightning thunder mediapipe
#
# EVAL_ARGS are added to every uniskel eval (EVAL_ARGS=--no-turn: no second look at
# people lying or upside down), TAG_SUFFIX to every tag (student_noturn).
set -euo pipefail
cd "$(dirname "$0")/.."
UNISKEL=${UNISKEL:-.venv/bin/uniskel}
mkdir -p runs/eval
if [ ! -f runs/pooled_val/ann.json ]; then
  python3 scripts/pool_coco_sets.py --out runs/pooled_val \
    --set ../shared/data/coco128/person_keypoints_train2017.json:../shared/data/coco128/images \
    --set ../shared/data/coco_mini/annotations/person_keypoints_train2017.json:../shared/data/coco_mini/train2017:val
fi
P="--annotations runs/pooled_val/ann.json --images runs/pooled_val/images"
DEV="--annotations ../shared/data/coco_val2017_dev/person_keypoints_val2017.json --images ../shared/data/coco_val2017_dev/images"
EVAL_ARGS=${EVAL_ARGS:-}
run() {  # TAG BACKEND-ARGS...
  tag=$1${TAG_SUFFIX:-}; shift
  set -- "$@" $EVAL_ARGS
  $UNISKEL eval --format lsp --range 7500:8000 "$@" --json runs/eval/v2_lsp_$tag.json > /dev/null
  $UNISKEL eval --format coco $P "$@" --json runs/eval/v2_pool_$tag.json > /dev/null
  $UNISKEL eval --format coco $DEV "$@" --json runs/eval/v2_dev_$tag.json > /dev/null
  $UNISKEL eval --format lsp --range 7500:8000 --cut mid-torso "$@" --json runs/eval/v2_cutlsp_$tag.json > /dev/null
  $UNISKEL eval --format coco $P --cut mid-torso "$@" --json runs/eval/v2_cutpool_$tag.json > /dev/null
  $UNISKEL eval --format lsp --range 7500:8000 --cut close-up "$@" --json runs/eval/v2_nearlsp_$tag.json > /dev/null
  $UNISKEL eval --format coco $P --cut close-up "$@" --json runs/eval/v2_nearpool_$tag.json > /dev/null
  echo "done $tag"
}
for spec in "$@"; do
  case $spec in
    student) run student --backend onnx ;;
    lightning) run lightning --backend movenet --model lightning ;;
    thunder) run thunder --backend movenet --model thunder ;;
    mediapipe) run mediapipe --backend mediapipe ;;
    *.onnx) run "$(basename "$spec" .onnx)" --backend onnx --model "$spec" ;;
    *.pt) run "$(basename "$spec" .pt)" --backend cpu --model "$spec" ;;
    *) echo "unknown model $spec (student, lightning, thunder, mediapipe, an .onnx or a .pt file)" >&2; exit 2 ;;
  esac
done
