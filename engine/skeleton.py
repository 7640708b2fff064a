"""The unified 21-keypoint skeleton: the one definition used by engine, app and training.

Order (Khan et al. 2024, arXiv 2405.20084, and the authors' mapping):
  0-16  COCO's 17 keypoints in COCO order,
  17    pelvis, 18 thorax, 19 upper neck, 20 head top  (MPII joints 6, 7, 8, 9).

Everything here is plain data (tuples, dicts, numpy arrays built from them) so it can
be read at a glance, imported without Qt or torch, and serialised into model files.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KEYPOINTS: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
    "pelvis", "thorax", "upper_neck", "head_top",
)
NUM_KEYPOINTS = len(KEYPOINTS)
INDEX = {name: i for i, name in enumerate(KEYPOINTS)}

# Left/right pairs (indices into KEYPOINTS); the four centre points have no partner.
FLIP_PAIRS: tuple[tuple[int, int], ...] = (
    (1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16),
)


def flip_index() -> np.ndarray:
    """Permutation that maps each keypoint to its mirror partner (identity for centre points)."""
    perm = np.arange(NUM_KEYPOINTS)
    for a, b in FLIP_PAIRS:
        perm[a], perm[b] = b, a
    return perm


# Body parts, for colours and for the flip test.
PART = {
    "nose": "face", "left_eye": "face", "right_eye": "face", "left_ear": "face", "right_ear": "face",
    "left_shoulder": "left_arm", "left_elbow": "left_arm", "left_wrist": "left_arm",
    "right_shoulder": "right_arm", "right_elbow": "right_arm", "right_wrist": "right_arm",
    "left_hip": "left_leg", "left_knee": "left_leg", "left_ankle": "left_leg",
    "right_hip": "right_leg", "right_knee": "right_leg", "right_ankle": "right_leg",
    "pelvis": "centre", "thorax": "centre", "upper_neck": "centre", "head_top": "centre",
}

# Drawing colours by body part, RGB. Left is warm, right is cool, centre is white-ish.
PART_COLORS = {
    "face": (255, 214, 0),
    "left_arm": (255, 128, 0),
    "right_arm": (0, 170, 255),
    "left_leg": (255, 64, 64),
    "right_leg": (64, 128, 255),
    "centre": (80, 230, 120),
}

# Limb edges (pairs of keypoint names); each edge is drawn in the colour of its part.
_EDGES_BY_NAME = (
    # face
    ("nose", "left_eye", "face"), ("nose", "right_eye", "face"),
    ("left_eye", "left_ear", "face"), ("right_eye", "right_ear", "face"),
    # arms
    ("left_shoulder", "left_elbow", "left_arm"), ("left_elbow", "left_wrist", "left_arm"),
    ("right_shoulder", "right_elbow", "right_arm"), ("right_elbow", "right_wrist", "right_arm"),
    # legs
    ("left_hip", "left_knee", "left_leg"), ("left_knee", "left_ankle", "left_leg"),
    ("right_hip", "right_knee", "right_leg"), ("right_knee", "right_ankle", "right_leg"),
    # COCO-style torso (used when the centre points are hidden)
    ("left_shoulder", "right_shoulder", "centre"), ("left_hip", "right_hip", "centre"),
    ("left_shoulder", "left_hip", "left_leg"), ("right_shoulder", "right_hip", "right_leg"),
    # MPII-style spine and head
    ("pelvis", "thorax", "centre"), ("thorax", "upper_neck", "centre"),
    ("upper_neck", "head_top", "centre"),
    ("thorax", "left_shoulder", "centre"), ("thorax", "right_shoulder", "centre"),
    ("pelvis", "left_hip", "centre"), ("pelvis", "right_hip", "centre"),
)
EDGES: tuple[tuple[int, int], ...] = tuple((INDEX[a], INDEX[b]) for a, b, _ in _EDGES_BY_NAME)
EDGE_COLORS: tuple[tuple[int, int, int], ...] = tuple(PART_COLORS[p] for _, _, p in _EDGES_BY_NAME)
KEYPOINT_COLORS: tuple[tuple[int, int, int], ...] = tuple(PART_COLORS[PART[n]] for n in KEYPOINTS)

# The subsets the GUI toggles, as indices into the 21.
COCO_SUBSET: tuple[int, ...] = tuple(range(17))
MPII_SUBSET: tuple[int, ...] = tuple(INDEX[n] for n in (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "pelvis", "thorax", "upper_neck", "head_top",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
))  # in MPII's own order
ALL_SUBSET: tuple[int, ...] = tuple(range(NUM_KEYPOINTS))
SUBSETS = {"coco": COCO_SUBSET, "mpii": MPII_SUBSET, "all": ALL_SUBSET}

# OKS sigmas. COCO's published values for 0-16. For the four MPII points (no COCO-style
# sigma exists) we choose: pelvis = hip (0.107), thorax = shoulder (0.079),
# upper neck = shoulder (0.079), head top = ear (0.035) * 2.5 = 0.089 (head top is
# placed less consistently by annotators than the ears, roughly like the elbows).
SIGMAS = np.array([
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062,
    0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
    0.107, 0.079, 0.079, 0.089,
], dtype=np.float64)

AREA_FROM_BOX = 0.53  # object area from a box when no segmentation area is known (mmpose)

#: points at least this confident are drawn, by default (the app, ``uniskel infer``, the
#: evaluation's drawn-point checks). The student is sure of fewer points than Lightning:
#: at 0.2 it drew 54.5% of the labelled points of held-out COCO people where they are, at
#: 0.15 61.8%, for 1.3 more in 100 drawn wrong; cut at mid-torso, 6.8% of the LSPET points
#: below the cut are drawn at 0.15 (model card)
DRAW_THRESHOLD = 0.15


def keypoint_similarity(pred, gt, area, sigmas=SIGMAS) -> np.ndarray:
    """(N, K) each point's own term of COCO's OKS: exp(-d^2 / (2 area (2 sigma)^2)).

    pred, gt (N, K, >=2); area (N,); sigmas (K,), by default the unified skeleton's."""
    pred = np.asarray(pred, np.float64)[..., :2]
    gt = np.asarray(gt, np.float64)[..., :2]
    var = (2 * np.asarray(sigmas, np.float64)) ** 2
    area = np.asarray(area, np.float64).reshape(-1, 1)
    return np.exp(-((pred - gt) ** 2).sum(-1) / var / (area + np.spacing(1)) / 2)


def oks(pred, gt, visible, area, sigmas=SIGMAS) -> np.ndarray:
    """(N,) COCO object keypoint similarity of one prediction per ground truth.

    pred, gt (N, K, >=2); visible (N, K) bool (gt v > 0); area (N,); sigmas (K,), by
    default the unified skeleton's.
    Matches ``COCOeval.computeOks`` for people with at least one labelled point (NaN
    for people with none)."""
    vis = np.asarray(visible, bool)
    s = np.where(vis, keypoint_similarity(pred, gt, area, sigmas), 0.0).sum(-1)
    n = vis.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)


@dataclass(frozen=True)
class DatasetMapping:
    """How one dataset's native keypoint order lands in the unified 21.

    ``source[i]`` is the native index that fills unified point ``i`` (``-1``: not
    annotated). ``derived`` lists unified points computed from other unified points by
    a documented rule (see ``DERIVED_RULES``) when a model or dataset does not give them.
    """

    name: str
    native_names: tuple[str, ...]
    to_unified: dict[int, int]  # native index -> unified index
    derived: tuple[str, ...] = ()

    @property
    def num_native(self) -> int:
        return len(self.native_names)

    @property
    def source(self) -> np.ndarray:
        src = np.full(NUM_KEYPOINTS, -1, dtype=np.int64)
        for n, u in self.to_unified.items():
            src[u] = n
        return src

    @property
    def mask(self) -> np.ndarray:
        """Boolean (21,): which unified points this dataset annotates directly."""
        return self.source >= 0

    def convert(self, native: np.ndarray) -> np.ndarray:
        """Native (..., K, C) array -> unified (..., 21, C); missing points are zero."""
        native = np.asarray(native, dtype=np.float64)
        if native.shape[-2] != self.num_native:
            raise ValueError(
                f"{self.name}: expected {self.num_native} keypoints, got {native.shape[-2]}")
        out = np.zeros(native.shape[:-2] + (NUM_KEYPOINTS, native.shape[-1]))
        src = self.source
        have = src >= 0
        out[..., have, :] = native[..., src[have], :]
        return out


# Rules for points that a source does not give directly: the midpoint of two unified
# points. MPII's thorax sits at the shoulder midpoint and its pelvis at the hip midpoint
# (checked on the MPII format samples), so these are the rules we use wherever a model
# (BlazePose) or a dataset (COCO, LSP) lacks them.
DERIVED_RULES: dict[str, tuple[str, str]] = {
    "thorax": ("left_shoulder", "right_shoulder"),
    "pelvis": ("left_hip", "right_hip"),
}


def derive(kpts: np.ndarray, names=("thorax", "pelvis")) -> np.ndarray:
    """Fill derived points in a unified (..., 21, 3) array [x, y, score] in place.

    The derived score is the smaller of the two parents' scores."""
    for name in names:
        a, b = (INDEX[n] for n in DERIVED_RULES[name])
        i = INDEX[name]
        kpts[..., i, :2] = (kpts[..., a, :2] + kpts[..., b, :2]) / 2
        kpts[..., i, 2] = np.minimum(kpts[..., a, 2], kpts[..., b, 2])
    return kpts


#: the points that say where a head is (its top: the highest labelled of them)
HEAD_POINTS = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "head_top")


def head_and_shoulders(kpts: np.ndarray, mask: np.ndarray):
    """Where a close-up of an upright person would frame them: (x, y) of the shoulders'
    midpoint, the y of the head's highest labelled point, and a unit size (the shoulder
    width, or how far the head reaches above the shoulders if more); None without both
    shoulders and a head point labelled, for a person under 8 px, or one not upright.
    ``kpts`` (21, >=2), ``mask`` (21,) bool. Used by the close-up crops of training and
    evaluation alike."""
    shoulders = [INDEX["left_shoulder"], INDEX["right_shoulder"]]
    head = [INDEX[n] for n in HEAD_POINTS]
    mask = np.asarray(mask, bool)
    if not mask[shoulders].all() or not mask[head].any():
        return None
    sx, sy = (float(v) for v in kpts[shoulders, :2].mean(0))
    top = float(kpts[head, 1][mask[head]].min())
    unit = max(float(np.linalg.norm(kpts[shoulders[0], :2] - kpts[shoulders[1], :2])),
               sy - top)
    if unit < 8 or sy - top < 0.3 * unit:  # too small, or not upright (a handstand)
        return None
    return (sx, sy), top, unit


def cap_derived(kpts: np.ndarray) -> np.ndarray:
    """For a model that predicts the derived points itself: each no surer than the surer
    of its two parents, in place on (..., 21, 3). A pelvis the model half-believes in at
    the lower edge of a picture cut above the hips (both hips unsure) is not drawn."""
    for name, (a, b) in DERIVED_RULES.items():
        i = INDEX[name]
        parents = np.maximum(kpts[..., INDEX[a], 2], kpts[..., INDEX[b], 2])
        kpts[..., i, 2] = np.minimum(kpts[..., i, 2], parents)
    return kpts


def _mapping(name, native_names, unified_names, derived=()):
    to_unified = {}
    for n, u in enumerate(unified_names):
        if u is not None:
            to_unified[n] = INDEX[u]
    return DatasetMapping(name, tuple(native_names), to_unified, tuple(derived))


COCO = _mapping("coco", KEYPOINTS[:17], KEYPOINTS[:17], derived=("thorax", "pelvis"))

_MPII_NAMES = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
               "pelvis", "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow",
               "right_shoulder", "left_shoulder", "left_elbow", "left_wrist")
MPII = _mapping("mpii", _MPII_NAMES, _MPII_NAMES)

# LSP's "neck" sits about a fifth of the way from the shoulder midpoint to the head top
# (median 0.19 over LSPET), where MPII's upper neck is (0.10) and well above its thorax
# (0.00): it maps to upper_neck. AI Challenger (0.22) and CrowdPose (0.20) likewise.
_LSP_NAMES = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
              "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
              "left_wrist", "neck", "head_top")
LSP = _mapping("lsp", _LSP_NAMES, _LSP_NAMES[:12] + ("upper_neck", "head_top"),
               derived=("thorax", "pelvis"))

_HALPE_NAMES = KEYPOINTS[:17] + ("head", "neck", "hip", "left_big_toe", "right_big_toe",
                                 "left_small_toe", "right_small_toe", "left_heel", "right_heel")
HALPE = _mapping("halpe", _HALPE_NAMES,
                 KEYPOINTS[:17] + ("head_top", "upper_neck", "pelvis") + (None,) * 6,
                 derived=("thorax",))

_AIC_NAMES = ("right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
              "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
              "left_ankle", "head_top", "neck")
AIC = _mapping("aic", _AIC_NAMES, _AIC_NAMES[:13] + ("upper_neck",), derived=("thorax", "pelvis"))

_CROWDPOSE_NAMES = ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
                    "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee",
                    "left_ankle", "right_ankle", "head", "neck")
CROWDPOSE = _mapping("crowdpose", _CROWDPOSE_NAMES,
                     _CROWDPOSE_NAMES[:12] + ("head_top", "upper_neck"),
                     derived=("thorax", "pelvis"))

# MediaPipe BlazePose: 33 landmarks. It gives the 17 COCO points directly; thorax and
# pelvis are derived (shoulder / hip midpoints); upper neck and head top: not provided.
_BLAZEPOSE_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
    "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb",
    "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
BLAZEPOSE = _mapping("blazepose", _BLAZEPOSE_NAMES,
                     tuple(n if n in INDEX else None for n in _BLAZEPOSE_NAMES),
                     derived=("thorax", "pelvis"))

MAPPINGS = {m.name: m for m in (COCO, MPII, LSP, HALPE, AIC, CROWDPOSE, BLAZEPOSE)}


def provided_mask(mapping: DatasetMapping) -> np.ndarray:
    """Points a source gives directly or by a derivation rule."""
    m = mapping.mask.copy()
    for name in mapping.derived:
        m[INDEX[name]] = True
    return m
