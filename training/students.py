"""The student table: one row per student network ``uniskel train`` can make, each with
its family, and each family with its losses. Every list of students derives from
``STUDENTS`` (the config check, ``--arch``'s choices); ``engine.models.model.SIZES`` holds the
same names for inference (tests/test_students.py keeps the two equal).

A family says how the training loop reads the network and what pulls it towards points:

``simcc``    the CSPNeXt/SimCC students and BlazePose's backbone with a SimCC head: the
             network's SimCC logits; ground truth and point teachers by the SimCC KL loss
             (``losses.simcc_loss``, exactly as before the table), logit teachers (kind
             "model") by the KL between the two distributions.
``movenet``  MoveNet's network with all 21 points (Lightning's or Thunder's width): the
             network's four maps (``MoveNet.maps``: heatmaps, offsets, regression from the
             person centre, centre); ground truth and point teachers by the student v2's
             losses (``losses.heatmap_points_loss``: focal heatmaps, L1 offsets and
             regression, the centre map, empty maps for points hidden below a cut). It
             has no SimCC logits, so logit teachers cannot teach it; point teachers
             (kind "blazepose", "movenet") can.

Teachers give every family the same currency: points in the student's crop with their
confidences (training/teachers.py), turned into the family's own loss by ``points_loss``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from uniskel.training.losses import LossConfig


class SimCCFamily:
    """Students whose network gives SimCC logits (x, y)."""
    name = "simcc"
    logits = True  # a logit teacher's SimCC distributions can teach it

    def view(self, model):
        """The module the training loop calls: the network itself."""
        return model

    def gt_loss(self, pred, batch: dict, ctx: "LossContext"):
        from uniskel.training import losses
        return losses.simcc_loss(pred, batch["coords"], ctx.labelled(batch), ctx.bins,
                                 ctx.split_ratio, ctx.loss)

    def gt_total(self, batch: dict, ctx: "LossContext"):
        """The point weight ``gt_loss`` is a mean over (before its clamp at 1)."""
        return ctx.labelled(batch).sum()

    def points_loss(self, pred, coords, weight, ctx: "LossContext"):
        """Pull the student towards ``coords`` (B, 21, 2) crop px, point weights (B, 21)."""
        from uniskel.training import losses
        return losses.simcc_loss(pred, coords, weight, ctx.bins, ctx.split_ratio, ctx.loss)


def maps_view(net):
    """The module the loop calls for a MoveNet: its maps, not its decoded points (a
    module, so DistributedDataParallel can wrap it; the weights stay the network's)."""
    import torch

    class MoveNetMaps(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, img):
            return self.net.maps(img)
    return MoveNetMaps(net)


class MoveNetFamily:
    """MoveNet's network (engine/models/movenet_net.py) with its four heads."""
    name = "movenet"
    logits = False

    def view(self, model):
        return maps_view(model)

    def gt_loss(self, pred, batch: dict, ctx: "LossContext"):
        from uniskel.training import losses
        return losses.heatmap_points_loss(pred, batch["coords"], ctx.labelled(batch),
                                          ctx.input_size[1], ctx.loss, batch.get("hidden"),
                                          *labelled_centres(batch["coords"], batch["mask"]))

    def gt_total(self, batch: dict, ctx: "LossContext"):
        return ctx.labelled(batch).sum()

    def points_loss(self, pred, coords, weight, ctx: "LossContext"):
        from uniskel.training import losses
        return losses.heatmap_points_loss(pred, coords, weight, ctx.input_size[1], ctx.loss)


def labelled_centres(coords, mask):
    """Each sample's person centre for the centre map: the mean of its labelled points
    (N, 2) (on real LSPET crops the published Lightning's own centre lies a median 10 px
    from it at 192 px, 16 px from the middle of their box), and (N,) whether it has two
    or more labelled points."""
    m = mask.float()[..., None]
    ok = mask.sum(1) >= 2
    return (coords.float() * m).sum(1) / m.sum(1).clamp_min(1.0), ok


SIMCC, MOVENET = SimCCFamily(), MoveNetFamily()


@dataclass
class LossContext:
    """What every loss term needs besides the tensors: the loss settings, the student's
    SimCC geometry, its family (its losses) and input size."""
    loss: "LossConfig"
    bins: tuple[int, int]
    split_ratio: float
    family: object = None                     # None: the SimCC family
    input_size: tuple[int, int] = (0, 0)      # (height, width)

    def __post_init__(self):
        if self.family is None:
            self.family = SIMCC

    def labelled(self, batch: dict):
        """The ground-truth loss's point weights (B, K): the labelled mask, each point
        times its ``loss.label_weights`` factor (1 where none is given)."""
        mask = batch["mask"]
        if not self.loss.label_weights:
            return mask
        from uniskel.engine.skeleton import INDEX
        import torch
        f = torch.ones(mask.shape[-1], device=mask.device)
        for name, x in self.loss.label_weights.items():
            f[INDEX[name]] = float(x)
        return mask.float() * f


@dataclass(frozen=True)
class Student:
    arch: str                 # engine.models.model.SIZES's name, a config's ``arch``
    family: object            # SIMCC | MOVENET
    about: str
    published: str = ""       # the published weights ``init_from = "<arch>"`` starts from
                              # (assets/models/...), widened to all 21 points
    square: bool = False      # the input must be square, a multiple of 32
    model: dict = field(default_factory=dict)  # ModelConfig values besides the arch's


STUDENTS = {s.arch: s for s in (
    Student("tiny", SIMCC, "CSPNeXt backbone, SimCC head (RTMPose-t-like)"),
    Student("small", SIMCC, "CSPNeXt backbone, SimCC head (RTMPose-s-like)"),
    Student("medium", SIMCC, "CSPNeXt backbone, SimCC head (RTMPose-m-like)"),
    Student("blaze_lite", SIMCC, "BlazePose lite's landmark backbone, SimCC head"),
    Student("blaze_full", SIMCC, "BlazePose full's landmark backbone, SimCC head"),
    Student("movenet_lightning", MOVENET, "MoveNet Lightning's network, all 21 points "
            "(the student v2)", "movenet_lightning.onnx", True, {"person_score": 0.2}),
    Student("movenet_thunder", MOVENET, "MoveNet Thunder's network (backbone 1.75x as "
            "wide), all 21 points", "movenet_thunder.onnx", True, {"person_score": 0.2}),
)}

#: unified names of keypoints 17.. (the points a published MoveNet lacks)
EXTRA = ("pelvis", "thorax", "upper_neck", "head_top")


def row(arch: str) -> Student:
    from uniskel.engine.errors import UniskelError
    if arch not in STUDENTS:
        raise UniskelError(f"unknown student arch {arch!r} (use one of {', '.join(STUDENTS)})")
    return STUDENTS[arch]


def problem(arch: str, input_size) -> str | None:
    """What cannot be right about this student at this input size, or None."""
    s = STUDENTS.get(arch)
    if s is None or not s.square:
        return None
    h, w = input_size
    if h != w or h % 32:
        return (f"input_size = {list(input_size)}: {arch} needs a square input, a multiple "
                f"of 32 (e.g. [192, 192])")
    return None


def published_weights(model, student: Student, path: str = "") -> int:
    """Load Google's published MoveNet weights (``student.published``, or the ONNX at
    ``path``) into ``model``, the added points' channels started from their neighbours';
    returns how many tensors. Refused in one line when the widths differ."""
    from uniskel.engine import assets
    from uniskel.engine.errors import UniskelError
    from uniskel.engine.models.movenet_net import from_movenet

    src = path or str(assets.asset("models", student.published))
    k = model.num_keypoints
    try:
        published = from_movenet(src, k, EXTRA[: k - 17])
    except Exception as exc:  # any file that is not one: one line (onnx's own errors vary)
        raise UniskelError(f"init_from {src}: not a published MoveNet ONNX "
                           f"({type(exc).__name__}: {str(exc)[:200]})") from None
    own, theirs = model.state_dict(), published.state_dict()
    wrong = [n for n in own if n not in theirs or theirs[n].shape != own[n].shape]
    if wrong:
        raise UniskelError(f"init_from {src}: its network is not {student.arch}'s "
                           f"({len(wrong)} tensors differ in shape, e.g. {wrong[0]}); start "
                           f"{student.arch} from its own published weights")
    model.load_state_dict(theirs)
    return len(theirs)
