"""``uniskel train teacher|student|movenet|experiment``: the command line of training
(``movenet`` is ``student`` with training/configs/student_v3.toml unless --config).

The work is in training/: training/train.py runs one training, training/experiment.py the
paper's comparison table. Under torchrun (``torchrun --nproc_per_node 8 -m uniskel train
student --config ...``) each process runs its share (training/distributed.py);
``uniskel train loader`` measures the data loader's samples per second.
"""
from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from uniskel.commands import options
from uniskel.engine.errors import UniskelError
from uniskel.training.config import PRESETS, TeacherSpec, TrainConfig, load_config, validate
from uniskel.training.students import STUDENTS


def _configs_folder() -> Path:
    import uniskel.training
    return Path(uniskel.training.__file__).parent / "configs"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="what", metavar="WHAT", required=True)
    for what, text in (("teacher", "train a model on one dataset's skeleton"),
                       ("student", "distil the 21-keypoint student from teachers and data"),
                       ("movenet", "the MoveNet-family student: 'student' with the config "
                                   "training/configs/student_v3.toml unless --config")):
        q = sub.add_parser(what, help=text, description=text)
        q.add_argument("--config", help="TOML config (copy one from training/configs/)")
        if what == "teacher":
            q.add_argument("--dataset", help=f"dataset preset ({', '.join(PRESETS)})")
        else:
            q.add_argument("--datasets", help="comma-separated dataset presets")
            q.add_argument("--teachers",
                           help="comma-separated: checkpoint paths (LSP/MPII-skeleton model "
                                "teachers) and/or 'blazepose'")
        q.add_argument("--out", help="run folder (checkpoints, TensorBoard logs)")
        q.add_argument("--epochs", type=int)
        q.add_argument("--arch", choices=list(STUDENTS),
                       help="the student network (training/students.py)")
        q.add_argument("--batch-size", type=int)
        q.add_argument("--device", choices=["auto", "cpu", "cuda"])
        q.add_argument("--seed", type=int)
        q.add_argument("--workers", type=int, help="data loader processes")
        q.add_argument("--init-from", help="warm start: a checkpoint's matching weights, or "
                       "(blaze_* archs) 'blazepose' or a BlazePose landmark .tflite, or "
                       "(movenet_* archs) the arch's name: Google's published weights")
        q.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
        q.add_argument("--overwrite", action="store_true",
                       help="start afresh in a run folder that already holds a last.pt "
                            "(replaced at the first checkpoint); without it, or --resume, "
                            "such a folder is refused")
        q.add_argument("--max-steps", type=options.whole_at_least(1),
                       help="stop after N steps (quick checks)")
    q = sub.add_parser("loader", help="measure the data loader: samples per second",
                       description="Decode, crop and augment a config's datasets with N "
                                   "worker processes and print samples per second.")
    q.add_argument("--config", help="TOML config (its datasets, input size, augmentation)")
    q.add_argument("--datasets", help="comma-separated dataset presets instead")
    q.add_argument("--workers", type=int, default=1, help="data loader processes (1)")
    q.add_argument("--batch-size", type=int)
    q.add_argument("--batches", type=int, default=20, help="batches timed (20)")
    q = sub.add_parser("experiment", help="the paper's table: single-dataset vs joint students",
                       description="Train LSPET-only, COCO-only and jointly distilled students "
                                   "and evaluate each on both skeletons (training/experiment.py).")
    q.add_argument("--out", type=Path, default=Path("runs/experiment"))
    q.add_argument("--epochs", type=int, default=2, help="epochs per trained variant (2)")
    q.add_argument("--train", default="lsp_only,coco_only,joint",
                   help="variants to train (comma-separated; default all three)")
    q.add_argument("--use", action="append", default=[], metavar="NAME=CHECKPOINT",
                   help="evaluate an existing checkpoint as variant NAME instead of training it")
    q.add_argument("--no-baseline", action="store_true", help="leave BlazePose out of the table")
    q.add_argument("--config", type=Path, default=_configs_folder() / "student.toml",
                   help="the settings every variant shares (model, optimiser, loss, "
                        "augmentation); default: the shipped student's config")


def config_from_args(args) -> TrainConfig:
    if args.what == "movenet":  # an alias: the student, by default with the v3 config
        args.what = "student"
        args.config = args.config or str(_configs_folder() / "student_v3.toml")
    cfg = load_config(args.config) if args.config else TrainConfig()
    if args.what != "loader":
        cfg.mode = args.what
    names = []
    if args.what == "teacher" and args.dataset:
        names = [args.dataset]
    elif args.what in ("student", "loader") and args.datasets:
        names = [n for n in args.datasets.split(",") if n]
    if names:
        unknown = [n for n in names if n not in PRESETS]
        if unknown:
            raise UniskelError(f"unknown dataset preset(s) {', '.join(unknown)}; presets: "
                               f"{', '.join(PRESETS)}; other data goes in a config file")
        cfg.datasets = [PRESETS[n]() for n in names]
    if args.what == "student" and args.teachers:
        cfg.teachers = [TeacherSpec("blazepose", role="coco") if t == "blazepose"
                        else TeacherSpec("model", t, "lsp", "mpii")
                        for t in args.teachers.split(",") if t]
    if args.what == "teacher":
        cfg.teachers = []
    for k in ("out", "epochs", "arch", "batch_size", "device", "seed", "workers", "init_from"):
        v = getattr(args, k, None)
        if v is not None:
            setattr(cfg, k, v)
    return validate(cfg)  # the values given here too, before any data loads


def run(args) -> int:
    rank = int(os.environ.get("RANK", "0"))  # under torchrun: only rank 0 logs progress
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING,
                        format="%(asctime)s %(name)s: %(message)s")
    if args.what == "loader":
        from uniskel.training.data import loader_speed
        cfg = config_from_args(args)
        if not cfg.datasets:
            raise UniskelError("train loader: no datasets (--config or --datasets)")
        r = loader_speed(cfg, args.workers, args.batches)
        print(f"{r['samples_per_s']:.1f} samples/s with {r['workers']} worker(s) "
              f"({r['per_worker']:.1f} per worker; {r['samples']} samples of "
              f"{cfg.input_size[0]}x{cfg.input_size[1]}, batch {cfg.batch_size})")
        return 0
    if args.what == "experiment":
        from uniskel.training.experiment import run_experiment
        use = {}
        for item in args.use:
            name, sep, path = item.partition("=")
            if not sep:
                raise UniskelError(f"--use expects NAME=CHECKPOINT, got {item!r}")
            use[name] = path
        to_train = [t for t in args.train.split(",") if t and t not in use]
        base = load_config(args.config) if to_train else None
        md, _ = run_experiment(args.out, args.epochs, use, to_train, not args.no_baseline, base)
        print(md)
        print(f"table: {args.out / 'table.md'}, results: {args.out / 'results.json'}")
        return 0
    from uniskel.training.train import train
    cfg = config_from_args(args)
    path = train(cfg, resume=args.resume, max_steps=args.max_steps, overwrite=args.overwrite)
    if rank == 0:
        print(f"checkpoint: {path}")
    return 0
