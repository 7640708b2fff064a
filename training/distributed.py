"""Training on several processes: PyTorch's DistributedDataParallel, started by torchrun.

``uniskel train ...`` under ``torchrun --nproc_per_node N`` (or ``python -m
torch.distributed.run``) finds torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR/PORT) and joins its process group: NCCL on CUDA, gloo on CPU. Without it
(or with WORLD_SIZE=1) nothing here is used and training is the single process it was.

What makes N processes compute what one process computes on the same global batch:

- the data: step s of an epoch is positions [s*G, (s+1)*G) of the epoch's one sample
  plan (G = the global batch); rank r takes its slice [s*G + r*b, s*G + (r+1)*b), b = G/N
  (training/data.py: ``epoch_batches``);
- BatchNorm: its statistics over the global batch (``sync_batchnorm``: PyTorch's
  SyncBatchNorm on CUDA, ``GlobalBatchNorm2d`` below on CPU, where SyncBatchNorm refuses);
- the loss: every term is a weighted mean over its points, so each rank divides its
  weighted sum by the *global* weight total (``Group.shares``), times N because DDP
  averages the gradients;
- the metrics: each step's losses are summed over the ranks (``Group.reduce``), so rank 0
  logs the global batch's loss.

Only rank 0 writes checkpoints, TensorBoard logs and the progress bar.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from uniskel.engine.errors import UniskelError

log = logging.getLogger("uniskel.train")


def env_rank() -> int:
    """This process's rank as torchrun set it (0 outside torchrun)."""
    return int(os.environ.get("RANK", "0"))


def launched() -> bool:
    """Started by torchrun with more than one process?"""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


@dataclass
class Group:
    """This process's place among the ranks of one training run."""
    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0

    def shares(self, totals: list) -> list:
        """For loss terms whose local value is ``sum / max(total, 1)``, the factors that make
        each the global batch's term (its local sum over the global total), times the
        world size (DDP averages gradients): ``max(local, 1) / max(global, 1) * N``."""
        local = torch.stack([torch.as_tensor(t, dtype=torch.float32, device=self.device)
                             for t in totals])
        glob = local.clone()
        dist.all_reduce(glob)
        return list(local.clamp_min(1.0) / glob.clamp_min(1.0) * self.world)

    def reduce(self, values: list) -> list:
        """Scalars summed over the ranks, then divided by the world size (detached)."""
        v = torch.stack([x.detach().float().reshape(()) for x in values])
        dist.all_reduce(v)
        return list(v / self.world)

    def barrier(self) -> None:
        dist.barrier()


def setup(device_name: str) -> Group | None:
    """Join torchrun's process group (None when not launched by torchrun with N > 1)."""
    if not launched():
        return None
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device_name == "cuda" or (device_name == "auto" and torch.cuda.is_available())
    if use_cuda:
        if not torch.cuda.is_available():
            raise UniskelError("train: --device cuda requested but no CUDA device is available")
        if local >= torch.cuda.device_count():
            raise UniskelError(f"train: local rank {local} has no GPU (this machine has "
                               f"{torch.cuda.device_count()}); use --nproc_per_node "
                               f"{torch.cuda.device_count()} or fewer")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        device = torch.device("cpu")
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend, rank=rank, world_size=world)
    if rank == 0:
        log.info("distributed: %d processes (%s, %s)", world, backend, device.type)
    return Group(rank, world, local, device)


def teardown(group: Group | None) -> None:
    if group is not None:
        if dist.is_initialized():
            dist.destroy_process_group()


def wrap(model, group: Group):
    """The model in DistributedDataParallel (rank 0's weights broadcast to the others)."""
    from torch.nn.parallel import DistributedDataParallel
    ids = [group.device.index] if group.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


# ---------------------------------------------------------------- BatchNorm over ranks

def sync_batchnorm(model, device):
    """Every BatchNorm2d of ``model`` computing its training statistics over all ranks:
    PyTorch's SyncBatchNorm on CUDA, ``GlobalBatchNorm2d`` elsewhere (SyncBatchNorm
    refuses CPU tensors). Parameters, buffers and state_dict names stay the same, so
    checkpoints are interchangeable with single-process ones."""
    if device.type == "cuda":
        return torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    for name, child in list(model.named_children()):
        if type(child) is torch.nn.BatchNorm2d:
            setattr(model, name, GlobalBatchNorm2d.from_bn(child))
        else:
            sync_batchnorm(child, device)
    return model


class _GlobalBN(torch.autograd.Function):
    """y = (x - mean) * invstd * w + b, mean and invstd over every rank's batch; the
    backward sums its two per-channel reductions over the ranks too (as SyncBatchNorm)."""

    @staticmethod
    def forward(ctx, x, weight, bias, mean, invstd, count):
        shape = (1, -1, 1, 1)
        xhat = (x - mean.view(shape)) * invstd.view(shape)
        ctx.save_for_backward(xhat, weight, invstd)
        ctx.count = count
        return xhat * weight.view(shape) + bias.view(shape)

    @staticmethod
    def backward(ctx, dy):
        xhat, weight, invstd = ctx.saved_tensors
        shape, dims = (1, -1, 1, 1), (0, 2, 3)
        dw = (dy * xhat).sum(dims)
        db = dy.sum(dims)
        sums = torch.cat([db, dw])
        dist.all_reduce(sums)
        c = weight.numel()
        g_db, g_dw = sums[:c] / ctx.count, sums[c:] / ctx.count
        dx = (weight * invstd).view(shape) * (dy - g_db.view(shape) - xhat * g_dw.view(shape))
        return dx, dw, db, None, None, None


class GlobalBatchNorm2d(torch.nn.BatchNorm2d):
    """BatchNorm2d whose training statistics (and their gradients) span all ranks: the
    numbers one process computes on the whole batch. Outside a process group of more
    than one, or in eval mode, it is BatchNorm2d."""

    @classmethod
    def from_bn(cls, bn: torch.nn.BatchNorm2d) -> "GlobalBatchNorm2d":
        new = cls(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats)
        new.weight, new.bias = bn.weight, bn.bias
        new.running_mean, new.running_var = bn.running_mean, bn.running_var
        new.num_batches_tracked = bn.num_batches_tracked
        return new

    def forward(self, x):
        if not (self.training and self.affine and dist.is_initialized()
                and dist.get_world_size() > 1):
            return super().forward(x)
        dims = (0, 2, 3)
        with torch.no_grad():  # two passes, like BatchNorm's own variance
            s = torch.cat([x.sum(dims), x.new_tensor([x.numel() / x.shape[1]])])
            dist.all_reduce(s)
            count = float(s[-1])
            mean = s[:-1] / count
            sq = ((x - mean.view(1, -1, 1, 1)) ** 2).sum(dims)
            dist.all_reduce(sq)
            var = sq / count
            invstd = torch.rsqrt(var + self.eps)
            if self.track_running_stats:
                self.num_batches_tracked.add_(1)
                m = (1.0 / float(self.num_batches_tracked) if self.momentum is None
                     else self.momentum)
                self.running_mean.mul_(1 - m).add_(mean, alpha=m)
                self.running_var.mul_(1 - m).add_(var * (count / max(count - 1, 1)), alpha=m)
        return _GlobalBN.apply(x, self.weight, self.bias, mean, invstd, count)
