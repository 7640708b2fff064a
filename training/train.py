"""``uniskel train``: train a teacher on one skeleton, or distil the 21-keypoint student.

    uniskel train teacher --dataset lspet --out runs/teacher_lsp
    uniskel train student --datasets lspet,coco_mini --teachers runs/teacher_lsp/last.pt,blazepose
    uniskel train student --config training/configs/student.toml --resume

One loop for both: the teacher is the student's loop with one dataset and no teachers.
Loss = w_gt * SimCC KL on annotated points + for each teacher, its weight * decay(epoch) *
distillation on the points it teaches (training/teachers.py, training/losses.py).
Resuming continues exactly: the sample plan of an epoch is a function of (seed, epoch),
each sample's augmentation a function of (seed, epoch, position), and the checkpoint
holds model, optimiser, scheduler, scaler, RNG states and the position in the epoch.

The parts: training/config.py (settings, TOML), training/data.py (instances, the mixed
sampler), training/teachers.py (the teachers), training/loop.py (the loop and its hooks);
this module puts one run together; commands/train.py is its command line.
"""
from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path

import numpy as np

from uniskel.engine.errors import UniskelError
# the names other modules have used from here (training/pack.py, tests)
from uniskel.training.config import (PRESETS, DatasetSpec, TeacherSpec, TrainConfig,
                                     load_config)
from uniskel.training.data import MixedSamples, load_instances, needs_blazepose, repair_lr_swaps
from uniskel.training.teachers import blazepose_cache_path
from uniskel.training.teachers import blazepose_keypoints as _blazepose_for

__all__ = ["train", "device_for", "lr_schedule", "warm_start", "PRESETS", "DatasetSpec",
           "TeacherSpec", "TrainConfig", "load_config", "MixedSamples", "load_instances",
           "needs_blazepose", "repair_lr_swaps", "blazepose_cache_path", "_blazepose_for"]

log = logging.getLogger("uniskel.train")


def device_for(name: str):
    import torch
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UniskelError("train: --device cuda requested but no CUDA device is available")
    return torch.device(name)


def lr_schedule(warmup_steps: int, total_steps: int):
    """Linear warm-up, then cosine down to 2% of the learning rate (a LambdaLR factor)."""
    def factor(step):
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        p = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(p, 1.0)))
    return factor


def warm_start(model, cfg: TrainConfig) -> None:
    """Start from ``cfg.init_from``: BlazePose's published weights (a blaze_* arch) or a
    checkpoint's tensors of matching name and shape."""
    from uniskel.training.checkpoint import load_checkpoint
    if cfg.init_from.endswith(".tflite") or cfg.init_from == "blazepose":
        # MediaPipe's published BlazePose weights (training/blazepose_init.py)
        from uniskel.training.blazepose_init import bundled_full_model, load_blazepose
        path = bundled_full_model() if cfg.init_from == "blazepose" else cfg.init_from
        n = load_blazepose(model, path)
        log.info("warm start from %s: %d tensors", path, n)
    elif cfg.init_from:
        src = load_checkpoint(cfg.init_from)["state_dict"]
        own = model.state_dict()
        same = {k: v for k, v in src.items() if k in own and own[k].shape == v.shape}
        model.load_state_dict(same, strict=False)
        log.info("warm start from %s: %d/%d tensors", cfg.init_from, len(same), len(own))


def train(cfg: TrainConfig, resume: bool = False, max_steps: int | None = None,
          hooks: list | None = None) -> Path:
    """Run (or resume) training; returns the path of the last checkpoint. ``hooks``
    (training/loop.py: Hook) run after the progress bar, TensorBoard and checkpoints."""
    import random

    import torch

    from uniskel.engine.model import config_for, from_config
    from uniskel.training import data as D
    from uniskel.training import loop
    from uniskel.training.checkpoint import load_checkpoint, rng_state, set_rng_state
    from uniskel.training.teachers import LossContext, build_teachers

    if not cfg.datasets:
        raise UniskelError("train: no datasets given (--datasets or [[datasets]] in the config)")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    last = out / "last.pt"
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    random.seed(cfg.seed)
    device = device_for(cfg.device)

    # decoding weighs the bins within about one label sigma of the peak, so a confident
    # keypoint scores about 0.75 whatever the input size
    mcfg = config_for(cfg.arch, input_size=tuple(cfg.input_size),
                      decode_window=max(3, round(max(cfg.loss.sigma))))
    model = from_config(mcfg).to(device)
    if device.type == "cuda":  # one fixed input shape: let cuDNN pick its fastest kernels
        torch.backends.cudnn.benchmark = True
    if device.type == "cpu":  # oneDNN's fast convolution layout (about 1.5x on CPU)
        model = model.to(memory_format=torch.channels_last)
    if not resume:
        warm_start(model, cfg)
    # after the student: a model teacher's construction draws from torch's RNG
    ctx = LossContext(cfg.loss, mcfg.bins, mcfg.split_ratio)
    teachers = build_teachers(cfg, device, ctx)

    sources = D.prepare_sources(cfg, [t for t in teachers if t.kind == "cached"])
    data = D.MixedSamples(sources, cfg.input_size, cfg.augment, cfg.loss, cfg.seed,
                          cfg.on_error)
    per_epoch = cfg.samples_per_epoch or sum(len(s[1]) for s in sources)
    steps_per_epoch = per_epoch // cfg.batch_size

    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lr_schedule(cfg.warmup_steps, steps_per_epoch * cfg.epochs))
    amp = cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    progress = loop.Progress()
    if resume:
        if not last.exists():
            raise UniskelError(f"--resume: no checkpoint at {last}")
        ck = load_checkpoint(last)
        model.load_state_dict(ck["state_dict"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        if ck["scaler"]:  # empty when saved on CPU (scaler off): a CUDA run starts its own
            scaler.load_state_dict(ck["scaler"])
        progress = loop.Progress(ck["epoch"], ck["step_in_epoch"], ck["global_step"])
        set_rng_state(ck["rng"])
        log.info("resumed %s at epoch %d step %d", last, progress.epoch, progress.step_in_epoch)

    def state(p: loop.Progress) -> dict:
        return {
            "config": mcfg.to_dict(), "state_dict": model.state_dict(),
            "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
            "scaler": scaler.state_dict(), "epoch": p.epoch, "step_in_epoch": p.step_in_epoch,
            "global_step": p.global_step, "train_config": dataclasses.asdict(cfg),
            "rng": rng_state(),
            "meta": {"mode": cfg.mode, "datasets": [d.name for d in cfg.datasets],
                     "teachers": [t.kind + (":" + t.path if t.path else "")
                                  for t in cfg.teachers]},
        }

    def batches(epoch, first_step):
        return D.epoch_batches(data, epoch, first_step, steps_per_epoch, cfg.batch_size,
                               cfg.workers, device.type == "cuda")

    tb = loop.TensorBoardLog.open(out / "tb")
    run_hooks = [loop.ProgressBar()] + ([tb] if tb else []) + [
        loop.Checkpoints(last, state, cfg.checkpoint_every)] + list(hooks or [])
    plan = loop.Plan(cfg.epochs, steps_per_epoch, device, cfg.mode, amp, max_steps=max_steps)
    loop.run(model, opt, sched, scaler, batches, teachers, ctx, plan, progress, run_hooks)
    return last
