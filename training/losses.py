"""Losses of the method: SimCC KL against ground truth, and distillation from each teacher.

All SimCC distributions are ``softmax(beta * logits)``; beta, the target width and the
targets themselves come from the one codec, ``engine.simcc``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from uniskel.engine import simcc


@dataclass
class LossConfig:
    beta: float = simcc.BETA
    sigma: tuple[float, float] = simcc.SIGMA  # target width in bins (x, y)
    w_gt: float = 0.3           # paper: 0.3 x student loss
    w_coco_teacher: float = 0.25  # paper: 0.25 x COCO-teacher loss (BlazePose here)
    w_mpii_teacher: float = 0.45  # paper: 0.45 x MPII-teacher loss (the LSP teacher here)
    temperature: float = 1.0
    decay: str = "linear"       # "linear": teacher terms x (1 - epoch/epochs); "none"
    teacher_where_gt: bool = True  # also distil on points that have ground truth
    teacher_min_conf: float = 0.5  # coordinate-only teachers: ignore points below this


def gaussian_targets(coords: torch.Tensor, bins: tuple[int, int], split_ratio: float,
                     sigma: tuple[float, float]):
    """(B, K, 2) input-px coords -> normalised target distributions (B, K, bx), (B, K, by)."""
    return simcc.SimCC(split_ratio=split_ratio, sigma=tuple(sigma)).targets(coords, bins)


def kl_to_target(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor,
                 beta: float, temperature: float = 1.0) -> torch.Tensor:
    """Weighted mean over (B, K) of KL(target || softmax(beta * logits / T)), times T^2."""
    logp = F.log_softmax(logits.float() * (beta / temperature), dim=-1)
    kl = (target * (target.clamp_min(1e-12).log() - logp)).sum(-1)
    w = weight.float()
    return (kl * w).sum() / w.sum().clamp_min(1.0) * temperature ** 2


def simcc_loss(pred, coords, weight, bins, split_ratio, cfg: LossConfig):
    """Supervised SimCC loss: x and y KL against Gaussian targets at ``coords``."""
    tx, ty = gaussian_targets(coords, bins, split_ratio, cfg.sigma)
    return (kl_to_target(pred[0], tx, weight, cfg.beta)
            + kl_to_target(pred[1], ty, weight, cfg.beta))


def model_distill_loss(pred, teacher_logits, weight, cfg: LossConfig):
    """KL between the student's and a model teacher's SimCC distributions (temperature T)."""
    t = cfg.temperature
    loss = 0.0
    for s, te in zip(pred, teacher_logits):
        target = F.softmax(te.float() * (cfg.beta / t), dim=-1)
        loss = loss + kl_to_target(s, target, weight, cfg.beta, t)
    return loss


def decay_factor(cfg: LossConfig, epoch: int, epochs: int) -> float:
    if cfg.decay == "none":
        return 1.0
    if cfg.decay == "linear":
        return max(0.0, 1.0 - epoch / max(epochs, 1))
    raise ValueError(f"unknown distillation decay {cfg.decay!r} (use 'linear' or 'none')")
