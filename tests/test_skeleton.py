"""The unified skeleton: its tables are consistent and the dataset mappings hold on real files."""
import json
from pathlib import Path

import numpy as np
import pytest

from uniskel.engine import skeleton as sk
from uniskel.engine.assets import shared_data

SAMPLES = shared_data() / "format_samples"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(),
                                   reason=f"real format samples not found at {SAMPLES}")


def test_order_follows_the_paper():
    assert sk.NUM_KEYPOINTS == 21
    assert sk.KEYPOINTS[:5] == ("nose", "left_eye", "right_eye", "left_ear", "right_ear")
    assert sk.KEYPOINTS[17:] == ("pelvis", "thorax", "upper_neck", "head_top")


def test_flip_pairs_are_symmetric_and_left_right():
    perm = sk.flip_index()
    assert (perm[perm] == np.arange(21)).all()
    for a, b in sk.FLIP_PAIRS:
        na, nb = sk.KEYPOINTS[a], sk.KEYPOINTS[b]
        assert na.startswith("left_") and nb == "right_" + na[len("left_"):]
    for name in ("pelvis", "thorax", "upper_neck", "head_top", "nose"):
        assert perm[sk.INDEX[name]] == sk.INDEX[name]


def test_subsets_and_tables_are_valid():
    assert len(sk.COCO_SUBSET) == 17 and len(sk.MPII_SUBSET) == 16
    assert len(set(sk.MPII_SUBSET)) == 16
    for sub in sk.SUBSETS.values():
        assert all(0 <= i < 21 for i in sub)
    assert not set(sk.MPII_SUBSET) & {0, 1, 2, 3, 4}  # MPII has no face points
    assert len(sk.EDGES) == len(sk.EDGE_COLORS)
    assert all(0 <= a < 21 and 0 <= b < 21 and a != b for a, b in sk.EDGES)
    assert len(sk.KEYPOINT_COLORS) == 21 and sk.SIGMAS.shape == (21,)
    assert (sk.SIGMAS > 0).all()


def test_every_mapping_is_injective_and_sized():
    sizes = {"coco": 17, "mpii": 16, "lsp": 14, "halpe": 26, "aic": 14, "crowdpose": 14,
             "blazepose": 33}
    for name, n in sizes.items():
        m = sk.MAPPINGS[name]
        assert m.num_native == n
        assert len(set(m.to_unified.values())) == len(m.to_unified)
        with pytest.raises(ValueError):
            m.convert(np.zeros((n + 1, 3)))


@needs_samples
def test_mpii_sample_left_wrist_lands_on_unified_left_wrist():
    ann = json.loads((SAMPLES / "mpii" / "test_mpii.json").read_text())[0]
    joints = np.array(ann["joints"])
    uni = sk.MPII.convert(np.c_[joints, ann["joints_vis"]])
    assert np.allclose(uni[sk.INDEX["left_wrist"], :2], joints[15])
    assert np.allclose(uni[sk.INDEX["head_top"], :2], joints[9])
    # MPII's thorax sits at the shoulder midpoint: the derivation rule we use elsewhere
    derived = sk.derive(uni.copy(), ("thorax",))
    size = np.linalg.norm(joints[9] - joints[8])  # head segment
    assert np.linalg.norm(derived[sk.INDEX["thorax"], :2] - joints[7]) < 0.5 * size
    assert sk.MPII.mask.sum() == 16 and not sk.MPII.mask[:5].any()


@needs_samples
@pytest.mark.parametrize("name,folder,file", [
    ("coco", "coco", "test_coco.json"), ("aic", "aic", "test_aic.json"),
    ("crowdpose", "crowdpose", "test_crowdpose.json"), ("halpe", "halpe", "test_halpe.json")])
def test_coco_like_samples_map_left_shoulder(name, folder, file):
    data = json.loads((SAMPLES / folder / file).read_text())
    m = sk.MAPPINGS[name]
    cat_names = data["categories"][0]["keypoints"]
    checked = 0
    for ann in data["annotations"]:
        k = np.array(ann["keypoints"], float).reshape(-1, 3)[:m.num_native]
        uni = m.convert(k)
        ls = sk.INDEX["left_shoulder"]
        native = m.source[ls]
        assert np.allclose(uni[ls], k[native])
        if cat_names:  # the file names its keypoints: the mapped one must be a left shoulder
            assert cat_names[native].lower().replace(" ", "_") == "left_shoulder"
        # left shoulder is on the person's left: for an upright, front-facing person it has
        # the larger x; at least the left/right shoulders must differ when both labelled
        rs = sk.INDEX["right_shoulder"]
        if uni[ls, 2] > 0 and uni[rs, 2] > 0:
            assert not np.allclose(uni[ls, :2], uni[rs, :2])
            checked += 1
    assert checked > 0


@needs_samples
def test_neck_like_points_sit_near_mpii_upper_neck():
    """AI Challenger / CrowdPose 'neck' lie between shoulders and head top, not at the thorax."""
    for name, folder, file in (("aic", "aic", "test_aic.json"),
                               ("crowdpose", "crowdpose", "test_crowdpose.json")):
        data = json.loads((SAMPLES / folder / file).read_text())
        m = sk.MAPPINGS[name]
        fracs = []
        for ann in data["annotations"]:
            u = m.convert(np.array(ann["keypoints"], float).reshape(-1, 3))
            idx = [sk.INDEX[n] for n in ("left_shoulder", "right_shoulder", "upper_neck",
                                        "head_top")]
            if (u[idx, 2] > 0).all():
                mid = (u[idx[0], :2] + u[idx[1], :2]) / 2
                v = u[idx[3], :2] - mid
                fracs.append(np.dot(u[idx[2], :2] - mid, v) / np.dot(v, v))
        assert fracs and 0.05 < np.median(fracs) < 0.5, (name, fracs)


def test_blazepose_mapping_gives_coco_points_and_derives_centre():
    lm = np.random.default_rng(0).uniform(0, 100, (33, 3))
    u = sk.derive(sk.BLAZEPOSE.convert(lm))
    assert np.allclose(u[sk.INDEX["left_wrist"]], lm[15])
    assert np.allclose(u[sk.INDEX["pelvis"], :2], (lm[23, :2] + lm[24, :2]) / 2)
    provided = sk.provided_mask(sk.BLAZEPOSE)
    assert provided[:19].all() and not provided[19:].any()  # no upper neck / head top


def test_a_predicted_derived_point_is_no_surer_than_its_surer_parent():
    k = np.zeros((2, 21, 3), np.float32)
    pelvis, thorax = sk.INDEX["pelvis"], sk.INDEX["thorax"]
    hips = [sk.INDEX["left_hip"], sk.INDEX["right_hip"]]
    k[:, pelvis, 2] = k[:, thorax, 2] = 0.5
    k[0, hips, 2] = (0.1, 0.05)   # a picture cut above the hips: pelvis goes to 0.1
    k[1, hips, 2] = (0.9, 0.2)    # hips seen: the model's own 0.5 stays
    k[:, [sk.INDEX["left_shoulder"], sk.INDEX["right_shoulder"]], 2] = 0.7
    sk.cap_derived(k)
    assert k[0, pelvis, 2] == pytest.approx(0.1) and k[1, pelvis, 2] == pytest.approx(0.5)
    assert (k[:, thorax, 2] == 0.5).all()


def test_the_pipeline_caps_a_students_derived_points():
    """The shipped student through the pipeline, on the bundled chest-up sample: the
    person's pelvis is no surer than their surer hip (the picture ends above the hips),
    so it is not drawn; the tracker's score is the model's own mean confidence."""
    import cv2

    from uniskel.engine import assets
    from uniskel.engine.backends import create
    from uniskel.engine.runtime.pipeline import Pipeline

    frame = cv2.cvtColor(cv2.imread(str(assets.asset("media", "astronaut.png"))),
                         cv2.COLOR_BGR2RGB)
    be = create("onnx")
    try:
        pipe = Pipeline(be, smoothing=False, detector="search")
        people = pipe.process(frame, 0.0).people
    finally:
        be.close()
    assert len(people) == 1
    k = people[0].keypoints
    hips = [sk.INDEX["left_hip"], sk.INDEX["right_hip"]]
    assert k[sk.INDEX["pelvis"], 2] <= k[hips, 2].max() + 1e-6
    assert k[sk.INDEX["pelvis"], 2] < sk.DRAW_THRESHOLD
