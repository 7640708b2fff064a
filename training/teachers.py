"""Teachers of the student: the ``Teacher`` protocol, its two kinds, and the table of kinds.

A teacher declares which unified points it covers (``covers``), its loss weight and its
decay over the epochs, and on which datasets it also teaches the points that have ground
truth (``on_gt``; elsewhere ground truth takes over). Two kinds:

- online (``OnlineTeacher``): a model run on the student's own crop at every step; its
  SimCC logits are the target (a KL on the two distributions, ``losses.model_distill_loss``).
  ``ModelTeacher`` is a frozen PoseNet checkpoint, e.g. the LSP teacher trained by
  ``uniskel train teacher --dataset lspet``.
- cached (``CachedTeacher``): keypoints computed once per training instance and stored;
  the data loader carries them through the same augmentation as the image (slot ``slot``
  of ``batch["teacher_coords"]`` / ``batch["teacher_conf"]``) and the loss builds soft
  SimCC targets from them. BlazePose's keypoints are cached by
  training/blazepose_cache.py (``BlazePoseCache``).

``KINDS`` maps a config's ``kind`` to the function that builds the teacher; a new teacher
is one entry there. For example MoveNet Thunder cached per image: a function that returns
its (n, 21, 3) keypoints for a dataset's instances (cached like ``blazepose_keypoints``,
minus a per-joint bias), and a builder returning ``CachedTeacher(name, covers of the 17
COCO points, weight, decay, on_gt, that function)``.

The training loop only sees the protocol: for each teacher, ``points`` narrowed by
``taught_points`` (ground truth takes over), ``loss``, times ``weight`` x decay.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol

import numpy as np

from uniskel.engine import skeleton
from uniskel.engine.errors import UniskelError
from uniskel.training.blazepose_cache import BLAZEPOSE_COVERS, blazepose_keypoints
from uniskel.training.config import DatasetSpec, TeacherSpec, TrainConfig
from uniskel.training.students import LossContext

if TYPE_CHECKING:
    import torch


class Teacher(Protocol):
    name: str             # its loss term's name (TensorBoard: loss/<name>)
    kind: str             # "online" | "cached"
    covers: "torch.Tensor"  # (21,) bool: the unified points its skeleton has
    weight: float         # loss weight
    decay: str            # "linear" | "none" (losses.decay_factor)
    on_gt: "torch.Tensor"  # (datasets,) bool: per dataset (source index), does it also
                          # teach the points that have ground truth there?

    def points(self, batch: dict) -> "torch.Tensor":
        """(B, 21) bool: the points it offers on each sample of the batch."""

    def loss(self, pred, batch: dict, taught: "torch.Tensor", ctx: LossContext):
        """Its distillation loss on the ``taught`` (B, 21) points; None when it has
        nothing to say on this batch."""

    def weight_total(self, batch: dict, taught: "torch.Tensor") -> "torch.Tensor":
        """The total point weight its loss is a mean over (its denominator, before the
        clamp at 1): training on several processes divides by the global one."""


def below_cut(batch: dict, xy) -> "torch.Tensor":
    """(B, K) bool: where no teacher teaches: points ``xy`` (B, K, 2) below their crop's
    cut line (training/framing.py; the picture has nothing there), the labelled points
    hidden below it wherever the teacher puts them (``batch["hidden"]``: their maps must
    be empty, and a teacher that draws them above the cut would teach the opposite), and
    the sample's points under pasted occluders (``batch["occluded"]``,
    training/augment.py: a teacher run on the occluded crop sees the occluder there, not
    the person)."""
    import torch
    hid = torch.zeros(xy.shape[:2], dtype=torch.bool, device=xy.device)
    line = batch.get("cut")
    if line is not None:
        line = line.to(xy)
        hid = xy[..., 0] * line[:, None, 0] + xy[..., 1] * line[:, None, 1] \
            + line[:, None, 2] >= 0
    for name in ("hidden", "occluded"):
        if batch.get(name) is not None:
            hid = hid | batch[name].to(hid.device).bool()
    return hid


def taught_points(w, mask, on_gt, source):
    """Narrow a teacher's (B, K) point weights ``w`` to the points it teaches: those
    without ground truth, and labelled ones where ``on_gt[source]`` (per dataset) allows."""
    return w & (~mask | on_gt[source][:, None])


def where_gt(teacher: TeacherSpec, lc, dataset: str) -> bool:
    """Does this teacher also teach the points that samples of ``dataset`` label?"""
    w = teacher.where_gt
    if w is None:
        return lc.teacher_where_gt
    if isinstance(w, (list, tuple)):
        return dataset in w
    return bool(w)


def decay_at(teacher: Teacher, ctx: LossContext, epoch: int, epochs: int) -> float:
    """The teacher's decay factor at ``epoch`` of ``epochs``."""
    from uniskel.training import losses
    return losses.decay_factor(dataclasses.replace(ctx.loss, decay=teacher.decay), epoch, epochs)


def teacher_losses(pred, batch: dict, teachers, ctx: LossContext) -> list:
    """For each teacher, in order: (teacher, its loss on the points it teaches or None,
    the total weight that loss is a mean over)."""
    out = []
    for t in teachers:
        w = taught_points(t.points(batch), batch["mask"], t.on_gt, batch["source"])
        out.append((t, t.loss(pred, batch, w, ctx), t.weight_total(batch, w)))
    return out


def add_teacher_terms(total, pred, batch: dict, teachers, ctx: LossContext, epoch: int,
                      epochs: int, found: list | None = None, factors: list | None = None):
    """``total`` plus, for each teacher, weight x decay x its loss on the points it
    teaches; returns (total, {name: the teacher's undecayed, unweighted loss}).

    ``found``: ``teacher_losses``'s answer, if already computed; ``factors``: one per
    teacher, each loss multiplied by it first (training on several processes:
    training/distributed.py, ``Group.shares``)."""
    if found is None:
        found = teacher_losses(pred, batch, teachers, ctx)
    terms = {}
    for k, (t, l_t, _) in enumerate(found):
        if l_t is None:
            continue
        if factors is not None:
            l_t = l_t * factors[k]
        total = total + t.weight * decay_at(t, ctx, epoch, epochs) * l_t
        terms[t.name] = l_t
    return total, terms


@dataclass
class OnlineTeacher:
    """A model run on the student's crop at every step: SimCC logits as the target."""
    name: str
    covers: "torch.Tensor"
    weight: float
    decay: str
    on_gt: "torch.Tensor"
    model: Callable       # images (B, 3, H, W) -> (logits_x, logits_y), no gradient
    kind: str = "online"

    def points(self, batch):
        mask = batch["mask"]
        return self.covers.to(mask.device)[None].expand_as(mask)

    def loss(self, pred, batch, taught, ctx):
        from uniskel.training import losses
        rows = taught.any(-1)  # run the teacher only where it teaches
        if not rows.any():
            return None
        return losses.model_distill_loss([p[rows] for p in pred],
                                         self.model(batch["image"][rows]), taught[rows],
                                         ctx.loss)

    def weight_total(self, batch, taught):
        return taught.sum()


@dataclass
class CachedTeacher:
    """Keypoints computed once per instance (``keypoints(spec, instances)`` -> (n, 21, 3)
    in image pixels, [x, y, confidence]); in a batch they sit in slot ``slot``. It teaches
    the covered points it is confident about (above ``min_conf``), weighted by confidence."""
    name: str
    covers: "torch.Tensor"
    weight: float
    decay: str
    on_gt: "torch.Tensor"
    keypoints: Callable[[DatasetSpec, list], np.ndarray]
    min_conf: float = 0.5
    slot: int = 0
    kind: str = "cached"

    def points(self, batch):
        conf = batch["teacher_conf"][:, self.slot]
        return (self.covers.to(conf.device)[None] & (conf > self.min_conf)
                & ~below_cut(batch, batch["teacher_coords"][:, self.slot]))

    def loss(self, pred, batch, taught, ctx):
        conf = batch["teacher_conf"][:, self.slot]
        return ctx.family.points_loss(pred, batch["teacher_coords"][:, self.slot],
                                      taught.float() * conf, ctx)

    def weight_total(self, batch, taught):
        return (taught.float() * batch["teacher_conf"][:, self.slot]).sum()


@dataclass
class PointsTeacher:
    """A pose network run on the student's own crop at every step (``model``: images ->
    (B, 21, 3) crop px, confidence 0 where it gives nothing). Its decoded points with
    their confidences are the target, in the student family's own loss (``points_loss``):
    the one currency every family takes, whatever the teacher's resolution or heads. It
    teaches the covered points it is confident about (above ``min_conf``), weighted by
    confidence, as a cached teacher does."""
    name: str
    covers: "torch.Tensor"
    weight: float
    decay: str
    on_gt: "torch.Tensor"
    model: Callable
    min_conf: float = 0.5
    kind: str = "online"
    upright: bool = False  # read turned crops stood up (``stood_up``)
    _seen: tuple | None = None  # (the batch's images, the teacher's points on them)

    def run(self, batch):
        """The teacher on this batch's crops, once per batch: its (B, 21, 3) in the
        student's crop pixels. It sees the crops at the teachers' size where the batch
        has them (``teacher_image``, config teacher_size; loop.student_view)."""
        img = batch.get("teacher_image", batch["image"])
        if self._seen is None or self._seen[0] is not img:
            k = self.answer(img, batch["image"].shape[-1])
            self._seen = (img, self.stood_up(img, k, batch) if self.upright else k)
        return self._seen[1]

    def stood_up(self, img, k, batch):
        """``k`` with the crops whose body lies ``turn.MIN_DEGREES`` or more off upright
        read again turned by the quarter turn that stands it up, the points turned back:
        the teacher reads an athlete upside down as it reads people standing, and the
        student learns to read them as they come. The body's direction (hips to
        shoulders) is the labelled one where all four points are labelled, else the
        teacher's own first reading's (those four above ``min_conf``)."""
        import torch

        from uniskel.engine.runtime import turn
        torso = turn.TORSO
        labelled = batch["mask"][:, torso].all(1)
        sure = (k[:, torso, 2] > self.min_conf).all(1)
        xy = torch.where(labelled[:, None, None], batch["coords"][:, torso].to(k),
                         k[:, torso, :2])
        up = xy[:, :2].mean(1) - xy[:, 2:].mean(1)                      # (B, 2) x, y
        off = torch.rad2deg(torch.atan2(up[:, 0].abs(), -up[:, 1])) >= turn.MIN_DEGREES
        turned = (labelled | sure) & off & (up.norm(dim=1) > 1e-6)
        # the turn whose turned body points most up (the crop's up is -y)
        rising = torch.stack([-_rot90_vectors(up, q)[:, 1] for q in range(4)], 1)
        quarter = torch.where(turned, rising.argmax(1), 0)
        out = k.clone()
        size = batch["image"].shape[-1]
        for q in (1, 2, 3):
            rows = torch.nonzero(quarter == q).flatten()
            if len(rows):
                again = self.answer(torch.rot90(img[rows], q, dims=(2, 3)), size)
                out[rows] = torch.cat([_rot90_points(again[..., :2], 4 - q, size),
                                       again[..., 2:]], -1)
        return out

    def answer(self, img, student: int):
        k = self.model(img)
        if img.shape[-1] != student:
            k = k.clone()
            k[..., :2] *= student / img.shape[-1]
        return k

    def keypoints(self, batch) -> "torch.Tensor":
        """Its (B, 21, 3) points in the student's crop pixels."""
        return self.run(batch)

    def points(self, batch):
        k = self.keypoints(batch)
        return (self.covers.to(k.device)[None] & (k[..., 2] > self.min_conf)
                & ~below_cut(batch, k[..., :2]))

    def loss(self, pred, batch, taught, ctx):
        if not taught.any():
            return None
        k = self.run(batch)
        return ctx.family.points_loss(pred, k[..., :2], taught.float() * k[..., 2], ctx)

    def weight_total(self, batch, taught):
        return (taught.float() * self.run(batch)[..., 2]).sum()


def _rot90_points(xy, q: int, size: float):
    """(..., 2) x, y in a square crop of ``size`` px -> where ``torch.rot90(crop, q,
    dims=(2, 3))`` puts them (about the crop's centre)."""
    import torch
    x, y = xy[..., 0], xy[..., 1]
    q %= 4
    if q == 0:
        return xy.clone()
    return torch.stack({1: (y, size - x), 2: (size - x, size - y), 3: (size - y, x)}[q], -1)


def _rot90_vectors(v, q):
    """(B, 2) directions turned as ``_rot90_points`` turns points; ``q`` an int or (B,)."""
    import torch
    q = torch.as_tensor(q, device=v.device).expand(len(v)) % 4
    x, y = v[:, 0], v[:, 1]
    turns = torch.stack([torch.stack(t, -1) for t in ((x, y), (y, -x), (-x, -y), (-y, x))])
    return turns[q, torch.arange(len(v), device=v.device)]


class PointsModel:
    """A frozen pose network as a teacher: crops (B, 3, H, W) RGB 0..255 of any size ->
    (B, 21, 3) unified points in those crops' pixels, with confidences (0 where it gives
    none). Each crop is fitted into the network's input (scaled, centred, black around,
    as the engine feeds MoveNet); thorax and pelvis, where the network lacks them, are
    derived as the skeleton defines them (the midpoints of shoulders and of hips,
    the lower confidence of the two)."""

    def __init__(self, net, input_size: tuple[int, int], index, output: str = "keypoints",
                 codec=None, path: str = ""):
        import torch
        self.net, self.input_size, self.output, self.codec = net, tuple(input_size), output, codec
        self.index = torch.as_tensor(list(index), dtype=torch.long)  # its point k -> unified
        self.gives = np.zeros(skeleton.NUM_KEYPOINTS, bool)
        self.gives[list(index)] = True
        self.derive = [(skeleton.INDEX[d], [skeleton.INDEX[p] for p in parents])
                       for d, parents in skeleton.DERIVED_RULES.items()
                       if not self.gives[skeleton.INDEX[d]]
                       and all(self.gives[skeleton.INDEX[p]] for p in parents)]
        for d, _ in self.derive:
            self.gives[d] = True
        self.path = path

    def names(self) -> list[str]:
        return [skeleton.KEYPOINTS[i] for i in np.flatnonzero(self.gives)]

    @classmethod
    def load(cls, path: str, device) -> "PointsModel":
        """Google's published MoveNet (by name, or its .onnx) or a uniskel .pt checkpoint,
        read as data (``engine.modelfile``); anything else refused in one line."""
        from uniskel.engine import assets
        from uniskel.engine.models.movenet_net import from_movenet
        p = str(path)
        if p in ("movenet_thunder", "movenet_lightning"):
            p = str(assets.asset("models", p + ".onnx"))
        if p.endswith(".onnx"):
            if not Path(p).is_file():
                raise UniskelError(f"teacher {path}: file not found")
            try:
                net = from_movenet(p)
            except Exception as exc:  # any file that is not one: one line
                raise UniskelError(f"teacher {path}: not a published MoveNet ONNX "
                                   f"({type(exc).__name__}: {str(exc)[:200]}); give a uniskel "
                                   f"model as its .pt checkpoint") from None
            size = (net.input_size, net.input_size)
            return cls(_frozen(net, device), size, range(17), path=p)
        from uniskel.engine import modelfile
        from uniskel.engine.models.simcc import SimCC
        if not Path(p).is_file():
            raise UniskelError(f"teacher {path}: checkpoint not found")
        model, mcfg, _ = modelfile.load_checkpoint(Path(p))
        names = list(mcfg.keypoints)[: mcfg.num_keypoints]
        unknown = [n for n in names if n not in skeleton.INDEX]
        if unknown:
            raise UniskelError(f"teacher {path}: keypoints {unknown} are not unified points")
        codec = SimCC.of(mcfg) if mcfg.output == "simcc" else None
        return cls(_frozen(model, device), mcfg.input_size,
                   [skeleton.INDEX[n] for n in names], mcfg.output, codec, p)

    def __call__(self, images):
        import torch
        import torch.nn.functional as F
        with torch.no_grad():
            b, _, h, w = images.shape
            th, tw = self.input_size
            s = min(th / h, tw / w)
            nh, nw = max(1, round(h * s)), max(1, round(w * s))
            x = images.float()
            if (nh, nw) != (h, w):
                x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False)
            top, left = (th - nh) // 2, (tw - nw) // 2
            x = F.pad(x, (left, tw - nw - left, top, th - nh - top))
            if self.output == "simcc":
                lx, ly = self.net(x)
                k = torch.from_numpy(self.codec.decode(lx.float().cpu().numpy(),
                                                       ly.float().cpu().numpy())).to(x)
            else:
                k = self.net(x).float()
            out = torch.zeros(b, skeleton.NUM_KEYPOINTS, 3, device=images.device)
            xy = (k[..., :2] - torch.tensor([left, top], device=k.device)) / s
            idx = self.index.to(images.device)
            out[:, idx, :2] = xy.to(out)
            out[:, idx, 2] = k[..., 2].to(out).clamp(0, 1)
            for d, parents in self.derive:
                out[:, d, :2] = out[:, parents, :2].mean(1)
                out[:, d, 2] = out[:, parents, 2].min(1).values
        return out


class MapsTeacher(PointsTeacher):
    """A MoveNet network's four maps on the student's own crop (``model``: a
    ``MapsModel``) teaching a MoveNet-family student's maps directly
    (``losses.maps_distill_loss``): where each point may be and how sure, not only the
    point it decodes. Points it is unsure of (under ``min_conf``), below a cut or under an
    occluder are not taught, as with ``PointsTeacher``."""

    def answer(self, img, student: int):
        return self.model(img, student)

    def keypoints(self, batch):
        return self.run(batch)[0]

    def loss(self, pred, batch, taught, ctx):
        from uniskel.training import losses
        if not taught.any():
            return None
        return losses.maps_distill_loss(pred, self.run(batch)[1], taught.float(), ctx.loss)

    def weight_total(self, batch, taught):
        return taught.float().sum()


class MapsModel:
    """A frozen MoveNet (published, or a uniskel MoveNet-family .pt) as a maps teacher:
    square crops (B, 3, R, R) RGB 0..255, seen by a student at S (default R) -> its
    decoded points (B, 21, 3) in the student's crop px and its four maps resampled onto
    the student's cells (S/4: cell j reads the teacher at the same crop pixel), in
    unified keypoint order (zeros where it gives nothing), offsets and regression in the
    student's cells."""

    def __init__(self, points: PointsModel):
        self.points = points
        self.net, self.input_size = points.net, points.input_size[0]
        if not hasattr(self.net, "maps"):
            raise UniskelError(f"teacher {points.path}: a movenet_maps teacher must be a "
                               f"MoveNet network (its maps teach); give it as kind = "
                               f"'movenet' instead")
        self.gives = points.gives.copy()
        self.gives[[d for d, _ in points.derive]] = False  # maps exist only for its own

    def __call__(self, images, student: int | None = None):
        """``student``: the student's crop size, when ``images`` are rendered larger."""
        import torch
        import torch.nn.functional as F
        with torch.no_grad():
            b, _, size, _ = images.shape
            s, t = student or size, self.input_size
            x = images.float()
            if size != t:
                x = F.interpolate(x, size=(t, t), mode="bilinear", align_corners=False)
            m = self.net.maps(x)
            k = self.net.decode(m).float()
            r, tc, sc = t / s, t // 4, s // 4
            g = torch.arange(sc, dtype=torch.float32, device=x.device) * r * 2 / (tc - 1) - 1
            grid = torch.stack(torch.meshgrid(g, g, indexing="xy"), -1)[None].expand(b, -1, -1, -1)

            def at_student(v):
                return F.grid_sample(v.float(), grid, mode="bilinear", padding_mode="border",
                                     align_corners=True)
            idx = self.points.index.to(x.device)
            n = skeleton.NUM_KEYPOINTS
            out = {"heatmap": torch.zeros(b, n, sc, sc, device=x.device),
                   "offset": torch.zeros(b, 2 * n, sc, sc, device=x.device),
                   "regress": torch.zeros(b, 2 * n, sc, sc, device=x.device),
                   "center": at_student(m["center"])}
            out["heatmap"][:, idx] = at_student(m["heatmap"])
            pairs = torch.stack([2 * idx, 2 * idx + 1], 1).flatten()
            for name in ("offset", "regress"):
                out[name][:, pairs] = at_student(m[name]) / r
            pts = torch.zeros(b, n, 3, device=images.device)
            pts[:, idx, :2] = (k[..., :2] / r).to(pts)
            pts[:, idx, 2] = k[..., 2].to(pts).clamp(0, 1)
        return pts, out


def _frozen(net, device):
    net = net.eval().to(device)
    for p in net.parameters():
        p.requires_grad_(False)
    return net


# ---------------------------------------------------------------- the kinds

def model_teacher(spec: TeacherSpec, cfg: TrainConfig, datasets: list[str], device,
                  ctx: LossContext) -> OnlineTeacher:
    """kind = "model": a PoseNet checkpoint covering ``spec.skeleton``'s points."""
    lc = ctx.loss
    if not ctx.family.logits:
        raise UniskelError(f"teacher {spec.path}: a 'model' teacher teaches SimCC logits, "
                           f"which the {cfg.arch} student has not; give it as kind = "
                           f"'movenet' (its decoded points teach any student)")
    mt = ModelTeacher(spec.path, teacher_covers(spec.skeleton), device)
    if mt.cfg.bins != tuple(ctx.bins):
        raise UniskelError(f"teacher {spec.path}: input {mt.cfg.input_size} differs from "
                           f"the student's {tuple(cfg.input_size)}")
    role_weight = lc.w_coco_teacher if spec.role == "coco" else lc.w_mpii_teacher
    return OnlineTeacher(f"teacher_{spec.skeleton}", mt.covers.to(device),
                         _or(spec.weight, role_weight), _or(spec.decay, lc.decay),
                         _on_gt(spec, lc, datasets, device), mt)


def blazepose_teacher(spec: TeacherSpec, cfg: TrainConfig, datasets: list[str], device,
                      ctx: LossContext) -> CachedTeacher:
    """kind = "blazepose": BlazePose's 17 COCO points, cached per instance. It is the COCO
    teacher whatever its ``role``: its default weight is ``loss.w_coco_teacher``."""
    import torch
    lc = ctx.loss
    return CachedTeacher("teacher_blazepose", torch.as_tensor(BLAZEPOSE_COVERS, device=device),
                         _or(spec.weight, lc.w_coco_teacher), _or(spec.decay, lc.decay),
                         _on_gt(spec, lc, datasets, device),
                         lambda d, insts: blazepose_keypoints(d, insts, cfg, spec),
                         lc.teacher_min_conf)


def movenet_teacher(spec: TeacherSpec, cfg: TrainConfig, datasets: list[str], device,
                    ctx: LossContext) -> "PointsTeacher":
    """kind = "movenet": a pose network run on the student's crop at every step, its
    decoded points with their confidences teaching ``spec.points`` (default: all it
    gives). ``path``: "movenet_thunder" or "movenet_lightning" (Google's published
    networks, assets/models/), a published MoveNet .onnx, or a uniskel .pt checkpoint of
    any student (e.g. assets/models/uniskel_student_v2.pt, the student v2, 21 points)."""
    import torch
    lc = ctx.loss
    net = PointsModel.load(spec.path, device)
    covers = net.gives.copy()
    if spec.points:
        want = np.zeros(skeleton.NUM_KEYPOINTS, bool)
        want[[skeleton.INDEX[n] for n in spec.points]] = True
        missing = [n for n in spec.points if not covers[skeleton.INDEX[n]]]
        if missing:
            raise UniskelError(f"teacher {spec.path}: it gives no {', '.join(missing)} "
                               f"(it gives {', '.join(net.names())})")
        covers = want
    name = "teacher_" + Path(spec.path).stem.replace("movenet_", "")
    role_weight = lc.w_coco_teacher if spec.role == "coco" else lc.w_mpii_teacher
    return PointsTeacher(name, torch.as_tensor(covers, device=device),
                         _or(spec.weight, role_weight), _or(spec.decay, lc.decay),
                         _on_gt(spec, lc, datasets, device), net,
                         _or(spec.min_conf, lc.teacher_min_conf), upright=spec.upright)


def movenet_maps_teacher(spec: TeacherSpec, cfg: TrainConfig, datasets: list[str], device,
                         ctx: LossContext) -> MapsTeacher:
    """kind = "movenet_maps": as "movenet", but its maps (heatmaps, offsets, regression,
    centre) teach the student's maps, on the points it gives (``spec.points`` narrows
    them). Only a MoveNet-family student has those maps."""
    import torch

    from uniskel.training.students import MOVENET
    if ctx.family is not MOVENET:
        raise UniskelError(f"teacher {spec.path}: a movenet_maps teacher teaches a MoveNet's "
                           f"maps, which the {cfg.arch} student has not; give it as kind = "
                           f"'movenet' (its decoded points teach any student)")
    t = movenet_teacher(spec, cfg, datasets, device, ctx)
    model = MapsModel(t.model)
    covers = t.covers.cpu().numpy() & model.gives
    if not covers.any():
        raise UniskelError(f"teacher {spec.path}: its maps give none of "
                           f"{', '.join(spec.points)}")
    return MapsTeacher(t.name + "_maps", torch.as_tensor(covers, device=device), t.weight,
                       t.decay, t.on_gt, model, t.min_conf)


# kind in a config -> the function building that teacher (spec, cfg, dataset names,
# device, LossContext)
KINDS = {
    "model": model_teacher,
    "blazepose": blazepose_teacher,
    "movenet": movenet_teacher,
    "movenet_maps": movenet_maps_teacher,
}


def build_teachers(cfg: TrainConfig, device, ctx: LossContext) -> list[Teacher]:
    """The teachers of ``cfg`` (none in teacher mode), online ones first, then cached ones
    with their slots in order (the order their loss terms are summed in); names made
    unique. Checks each teacher's decay up front."""
    from uniskel.training import losses
    if cfg.mode == "teacher":
        return []
    datasets = [d.name for d in cfg.datasets]
    built = []
    for spec in cfg.teachers:
        if spec.kind not in KINDS:
            raise UniskelError(f"unknown teacher kind {spec.kind!r} "
                               f"(use {' or '.join(repr(k) for k in KINDS)})")
        built.append(KINDS[spec.kind](spec, cfg, datasets, device, ctx))
    teachers = ([t for t in built if t.kind == "online"]
                + [t for t in built if t.kind != "online"])
    seen, slot = set(), 0
    for t in teachers:
        base, n = t.name, 2
        while t.name in seen:
            t.name, n = f"{base}_{n}", n + 1
        seen.add(t.name)
        if t.kind == "cached":
            t.slot, slot = slot, slot + 1
        try:
            losses.decay_factor(dataclasses.replace(ctx.loss, decay=t.decay), 0, 1)
        except ValueError as exc:
            raise UniskelError(f"{t.name}: {exc}") from None
    return teachers


def _or(value, default):
    return default if value is None else value


def _on_gt(spec: TeacherSpec, lc, datasets: list[str], device):
    import torch
    return torch.tensor([where_gt(spec, lc, n) for n in datasets], device=device)


# ---------------------------------------------------------------- frozen checkpoints

class ModelTeacher:
    """A frozen PoseNet teacher. ``covers`` is the boolean (21,) mask of points it supervises."""

    def __init__(self, path: str | Path, covers: np.ndarray, device="cpu"):
        import torch

        from uniskel.engine.models.model import ModelConfig, from_config
        from uniskel.training.checkpoint import load_checkpoint

        ckpt = load_checkpoint(path)
        cfg = ModelConfig.from_dict(ckpt["config"])
        self.model = from_config(cfg)
        self.model.load_state_dict(ckpt["state_dict"])
        self.model.eval().to(device)
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.cfg = cfg
        self.covers = torch.as_tensor(np.asarray(covers, bool))
        self.path = Path(path)

    def __call__(self, images):
        import torch
        with torch.no_grad():
            return self.model(images)


def teacher_covers(dataset: str) -> np.ndarray:
    """Points a teacher trained on ``dataset`` supervises: the points that dataset annotates."""
    return skeleton.MAPPINGS[dataset].mask.copy()
