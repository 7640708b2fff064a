"""The training loop: epochs of steps, a loop over teachers in each, and hooks around it.

``run`` holds no global state: it gets the model (possibly wrapped, e.g. for
DistributedDataParallel), the optimiser, scheduler and scaler, a function giving an
epoch's batches from a step on, the teachers, hooks that log, show progress and
checkpoint, and on several processes their ``Group`` (training/distributed.py), through
which each loss term becomes the global batch's and the step's losses are reduced.
``batch_loss`` is one step's loss: ``w_gt`` x the student family's loss against ground
truth (training/students.py: SimCC KL, or MoveNet's heatmap losses), plus each teacher's
weight x decay x its loss on the points it teaches (training/teachers.py); in teacher
mode the ground-truth loss alone. The model it gets is the family's view of the network
(for a MoveNet its maps), so one loop trains every student.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from uniskel.engine.errors import UniskelError
from uniskel.training.students import LossContext
from uniskel.training.teachers import add_teacher_terms, teacher_losses

if TYPE_CHECKING:
    import torch

    from uniskel.training.distributed import Group

log = logging.getLogger("uniskel.train")


@dataclass
class Progress:
    """Where a run is; what a checkpoint records to resume exactly."""
    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0


@dataclass
class Plan:
    """How long the loop runs and how each step is taken."""
    epochs: int
    steps_per_epoch: int
    device: "torch.device"
    mode: str = "student"          # "teacher": the ground-truth loss alone
    amp: bool = False              # float16 autocast (CUDA)
    clip_norm: float = 5.0
    max_steps: int | None = None   # stop (and checkpoint) after this many steps in all
    student_size: tuple | None = None  # batches rendered larger (config teacher_size):
                                   # the student's (height, width), ``student_view``


@dataclass
class StepLoss:
    total: "torch.Tensor"
    gt: "torch.Tensor"
    terms: dict = field(default_factory=dict)  # teacher name -> its loss (unweighted)


@dataclass
class StepDone:
    """What hooks see after each optimiser step."""
    loss: StepLoss
    lr: float
    images: int


class Hook:
    """Called around the loop; override what you need."""

    def epoch_start(self, progress: Progress, plan: Plan) -> None: ...
    def step_end(self, progress: Progress, plan: Plan, step: StepDone) -> None: ...
    def epoch_end(self, progress: Progress, plan: Plan) -> None: ...  # epoch counted
    def stopped(self, progress: Progress, plan: Plan) -> None: ...    # max_steps reached
    def close(self) -> None: ...


def to_device(batch: dict, device) -> dict:
    import torch
    out = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    if device.type == "cpu":  # oneDNN's fast convolution layout
        out["image"] = out["image"].contiguous(memory_format=torch.channels_last)
    return out


def student_view(batch: dict, size) -> dict:
    """A batch rendered at the teachers' size, seen by the student at ``size``: the image
    downscaled (antialiased) into ``image``, the rendering kept as ``teacher_image`` for
    the teachers that run on the crop (training/teachers.py), and every position in
    pixels (labels, cached teachers' points, the cut line's offset) scaled with it."""
    import torch
    import torch.nn.functional as F
    big = batch["image"]
    f = size[1] / big.shape[-1]
    out = dict(batch, teacher_image=big, coords=batch["coords"] * f,
               teacher_coords=batch["teacher_coords"] * f, cut=batch["cut"].clone())
    out["cut"][..., 2] *= f
    small = F.interpolate(big.float(), size=tuple(size), mode="bilinear",
                          align_corners=False, antialias=True)
    last = torch.channels_last if big.is_contiguous(memory_format=torch.channels_last) \
        else torch.contiguous_format  # as to_device left it (oneDNN's layout on the CPU)
    out["image"] = small.contiguous(memory_format=last)
    return out


def batch_loss(model, batch: dict, teachers, ctx: LossContext, mode: str, epoch: int,
               epochs: int, amp: bool = False, group: "Group | None" = None) -> StepLoss:
    """One step's loss on a batch already on the model's device.

    With ``group`` (several processes) each term is this rank's share of the global
    batch's term (``Group.shares``): their mean over the ranks is the loss one process
    computes on the whole batch."""
    import torch

    device = batch["image"].device
    with torch.autocast(device.type, enabled=amp, dtype=torch.float16):
        pred = model(batch["image"])
        l_gt = ctx.family.gt_loss(pred, batch, ctx)  # the student family's own loss
        if group is None:
            if mode == "teacher":
                return StepLoss(l_gt, l_gt)
            total, terms = add_teacher_terms(ctx.loss.w_gt * l_gt, pred, batch, teachers,
                                             ctx, epoch, epochs)
            return StepLoss(total, l_gt, terms)
        found = teacher_losses(pred, batch, teachers, ctx) if mode != "teacher" else []
        f = group.shares([ctx.family.gt_total(batch, ctx)] + [tot for _, _, tot in found])
        l_gt = l_gt * f[0]
        if mode == "teacher":
            return StepLoss(l_gt, l_gt)
        total, terms = add_teacher_terms(ctx.loss.w_gt * l_gt, pred, batch, teachers, ctx,
                                         epoch, epochs, found, f[1:])
    return StepLoss(total, l_gt, terms)


def reduced(loss: StepLoss, group: "Group") -> StepLoss:
    """The step's losses summed over the ranks / N: the global batch's (for hooks)."""
    names = list(loss.terms)
    v = group.reduce([loss.total, loss.gt] + [loss.terms[k] for k in names])
    return StepLoss(v[0], v[1], dict(zip(names, v[2:])))


def run(model, optimizer, scheduler, scaler, batches: Callable[[int, int], Iterable],
        teachers, ctx: LossContext, plan: Plan, progress: Progress,
        hooks: list[Hook], group: "Group | None" = None) -> Progress:
    """Train from ``progress`` to the end of ``plan`` (or ``plan.max_steps``).

    ``batches(epoch, first_step)`` gives the epoch's (on several processes: this rank's
    part of the epoch's) batches from that step on. Hooks see the global batch's losses
    and image count."""
    import torch
    try:
        while progress.epoch < plan.epochs:
            loader = batches(progress.epoch, progress.step_in_epoch)
            model.train()
            for h in hooks:
                h.epoch_start(progress, plan)
            for batch in loader:
                batch = to_device(batch, plan.device)
                if plan.student_size is not None:
                    batch = student_view(batch, plan.student_size)
                loss = batch_loss(model, batch, teachers, ctx, plan.mode, progress.epoch,
                                  plan.epochs, plan.amp, group)
                shown = loss if group is None else reduced(loss, group)
                if not torch.isfinite(shown.total):  # every rank sees the same value
                    raise UniskelError(
                        f"train: loss became {shown.total.item()} at step "
                        f"{progress.global_step}; lower the learning rate or check the data")
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss.total).backward()
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), plan.clip_norm)
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
                progress.global_step += 1
                progress.step_in_epoch += 1
                images = batch["image"].shape[0] * (1 if group is None else group.world)
                done = StepDone(shown, scheduler.get_last_lr()[0], images)
                for h in hooks:
                    h.step_end(progress, plan, done)
                if plan.max_steps is not None and progress.global_step >= plan.max_steps:
                    for h in hooks:
                        h.stopped(progress, plan)
                    return progress
            progress.epoch, progress.step_in_epoch = progress.epoch + 1, 0
            for h in hooks:
                h.epoch_end(progress, plan)
        return progress
    finally:
        for h in hooks:
            h.close()


# ---------------------------------------------------------------- hooks

class Checkpoints(Hook):
    """Save ``state(progress)`` to ``path``: every ``every`` steps within an epoch (0:
    never), at each epoch's end and when the run stops early."""

    def __init__(self, path: Path, state: Callable[[Progress], dict], every: int = 0):
        self.path, self.state, self.every = Path(path), state, every

    def save(self, progress: Progress) -> None:
        from uniskel.training.checkpoint import save_checkpoint
        save_checkpoint(self.state(progress), self.path)

    def step_end(self, progress, plan, step):
        if self.every and progress.step_in_epoch % self.every == 0 \
                and progress.step_in_epoch < plan.steps_per_epoch:
            self.save(progress)

    def epoch_end(self, progress, plan):
        self.save(progress)
        log.info("epoch %d done: %s", progress.epoch, self.path)

    def stopped(self, progress, plan):
        self.save(progress)


class ProgressBar(Hook):
    """A tqdm bar per epoch: loss, ground-truth loss, images per second."""

    def __init__(self):
        self.bar = None

    def epoch_start(self, progress, plan):
        from tqdm import tqdm
        self.bar = tqdm(desc=f"epoch {progress.epoch + 1}/{plan.epochs}",
                        initial=progress.step_in_epoch, total=plan.steps_per_epoch,
                        dynamic_ncols=True)
        self.t0, self.seen = time.perf_counter(), 0

    def step_end(self, progress, plan, step):
        self.seen += step.images
        speed = self.seen / (time.perf_counter() - self.t0)
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{step.loss.total.item():.4f}",
                             gt=f"{step.loss.gt.item():.3f}", img_s=f"{speed:.1f}")

    def epoch_end(self, progress, plan):
        self.close()

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class TensorBoardLog(Hook):
    """loss/total, loss/gt, loss/<teacher> and lr per step, in a TensorBoard folder."""

    def __init__(self, writer):
        self.writer = writer

    @classmethod
    def open(cls, folder: Path) -> "TensorBoardLog | None":
        try:
            from torch.utils.tensorboard import SummaryWriter
            return cls(SummaryWriter(str(folder)))
        except Exception as exc:  # tensorboard missing: training still works, say so
            log.warning("TensorBoard logging off: %s", exc)
            return None

    def step_end(self, progress, plan, step):
        w, n = self.writer, progress.global_step
        w.add_scalar("loss/total", step.loss.total.item(), n)
        w.add_scalar("loss/gt", step.loss.gt.item(), n)
        for k, v in step.loss.terms.items():
            w.add_scalar(f"loss/{k}", v.item(), n)
        w.add_scalar("lr", step.lr, n)

    def close(self):
        self.writer.close()


class EMA(Hook):
    """An exponential moving average of the model's weights, as RTMPose keeps one (mmpose's
    ExpMomentumEMA): after step n the average takes the weights themselves at n = 1, else
    avg = (1 - m) avg + m w with m = (1 - momentum) e^(-n / gamma) + momentum (a warm-up:
    m starts near 1 and settles to ``momentum``). Parameters and float buffers (BatchNorm
    statistics) are averaged, integer buffers copied. Add it before ``Checkpoints``."""

    def __init__(self, model, momentum: float, gamma: float = 2000.0,
                 average: dict | None = None):
        self.model, self.momentum, self.gamma = model, momentum, gamma
        self.average = {k: v.detach().clone() for k, v in (average or model.state_dict()).items()}

    def step_end(self, progress, plan, step):
        import math

        import torch
        n = progress.global_step
        m = 1.0 if n <= 1 else (1 - self.momentum) * math.exp(-n / self.gamma) + self.momentum
        with torch.no_grad():
            for k, v in self.model.state_dict().items():
                a = self.average[k]
                if a.is_floating_point():
                    a.mul_(1 - m).add_(v.detach().to(a.dtype), alpha=m)
                else:
                    a.copy_(v)
