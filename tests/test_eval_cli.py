"""`uniskel eval` and its core: crops, the inverse mapping, metrics, the command line.

The "oracle" predictor returns the ground truth mapped into each crop, so a correct
crop -> predict -> inverse-warp -> metric chain must score exactly 1.0; a random-init
PoseNet checks the real model path end to end (its score itself means nothing).
"""
import argparse
import json
import subprocess
import sys

import numpy as np
import pytest

from uniskel.engine.runtime import crop as C
from uniskel.engine import skeleton as sk
from uniskel.engine.assets import shared_data
from uniskel.engine.errors import UniskelError
from uniskel.training import datasets as D
from uniskel.training import evaluate as E
from uniskel.training.cuts import cut_close_up
from uniskel.commands import eval as eval_command
from uniskel.training import metrics as M

DATA = shared_data()
SAMPLES = DATA / "format_samples"
LSPET = DATA / "lspet"
SIZE = (160, 128)

pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared data not present")


class Oracle:
    """A backend that 'predicts' the ground truth of the instances it is fed, in order
    (so the evaluations it reads take no second look at turned people: ``turn=False``)."""

    name = "oracle"
    input_size = SIZE

    def __init__(self, instances, provided=None, shift=None):
        self.it = iter(instances)
        self.provided = np.ones(21, bool) if provided is None else provided
        self.shift = shift or {}
        self.calls = 0

    def infer(self, crops):
        assert crops.dtype == np.uint8 and crops.shape[1:] == (*SIZE, 3)
        self.calls += 1
        out = np.zeros((len(crops), 21, 3))
        for n in range(len(crops)):
            inst = next(self.it)
            c, s = C.box_to_center_scale(inst.box, SIZE, E.PADDING)
            m = C.warp_matrix(c, s, SIZE)
            out[n, :, :2] = C.apply(m, inst.keypoints[:, :2])
            out[n, :, 2] = 0.9
            for k, d in self.shift.items():
                out[n, k, :2] += d
            out[n, ~self.provided] = 0  # what a backend gives for points it lacks
        return out


def uniskel_eval(argv):
    """``uniskel eval ARGV`` as uniskel.commands runs it (parser, run, UniskelError -> exit 2),
    without importing the other subcommands' modules."""
    parser = argparse.ArgumentParser(prog="uniskel eval")
    eval_command.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return eval_command.run(args)
    except UniskelError as exc:
        print(f"uniskel eval: error: {exc}", file=sys.stderr)
        return 2


def lspet(a, b):
    return D.read_lsp(LSPET / "joints.mat", LSPET / "images", index_range=(a, b))


def test_oracle_scores_one_on_every_format():
    cases = [
        ("coco", SAMPLES / "coco" / "test_coco.json", SAMPLES / "coco", "AP"),
        ("halpe", SAMPLES / "halpe" / "test_halpe.json", SAMPLES / "coco", "AP"),
        ("aic", SAMPLES / "aic" / "test_aic.json", SAMPLES / "aic", "AP"),
        ("crowdpose", SAMPLES / "crowdpose" / "test_crowdpose.json", SAMPLES / "crowdpose", "AP"),
        ("mpii", SAMPLES / "mpii" / "test_mpii.json", SAMPLES / "mpii", "PCKh@0.5"),
    ]
    for fmt, ann, images, key in cases:
        insts = D.read(fmt, ann, images)
        oracle = Oracle(insts)
        res = E.evaluate(oracle.infer, insts, fmt, SIZE, batch_size=5, turn=False)
        assert res[key] == pytest.approx(1.0), fmt
        assert res["instances"] == len(insts) and res["skipped"] == 0
    assert res["per_keypoint"]["head_top"] == 1.0 and set(res["per_keypoint"]) == set(sk.MPII.native_names)
    assert res["joints"] == 66  # 5 people, 16 joints, 4 ankles unlabelled, pelvis/thorax left out


def test_the_close_up_framing_check():
    """--cut close-up: each upright person boxed from above the head to half a shoulder
    width below the shoulders, the picture ending there. An oracle draws every point in
    the picture right (1.0) and every point below it (1.0: all drawn where nothing is
    seen); one that puts a shoulder a third of the crop off loses that point."""
    insts = D.read("coco", SAMPLES / "coco" / "test_coco.json", SAMPLES / "coco")
    near = cut_close_up(insts)
    assert 0 < len(near) <= len(insts)
    sh = [sk.INDEX["left_shoulder"], sk.INDEX["right_shoulder"]]
    for i in near:
        assert i.box[3] == i.meta["cut_y"] and (i.keypoints[sh, 1] < i.meta["cut_y"]).all()
        width = np.linalg.norm(i.keypoints[sh[0], :2] - i.keypoints[sh[1], :2])
        assert i.box[2] - i.box[0] >= 1.8 * width - 1e-6
    res = E.evaluate(Oracle(near).infer, insts, "coco", SIZE, batch_size=4, cut="close-up",
                     turn=False)
    assert res["cut"] == "close-up" and res["instances"] == len(near)
    assert res["AP"] == pytest.approx(1.0)
    assert res["inside_drawn_right"] == 1.0 and res["outside_drawn"] == 1.0
    off = Oracle(near, shift={sh[0]: (40.0, 0.0)})  # a third of the crop's width
    res = E.evaluate(off.infer, insts, "coco", SIZE, batch_size=4, cut="close-up", turn=False)
    assert res["inside_drawn_right"] < 1.0


def test_lsp_pck_per_joint_and_provided():
    insts = lspet(7500, 7540)
    res = E.evaluate(Oracle(insts, shift={sk.INDEX["left_wrist"]: (40.0, 0.0)}).infer,
                     insts, "lsp", SIZE, batch_size=16, turn=False)
    per = res["per_keypoint"]
    assert per["left_wrist"] == 0.0 and per["right_wrist"] == 1.0
    assert list(per)[-2:] == ["neck", "head_top"] and len(per) == 14
    gt, mask = D.stack_keypoints(insts)
    has_torso = np.isfinite(M.torso_size(gt, mask, sk.INDEX))
    n_lw = mask[has_torso, sk.INDEX["left_wrist"]].sum()
    assert n_lw > 20
    assert res["PCK@0.2"] == pytest.approx(1 - n_lw / res["joints"])
    assert res["instances"] + res["not_evaluated"] == 40

    # a BlazePose-like backend: no upper neck / head top
    provided = sk.provided_mask(sk.BLAZEPOSE)
    res = E.evaluate(Oracle(insts, provided=provided).infer, insts, "lsp", SIZE,
                     provided=provided, turn=False)
    assert res["PCK@0.2_provided"] == pytest.approx(1.0)
    assert res["PCK@0.2"] < 0.95 and res["per_keypoint"]["head_top"] == 0.0
    assert "head_top" not in res["provided_keypoints"] and len(res["provided_keypoints"]) == 12


def test_pck_by_orientation_groups_people_by_their_neck_to_head_top_line():
    """Three people, head up, lying on their side, upside down: each in their own group,
    a head top missed only upside down counts there alone; no group for an unlabelled
    head top."""
    top, neck = sk.INDEX["head_top"], sk.INDEX["upper_neck"]
    gt = np.zeros((4, sk.NUM_KEYPOINTS, 2))
    mask = np.zeros((4, sk.NUM_KEYPOINTS), bool)
    mask[:, [top, neck]] = True
    for i, d in enumerate([(0, -30), (30, 5), (-5, 30), (0, -30)]):
        gt[i, neck] = (100, 100)
        gt[i, top] = (100 + d[0], 100 + d[1])
    mask[3, top] = False
    pred = gt.copy()
    pred[2, top] += 50  # upside down: missed
    res = M.pck(pred, gt, mask, np.full(4, 100.0), 0.2)
    out = E.by_orientation(res, gt, mask, [top, neck])
    assert [out[k]["people"] for k in ("upright", "sideways", "upside down")] == [1, 1, 1]
    assert out["upright"]["head_top"] == 1.0 and out["sideways"]["head_top"] == 1.0
    assert out["upside down"]["head_top"] == 0.0 and out["upside down"]["mean"] == 0.5


def test_unreadable_image_is_skipped_with_a_warning_or_raises(tmp_path):
    insts = lspet(7500, 7504)
    broken = tmp_path / "im07502.jpg"
    broken.write_bytes(b"not a jpeg")
    insts[1].image = broken
    kept = [i for n, i in enumerate(insts) if n != 1]
    res = E.evaluate(Oracle(kept).infer, insts, "lsp", SIZE, turn=False)
    assert res["skipped"] == 1 and "im07502.jpg" in res["problems"][0]
    assert res["PCK@0.2"] == pytest.approx(1.0)
    with pytest.raises(UniskelError, match="cannot decode image .*im07502.jpg"):
        E.evaluate(Oracle(kept).infer, insts, "lsp", SIZE, on_error="raise", turn=False)


def test_random_posenet_end_to_end():
    import torch

    from uniskel.engine.models.model import build

    torch.manual_seed(0)
    torch.set_num_threads(1)
    net = build("tiny")
    insts = lspet(7500, 7508)
    res = E.evaluate(E.model_predict_fn(net), insts, "lsp", net.cfg.input_size, batch_size=4)
    assert 0.0 <= res["PCK@0.2"] <= 1.0 and res["instances"] >= 6
    assert all(v is None or 0 <= v <= 1 for v in res["per_keypoint"].values())
    preds, kept = E.predict(E.model_predict_fn(net), insts[:2], net.cfg.input_size)
    assert preds.shape == (2, 21, 3) and np.isfinite(preds).all()
    # predictions are mapped back into the image: within the padded crop around the box
    for p, inst in zip(preds, kept):
        c, s = C.box_to_center_scale(inst.box, net.cfg.input_size, E.PADDING)
        assert (np.abs(p[:, :2] - c) <= s / 2 + 1).all()


@pytest.fixture
def random_checkpoint(tmp_path):
    import torch

    from uniskel.engine.models.model import build

    torch.manual_seed(0)
    net = build("tiny")
    path = tmp_path / "random_tiny.pt"
    torch.save({"config": net.cfg.to_dict(), "state_dict": net.state_dict(),
                "meta": {"note": "random init, tests only"}}, path)
    return path


def test_cli_with_the_cpu_backend(tmp_path, random_checkpoint, capsys):
    out = tmp_path / "res" / "lsp.json"
    rc = uniskel_eval(["--format", "lsp", "--range", "7500:7506", "--backend", "cpu",
                   "--model", str(random_checkpoint), "--json", str(out), "--batch-size", "4"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "PCK@0.2" in printed and "head_top" in printed and "people evaluated" in printed
    res = json.loads(out.read_text())
    assert 0 <= res["PCK@0.2"] <= 1 and res["meta"]["backend"] == "cpu"
    assert res["meta"]["range"] == [7500, 7506] and res["meta"]["model"].endswith("random_tiny.pt")
    assert set(res["per_keypoint"]) == set(sk.LSP.native_names)


def test_cli_oracle_through_create(monkeypatch, tmp_path, capsys):
    """The command line wires reader -> engine.backends.create -> evaluate -> JSON."""
    ann, images = SAMPLES / "coco" / "test_coco.json", SAMPLES / "coco"
    seen = {}

    def fake_create(name, model_path=None, **kw):
        seen["args"] = (name, model_path)
        return Oracle(D.read_coco(ann, images)[:7])

    monkeypatch.setattr("uniskel.engine.backends.create", fake_create)
    out = tmp_path / "coco.json"
    rc = uniskel_eval(["--format", "coco", "--images", str(images), "--annotations", str(ann),
                   "--limit", "7", "--no-turn", "--json", str(out)])
    assert rc == 0 and seen["args"] == ("auto", None)
    res = json.loads(out.read_text())
    assert res["AP"] == pytest.approx(1.0) and res["instances"] == 7
    assert res["meta"]["limit"] == 7 and res["meta"]["backend"] == "oracle"
    assert "AP50" in capsys.readouterr().out


@pytest.mark.parametrize("argv, expected", [
    (["--format", "lsp", "--joints", "/nonexistent/joints.mat"], "/nonexistent/joints.mat"),
    (["--format", "coco", "--range", "1:2"], "--range applies to --format lsp"),
    (["--format", "lsp", "--split", "val"], "--split is for image-id formats"),
    (["--format", "mpii"], "--format mpii needs --annotations FILE and --images DIR"),
    (["--format", "lsp", "--model", "/nonexistent/m.pt"], "model file not found"),
    (["--format", "lsp", "--backend", "onnx", "--mediapipe-complexity", "2"],
     "--mediapipe-complexity applies to --backend mediapipe only"),
])
def test_cli_errors_are_one_line(argv, expected, capsys):
    rc = uniskel_eval(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2 and expected in err and len(err.splitlines()) == 1


def test_cli_bad_range_syntax(capsys):
    with pytest.raises(SystemExit):
        uniskel_eval(["--format", "lsp", "--range", "7500-8000"])
    assert "START:STOP" in capsys.readouterr().err


def test_module_import_is_light():
    code = ("import sys, uniskel.training.evaluate, uniskel.training.metrics; "
            "print(sorted(m for m in ('torch', 'cv2', 'pycocotools', 'tqdm') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_split_val_is_the_held_out_coco_mini_images(monkeypatch, tmp_path):
    """``--split val`` evaluates exactly coco_mini's held-out images (id % 4 == 1)."""
    mini = DATA / "coco_mini"
    val = D.split_part(D.read_coco(mini / "annotations" / "person_keypoints_train2017.json",
                              mini / "train2017"), "val")
    monkeypatch.setattr("uniskel.engine.backends.create", lambda name, model_path=None, **kw: Oracle(val))
    out = tmp_path / "val.json"
    assert uniskel_eval(["--format", "coco", "--split", "val", "--no-turn",
                         "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["instances"] == 26 and res["AP"] == pytest.approx(1.0)
    assert res["meta"]["split"] == "val"


def test_eval_with_the_detectors_own_boxes(tmp_path, capsys, shared_data):
    """--boxes detector: every annotated person is counted (missed ones too), AP is
    reported beside the GT-box AP of the same model, and person recall over the people
    taller than 96 px; the shipped student and detector find most of them."""
    coco = shared_data / "coco128"
    out = tmp_path / "det.json"
    rc = uniskel_eval(["--format", "coco", "--annotations",
                       str(coco / "person_keypoints_train2017.json"), "--images",
                       str(coco / "images"), "--limit", "25", "--backend", "onnx",
                       "--boxes", "detector", "--json", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "person recall" in printed and "AP on GT boxes" in printed
    res = json.loads(out.read_text())
    tall = res["person_recall_people"]
    assert tall["annotated"] >= 10 and res["instances"] == 25 and res["detections"] > 0
    assert res["person_recall"] == pytest.approx(tall["found"] / tall["annotated"])
    assert res["person_recall"] >= 0.75
    assert 0 < res["AP"] <= 1 and 0 < res["gt_boxes"]["AP"] <= 1
    assert res["detector"] == "nanodet" and res["meta"]["boxes"] == "detector"


def test_eval_boxes_detector_needs_an_ap_format(capsys, shared_data):
    rc = uniskel_eval(["--format", "lsp", "--range", "7500:7502", "--boxes", "detector"])
    assert rc == 2
    assert "AP formats" in capsys.readouterr().err
