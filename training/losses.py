"""Losses of the method: SimCC KL against ground truth, and distillation from each teacher;
and the heatmap losses of the MoveNet-family student (``heatmap_points_loss``).

All SimCC distributions are ``softmax(beta * logits)``; beta, the target width and the
targets themselves come from the one codec, ``engine.models.simcc``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from uniskel.engine.models import simcc


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
    # heatmap students (the MoveNet family, training/students.py; v2's losses)
    heat_sigma: float = 1.5     # Gaussian heatmap targets, in cells (4 px)
    reg_weight: float = 1.0     # L1 on the regression from the person centre
    center_weight: float = 1.0  # focal loss on the person-centre map (ground truth only)
    hidden_weight: float = 20.0  # empty maps for labelled points hidden below a cut
    # labelled points of these names count this many times in the ground-truth loss
    # (e.g. {"head_top": 8.0}: LSPET's head top labels against a teacher's head top)
    label_weights: dict = field(default_factory=dict)


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


# ---------------------------------------------------------------- heatmap students

def center_prior(cells: int, device=None) -> torch.Tensor:
    """MoveNet's centre weighting (cells, cells): 1 / (distance to the crop centre + 1.8)."""
    g = torch.arange(cells, dtype=torch.float32, device=device)
    c = cells / 2
    return 1.0 / (((g.view(cells, 1) - c) ** 2 + (g.view(1, cells) - c) ** 2).sqrt() + 1.8)


def focal_terms(pred: torch.Tensor, target: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss per cell (>= 0): ``pos`` marks the peaks."""
    pred = pred.float().clamp(1e-4, 1 - 1e-4)
    return -((1 - pred) ** 2 * torch.log(pred) * pos
             + (1 - target) ** 4 * pred ** 2 * torch.log(1 - pred) * (1 - pos))


def _gaussians(xy: torch.Tensor, cells: int, sigma: float):
    """(N, K, 2) x, y in cells -> Gaussian maps (N, K, cells, cells), their peak cells
    (N, K, 2 long, x y) and one-hot peak maps."""
    g = torch.arange(cells, dtype=torch.float32, device=xy.device)
    d2 = ((g.view(1, 1, 1, cells) - xy[..., 0, None, None]) ** 2
          + (g.view(1, 1, cells, 1) - xy[..., 1, None, None]) ** 2)
    target = torch.exp(-d2 / (2 * sigma ** 2))
    cell = xy.round().clamp(0, cells - 1).long()
    flat = cell[..., 1] * cells + cell[..., 0]
    pos = torch.zeros_like(target).flatten(2).scatter_(2, flat.unsqueeze(2), 1.0)
    return target, cell, flat, pos.view_as(target)


def heatmap_points_loss(maps: dict, coords: torch.Tensor, weight: torch.Tensor,
                        input_size: int, cfg: LossConfig, hidden: torch.Tensor | None = None,
                        center: torch.Tensor | None = None,
                        has_center: torch.Tensor | None = None) -> torch.Tensor:
    """The MoveNet-family student's loss towards points (the student v2's losses, for any
    of its keypoints): CenterNet's focal loss on each point's heatmap against a Gaussian
    at the point (``cfg.heat_sigma`` cells), L1 on its sub-cell offset at the point's cell
    and on its regression from the person centre the model picks (x ``cfg.reg_weight``).

    ``maps``: the network's maps (``MoveNet.maps``); ``coords`` (N, K, 2) input px;
    ``weight`` (N, K) >= 0 (0: no say; a teacher's confidence, or the labelled mask).
    ``hidden`` (N, K): labelled points hidden below a cut, whose maps must be empty (the
    focal loss's negatives alone, x ``cfg.hidden_weight``). ``center`` (N, 2) input px:
    the person's centre, a focal loss on the centre map (x ``cfg.center_weight``) where
    ``has_center`` (N,) (default: every sample).
    Every term is a sum over points divided by the total point weight (clamped at 1), as
    the SimCC losses are, so training on several processes can share it out."""
    heat = maps["heatmap"]
    n, k, cells = heat.shape[0], heat.shape[1], heat.shape[-1]
    stride = input_size / cells
    w = weight.float()
    total = w.sum().clamp_min(1.0)
    xy = torch.nan_to_num(coords.float()[:, :k] / stride).clamp(-cells, 2 * cells)
    target, cell, flat, pos = _gaussians(xy, cells, cfg.heat_sigma)
    per = focal_terms(heat, target, pos).sum((2, 3))                       # (N, K)
    loss = (per * w).sum() / total
    off = maps["offset"].float().flatten(2).view(n, k, 2, cells * cells)
    off = off.gather(3, flat.view(n, k, 1, 1).expand(n, k, 2, 1)).squeeze(3)  # (y, x)
    want = torch.stack([xy[..., 1] - cell[..., 1], xy[..., 0] - cell[..., 0]], 2)
    loss = loss + ((off - want).abs().sum(2) * w).sum() / total
    with torch.no_grad():
        at = (maps["center"][:, 0].float() * center_prior(cells, heat.device)).flatten(1)
        c = at.argmax(1)
    cy, cx = (c // cells).float(), (c % cells).float()
    reg = maps["regress"].float().flatten(2).gather(
        2, c.view(n, 1, 1).expand(n, 2 * k, 1)).view(n, k, 2)
    want = torch.stack([xy[..., 1] - cy[:, None], xy[..., 0] - cx[:, None]], 2)
    loss = loss + cfg.reg_weight * ((reg - want).abs().sum(2) * w).sum() / total
    if hidden is not None and hidden.any():
        empty = focal_terms(heat, torch.zeros_like(heat), torch.zeros_like(heat)).sum((2, 3))
        loss = loss + cfg.hidden_weight * (empty * hidden.float()).sum() / total
    if center is not None and cfg.center_weight > 0:
        cxy = torch.nan_to_num(center.float().view(n, 1, 2) / stride)
        t, _, _, p = _gaussians(cxy, cells, cfg.heat_sigma)
        per = focal_terms(maps["center"].float(), t, p).sum((1, 2, 3))
        if has_center is not None:
            per = per * has_center.float()
        loss = loss + cfg.center_weight * per.sum() / total
    return loss


def _bernoulli_kl(s: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Per cell KL(Bernoulli(t) || Bernoulli(s)) (>= 0, 0 where the maps agree)."""
    s, t = s.float().clamp(1e-4, 1 - 1e-4), t.float().clamp(1e-4, 1 - 1e-4)
    return t * (t.log() - s.log()) + (1 - t) * ((1 - t).log() - (1 - s).log())


def maps_distill_loss(maps: dict, teacher: dict, weight: torch.Tensor,
                      cfg: LossConfig) -> torch.Tensor:
    """The MoveNet-family student's maps pulled towards a MoveNet teacher's maps on the
    same crop (``teacher``: the same four maps, already at the student's cells and in its
    keypoint order, offsets and regression in its cells).

    Per taught point (``weight`` (N, K) >= 0): the per-cell Bernoulli KL between the two
    heatmaps, summed over the cells; L1 on the offsets weighted by the teacher's heatmap
    (where a peak can be read) and on the regression weighted by its centre map (where the
    person's centre is read, x ``cfg.reg_weight``). The centre maps' KL counts once per
    sample with any taught point (x ``cfg.center_weight``). Each term is a sum divided by
    the total point weight (clamped at 1), as ``heatmap_points_loss``'s."""
    heat = maps["heatmap"]
    n, k, cells = heat.shape[0], heat.shape[1], heat.shape[-1]
    w = weight.float()
    total = w.sum().clamp_min(1.0)
    t_heat = teacher["heatmap"][:, :k].float()
    loss = (_bernoulli_kl(heat, t_heat).sum((2, 3)) * w).sum() / total
    near = t_heat / t_heat.sum((2, 3), keepdim=True).clamp_min(1e-6)     # (N, K, C, C)
    off = (maps["offset"].float() - teacher["offset"].float()).abs().view(n, k, 2, cells, cells)
    loss = loss + ((off.sum(2) * near).sum((2, 3)) * w).sum() / total
    t_centre = teacher["center"].float()
    at = t_centre / t_centre.sum((2, 3), keepdim=True).clamp_min(1e-6)   # (N, 1, C, C)
    reg = (maps["regress"].float() - teacher["regress"].float()).abs().view(n, k, 2, cells, cells)
    loss = loss + cfg.reg_weight * ((reg.sum(2) * at).sum((2, 3)) * w).sum() / total
    if cfg.center_weight > 0:
        per = _bernoulli_kl(maps["center"], t_centre).sum((1, 2, 3)) * (w.sum(1) > 0)
        loss = loss + cfg.center_weight * per.sum() / total
    return loss
