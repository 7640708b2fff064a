"""The paper's experiment at the scale of the data at hand, as one command.

    uniskel train experiment --epochs 2 --out runs/experiment
        [--config training/configs/student.toml]   # the variants' shared settings
    uniskel train experiment --use lsp_only=runs/teacher_lsp/last.pt \\
        --use joint=assets/models/uniskel_student.pt --train coco_only

Trains single-dataset students (LSPET only; COCO only) and the jointly distilled student,
evaluates each on both skeletons, and prints the table (rows: model; columns: each
evaluation set and the average) to the terminal, as Markdown and as JSON.
Evaluation sets, none of them trained on:
  lspet_val  LSPET images 7500-7999, PCK@0.2 over the 14 LSP joints (LSP skeleton)
  coco_val   COCO val2017 format samples, OKS AP over the 17 COCO points (COCO skeleton)
  coco_mini_val  coco_mini's held-out images (id % 4 == 1, 26 people), AP over the 17
             COCO points (the variants train on its "train" part only)
  aic        AI Challenger samples, AP over its 14 points incl. head top and neck
  crowdpose  CrowdPose samples, AP over its 14 points incl. head top and neck
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from uniskel.engine.errors import UniskelError

log = logging.getLogger("uniskel.experiment")


def eval_sets():
    from uniskel.engine.assets import shared_data
    d = shared_data()
    fs = d / "format_samples"
    mini = d / "coco_mini"
    # name: (format, annotations, images, what else datasets.read is told)
    return {
        "lspet_val": ("lsp", d / "lspet" / "joints.mat", d / "lspet" / "images",
                      {"index_range": (7500, 8000)}),
        "coco_val": ("coco", fs / "coco" / "test_coco.json", fs / "coco", {}),
        "coco_mini_val": ("coco", mini / "annotations" / "person_keypoints_train2017.json",
                          mini / "train2017", {"split": "val"}),
        "aic": ("aic", fs / "aic" / "test_aic.json", fs / "aic", {}),
        "crowdpose": ("crowdpose", fs / "crowdpose" / "test_crowdpose.json", fs / "crowdpose",
                      {}),
    }


def evaluate_model(path_or_backend: str, sets=None) -> dict:
    """{set name: result dict} for a checkpoint path, or 'mediapipe' for BlazePose."""
    from uniskel.engine import backends
    from uniskel.training import datasets
    from uniskel.training.evaluate import evaluate, provided_points

    name = "mediapipe" if path_or_backend == "mediapipe" else "cpu"
    backend = backends.create(name, None if name == "mediapipe" else Path(path_or_backend))
    provided = provided_points(backend, name)
    out = {}
    for key, (fmt, ann, images, kw) in (sets or eval_sets()).items():
        insts = datasets.read(fmt, ann, images, on_error="skip", **kw)
        out[key] = evaluate(backend.infer, insts, fmt, backend.input_size, provided=provided)
    return out


def variant_config(name: str, out: Path, epochs: int, lsp_teacher: Path | None, base=None):
    """One variant's TrainConfig: ``base``'s model, optimiser, loss and augmentation
    settings (e.g. the shipped student's); datasets, teachers and start are the variant's."""
    import copy

    from uniskel.training.config import PRESETS, TeacherSpec, TrainConfig
    cfg = copy.deepcopy(base) if base is not None else TrainConfig()
    cfg.out, cfg.epochs, cfg.checkpoint_every = str(out / name), epochs, 0
    cfg.mode, cfg.teachers, cfg.samples_per_epoch = "student", [], 0
    from uniskel.training.students import STUDENTS
    if not (cfg.init_from in ("blazepose", cfg.arch) or cfg.init_from.endswith(".tflite")):
        # a checkpoint warm start (the shipped student starts from an earlier one) would
        # give one variant a head start: every variant starts from the same published
        # weights, BlazePose's for blaze_* students, Google's MoveNet for the MoveNet family
        cfg.init_from = ("blazepose" if cfg.arch.startswith("blaze")
                         else cfg.arch if STUDENTS[cfg.arch].published else "")
    if name == "lsp_only":
        cfg.mode, cfg.datasets = "teacher", [PRESETS["lspet"]()]
    elif name == "coco_only":
        cfg.mode, cfg.datasets = "teacher", [PRESETS["coco_mini"]()]
        cfg.samples_per_epoch = 2048
    elif name == "joint":
        if lsp_teacher is None:
            raise UniskelError("experiment: the joint student needs the LSP teacher "
                               "(train lsp_only first or --use lsp_only=PATH)")
        lsp, coco = PRESETS["lspet"](), PRESETS["coco_mini"]()
        lsp.weight, coco.weight = 0.9, 0.1
        cfg.datasets = [lsp, coco]
        cfg.teachers = [TeacherSpec("model", str(lsp_teacher), "lsp", "mpii"),
                        TeacherSpec("blazepose", role="coco")]
        cfg.loss.teacher_where_gt, cfg.loss.decay = False, "none"
    else:
        raise UniskelError(f"experiment: unknown variant {name!r}")
    return cfg


def _train_variant(name: str, out: Path, epochs: int, lsp_teacher: Path | None,
                   base=None):
    from uniskel.training.train import train
    cfg = variant_config(name, out, epochs, lsp_teacher, base)
    return train(cfg, overwrite=True)  # --train NAME asks for it again (--use NAME=... keeps one)


def run_experiment(out: Path, epochs: int, use: dict[str, str], to_train: list[str],
                   baseline: bool = True, base=None) -> tuple[str, dict]:
    from uniskel.training.metrics import paper_table

    models = dict(use)
    for name in ("lsp_only", "coco_only", "joint"):
        if name in to_train:
            teacher = Path(models["lsp_only"]) if "lsp_only" in models else None
            models[name] = str(_train_variant(name, out, epochs, teacher, base))
    if not models:
        raise UniskelError("experiment: nothing to evaluate (use --train and/or --use)")
    if baseline:
        models["BlazePose (mediapipe)"] = "mediapipe"
    results = {}
    for name, path in models.items():
        log.info("evaluating %s (%s)", name, path)
        results[name] = evaluate_model(path)
    md, table = paper_table(results, list(eval_sets()))
    out.mkdir(parents=True, exist_ok=True)
    (out / "table.md").write_text(md + "\n")
    from uniskel.training.evaluate import jsonable
    (out / "results.json").write_text(json.dumps(
        jsonable({"models": models, "table": table, "results": results}), indent=2))
    return md, table
