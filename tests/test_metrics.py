"""Metrics: PCK, torso / head sizes, OKS against hand-computed values and pycocotools."""
import math

import numpy as np
import pytest

from uniskel.engine import skeleton as sk
from uniskel.training import metrics as M

I = sk.INDEX


def _person(n_labelled=17, seed=0):
    rng = np.random.default_rng(seed)
    gt = np.zeros((17, 3))
    gt[:, :2] = rng.uniform(100, 200, (17, 2))
    gt[:n_labelled, 2] = 2
    return gt


def test_oks_matches_hand_computation_and_pycocotools_ap():
    """Two labelled points; the left wrist moved by d: OKS = (1 + exp(-d^2/(2 A k^2))) / 2."""
    sigmas = sk.SIGMAS[:17]
    gt = np.zeros((17, 3))
    gt[I["left_shoulder"]] = (150, 120, 2)
    gt[I["left_wrist"]] = (170, 180, 2)
    area = 10_000.0
    k = 2 * sigmas[I["left_wrist"]]
    d = math.sqrt(-math.log(0.62) * 2 * area * k * k)  # wrist term exp(.) = 0.62
    pred = gt.copy()
    pred[I["left_wrist"], 0] += d * 0.6
    pred[I["left_wrist"], 1] -= d * 0.8
    expected = (1 + 0.62) / 2  # 0.81
    got = M.oks(pred[None], gt[None], gt[None, :, 2] > 0, [area], sigmas)
    assert got[0] == pytest.approx(expected, abs=1e-9)

    box = (140, 110, 180, 190)
    res = M.coco_ap(gt[None], pred[None], [1], sigmas, areas=[area], boxes=[box])
    # matched at OKS thresholds 0.50 ... 0.80 (7 of 10), missed at 0.85 ... 0.95
    assert res["AP"] == pytest.approx(0.7, abs=1e-6)
    assert res["AP50"] == pytest.approx(1.0) and res["AP75"] == pytest.approx(1.0)
    assert res["AR"] == pytest.approx(0.7, abs=1e-6) and res["instances"] == 1

    perfect = M.coco_ap(gt[None], gt[None], [1], sigmas, areas=[area], boxes=[box])
    assert perfect["AP"] == pytest.approx(1.0) and perfect["AR"] == pytest.approx(1.0)


def test_coco_ap_several_people_and_misses():
    sigmas = sk.SIGMAS[:17]
    gt = np.stack([_person(seed=s) for s in range(4)])
    gt[:, :, :2] += np.arange(4)[:, None, None] * 300  # apart from each other
    pred = gt.copy()
    pred[3, :, :2] += 500  # the 4th prediction is far off
    res = M.coco_ap(gt, pred, [1, 1, 2, 2], sigmas, scores=[0.9, 0.8, 0.7, 0.6])
    assert res["AR"] == pytest.approx(0.75) and res["AP"] == pytest.approx(0.75, abs=0.01)
    assert math.isnan(res["APm"]) or 0 <= res["APm"] <= 1  # -1 from pycocotools -> NaN
    # the low-scored miss ranks last: precision stays 1 up to recall 0.75
    worse = M.coco_ap(gt, pred, [1, 1, 2, 2], sigmas, scores=[0.6, 0.7, 0.8, 0.9])
    assert worse["AP"] < res["AP"]


def test_oks_matches_pycocotools_compute_oks():
    from pycocotools.cocoeval import COCOeval

    sigmas = sk.SIGMAS[:17]
    gt = _person(12, seed=3)
    rng = np.random.default_rng(1)
    pred = gt.copy()
    pred[:, :2] += rng.normal(0, 4, (17, 2))
    area = 5000.0
    ev = COCOeval(iouType="keypoints")
    ev.params.kpt_oks_sigmas = sigmas
    ev._gts = {(1, 1): [{"keypoints": gt.reshape(-1).tolist(), "bbox": [0, 0, 10, 10],
                         "area": area}]}
    ev._dts = {(1, 1): [{"keypoints": pred.reshape(-1).tolist(), "score": 1.0}]}
    theirs = ev.computeOks(1, 1)[0, 0]
    ours = M.oks(pred[None], gt[None], gt[None, :, 2] > 0, [area], sigmas)[0]
    assert ours == pytest.approx(theirs, rel=1e-12)


def test_pck_hits_thresholds_and_invalid_people():
    gt = np.zeros((3, 4, 2))
    gt[:, :, 0] = np.arange(4) * 10
    pred = gt.copy()
    pred[0, 0, 0] += 2.0  # exactly 0.2 * 10: counts
    pred[0, 1, 0] += 2.01  # just over
    pred[0, 2] = np.nan  # no prediction: wrong
    vis = np.ones((3, 4), bool)
    vis[1, 3] = False
    res = M.pck(pred, gt, vis, [10.0, 10.0, np.nan], 0.2)
    assert res.valid.sum() == 7  # person 2 has no normaliser, person 1 joint 3 unlabelled
    assert res.hits[0].tolist() == [True, False, False, True]
    assert res.mean() == pytest.approx(5 / 7)
    assert res.per_keypoint.tolist() == pytest.approx([1.0, 0.5, 0.5, 1.0])
    assert res.mean([0, 3]) == pytest.approx(1.0) and res.count([3]) == 1


def test_torso_and_head_sizes():
    gt = np.zeros((3, 21, 2))
    gt[:, I["right_shoulder"]] = (0, 0)
    gt[:, I["left_hip"]] = (30, 40)  # diagonal 50
    gt[:, I["left_shoulder"]] = (30, 0)
    gt[:, I["right_hip"]] = (0, 40)  # other diagonal 50, right side 40
    mask = np.ones((3, 21), bool)
    mask[1, I["left_hip"]] = False  # -> other diagonal
    mask[2, [I["left_hip"], I["left_shoulder"]]] = False  # -> right side * 1.15
    t = M.torso_size(gt, mask, I)
    assert t.tolist() == pytest.approx([50, 50, 40 * M.SIDE_TO_DIAGONAL])
    mask[2, I["right_hip"]] = False
    assert math.isnan(M.torso_size(gt, mask, I)[2])

    gt[:, I["upper_neck"]] = (10, 10)
    gt[:, I["head_top"]] = (10, 40)
    boxes = np.array([[0, 0, 30, 40], [np.nan] * 4, [0, 0, 0, 0]])
    h = M.head_size(gt, mask, I, boxes)
    assert h.tolist() == pytest.approx([0.6 * 50, 30, 30])
    assert M.head_size(gt, mask, I).tolist() == pytest.approx([30, 30, 30])


def test_paper_table():
    results = {
        "student": {"coco": {"AP": 0.5, "AR": 0.6, "instances": 10},
                    "lsp": {"PCK@0.2": 0.7, "per_keypoint": {}}, "mpii": {"PCKh@0.5": 0.9}},
        "blazepose": {"coco": 0.6, "mpii": 0.8},
    }
    md, table = M.paper_table(results)
    lines = md.splitlines()
    assert lines[0] == "| model | coco | lsp | mpii | average |"
    assert lines[2] == "| student | 50.0 | 70.0 | 90.0 | 70.0 |"
    assert lines[3] == "| blazepose | 60.0 | - | 80.0 | 70.0* |"
    assert "average over the datasets" in md
    assert table["student"]["average"] == pytest.approx(0.7)
    assert table["blazepose"] == {"coco": 0.6, "mpii": 0.8, "average": pytest.approx(0.7)}
    md2, _ = M.paper_table({"a": {"x": 0.25}}, datasets=["x"], digits=2)
    assert "| a | 25.00 | 25.00 |" in md2 and "*" not in md2
    with pytest.raises(KeyError):
        M.paper_table({"a": {"x": {"loss": 1.0}}})
