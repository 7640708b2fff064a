"""A model's quality estimate (engine/models/quality.py, training/quality.py): its expected OKS
from its own confidences, used as AP's detection score and recorded per person."""
import argparse
import json

import numpy as np
import pytest

from uniskel.engine.models import quality as Q
from uniskel.engine import skeleton as sk
from uniskel.engine.errors import UniskelError


def test_mean_confidence_rule_and_estimate():
    conf = np.array([[0.9, 0.1, 0.5], [0.1, 0.1, 0.0]])
    assert Q.mean_confidence(conf) == pytest.approx([0.7, 0.0])
    coef = np.r_[np.ones(21), -10.5]
    low, high = np.full((1, 21), 0.3), np.full((1, 21), 0.7)
    assert Q.estimate(low, coef)[0] < 0.5 < Q.estimate(high, coef)[0]
    k = np.zeros((2, 21, 3))
    k[0, :, 2], k[1, :, 2] = 0.3, 0.7
    assert Q.person_scores(k, coef) == pytest.approx(Q.estimate(k[..., 2], coef))
    assert Q.person_scores(k) == pytest.approx([0.3, 0.7])  # no coefficients: the rule
    with pytest.raises(ValueError, match="22 finite numbers"):
        Q.check_coefficients([1.0] * 21)
    with pytest.raises(ValueError, match="22 finite numbers"):
        Q.check_coefficients([float("nan")] * 22)


def test_fit_recovers_which_confidences_predict_accuracy():
    from uniskel.training.quality import fit

    rng = np.random.default_rng(0)
    conf = rng.uniform(0, 1, (2000, 21))
    w = np.zeros(21)
    w[[5, 6]] = 4.0  # only the shoulders say how good a pose is
    w[0] = -4.0      # and a confident nose says it is worse
    target = 1 / (1 + np.exp(-(conf @ w - 2.0))) + rng.normal(0, 0.02, 2000)
    coef = fit(conf, np.clip(target, 0, 1), epochs=60)
    assert coef.shape == (22,)
    assert coef[5] > 2 and coef[6] > 2 and coef[0] < -2
    assert np.abs(coef[7:21]).max() < 1
    est = Q.estimate(conf, coef)
    assert np.corrcoef(est, target)[0, 1] > 0.95


@pytest.fixture(scope="module")
def coco_people(shared_data):
    from uniskel.training.datasets import read

    d = shared_data / "format_samples" / "coco"
    people = read("coco", d / "test_coco.json", d)
    assert len(people) >= 6
    return people


def test_ap_ranks_people_by_the_models_quality_estimate(coco_people):
    """Half the people are predicted 40 px off but with the higher mean confidence: the
    rule ranks them first; a quality estimate that reads the right keypoint does not."""
    from uniskel.training.evaluate import score

    preds = np.stack([p.keypoints.astype(np.float64) for p in coco_people])
    bad = np.arange(len(preds)) % 2 == 1
    preds[bad, :, :2] += 40
    preds[:, :, 2] = np.where(bad[:, None], 0.9, 0.6)
    preds[:, 1, 2] = np.where(bad, 0.0, 1.0)  # left eye: sure on the good ones only
    coef = np.zeros(22)
    coef[1], coef[-1] = 10.0, -5.0
    rule = score("coco", coco_people, preds)
    learned = score("coco", coco_people, preds, quality=coef)
    assert rule["detection_score"] == "mean confidence above 0.2"
    assert learned["detection_score"] == "quality estimate (expected OKS)"
    assert learned["AP"] > rule["AP"] + 0.1


def _export(argv):
    from uniskel.commands import export

    p = argparse.ArgumentParser()
    export.add_arguments(p)
    return export.run(p.parse_args(argv))


def test_export_writes_quality_into_weights_and_onnx(tmp_path, random_checkpoint):
    pytest.importorskip("onnxruntime")
    from uniskel.engine.backends import onnx, torch_cpu

    coef = [round(0.1 * i, 3) for i in range(21)] + [-1.0]
    (tmp_path / "q.json").write_text(json.dumps({"quality": coef}))
    pt, ox = tmp_path / "m.pt", tmp_path / "m.onnx"
    assert _export(["--checkpoint", str(random_checkpoint), "--quality", str(tmp_path / "q.json"),
                    "--weights", str(pt), "--onnx", str(ox)]) == 0
    assert torch_cpu.load(pt).quality == pytest.approx(coef)
    assert onnx.load(ox, threads=1).quality == pytest.approx(coef)

    (tmp_path / "bad.json").write_text(json.dumps({"quality": [1, 2, 3]}))
    with pytest.raises(UniskelError, match="bad.json is not a uniskel quality result"):
        _export(["--checkpoint", str(random_checkpoint), "--quality",
                 str(tmp_path / "bad.json"), "--weights", str(tmp_path / "x.pt")])
    (tmp_path / "w6.json").write_text(json.dumps({"quality": coef, "decode_window": 6}))
    with pytest.raises(UniskelError, match="fitted at decode window 6, but this model "
                                           "decodes with 3"):
        _export(["--checkpoint", str(random_checkpoint), "--quality", str(tmp_path / "w6.json"),
                 "--weights", str(tmp_path / "x.pt")])
    assert _export(["--checkpoint", str(random_checkpoint), "--quality", str(tmp_path / "w6.json"),
                    "--decode-window", "6", "--weights", str(tmp_path / "x.pt")]) == 0
    with pytest.raises(UniskelError, match="cannot read"):
        _export(["--checkpoint", str(random_checkpoint), "--quality",
                 str(tmp_path / "missing.json"), "--weights", str(tmp_path / "x.pt")])


def test_point_power_brings_the_chosen_share_of_hidden_points_to_the_draw_threshold():
    """``point_power_for``: raised to the fitted power, the given share of the hidden
    points' confidences reach the draw threshold; a model already under it is made surer
    (power below 1), too few points or an impossible share change nothing."""
    from uniskel.training.quality import POWER_RANGE, point_power_for

    rng = np.random.default_rng(0)
    over = rng.beta(2, 6, 4000)  # a model that draws many hidden points at 0.15
    assert (over >= sk.DRAW_THRESHOLD).mean() > 0.5
    p = point_power_for(over, 0.05)
    assert p > 1
    assert (over ** p >= sk.DRAW_THRESHOLD).mean() == pytest.approx(0.05, abs=0.002)
    under = rng.beta(1, 40, 4000)  # one that draws almost none
    p = point_power_for(under, 0.05)
    assert p < 1
    assert (under ** p >= sk.DRAW_THRESHOLD).mean() == pytest.approx(0.05, abs=0.002)
    assert point_power_for(over[:20], 0.05) == 1.0
    assert point_power_for(np.full(100, 0.999), 0.05) == POWER_RANGE[1]  # at most
    assert point_power_for(over, 1.0) == 1.0


def test_export_writes_the_point_power_and_every_runtime_applies_it(tmp_path,
                                                                    random_checkpoint):
    """``export --quality`` writes the fit's point power into the weights and the ONNX
    model; both runtimes give the same points with their confidences raised to it, and a
    power outside the model file's range is refused in one line."""
    pytest.importorskip("onnxruntime")
    from uniskel.engine.backends import onnx, torch_cpu

    coef = [0.0] * 21 + [-1.0]
    (tmp_path / "q.json").write_text(json.dumps({"quality": coef, "point_power": 2.0}))
    pt, ox = tmp_path / "m.pt", tmp_path / "m.onnx"
    assert _export(["--checkpoint", str(random_checkpoint), "--quality",
                    str(tmp_path / "q.json"), "--weights", str(pt), "--onnx", str(ox)]) == 0
    crops = np.random.default_rng(1).integers(0, 255, (3, 128, 96, 3), dtype=np.uint8)
    plain = torch_cpu.load(random_checkpoint)
    base = plain.infer(crops)
    assert plain.point_power == 1.0
    for b in (torch_cpu.load(pt), onnx.load(ox, threads=1)):
        assert b.point_power == 2.0
        got = b.infer(crops)
        np.testing.assert_allclose(got[..., :2], base[..., :2], atol=1e-3)
        np.testing.assert_allclose(got[..., 2], base[..., 2] ** 2, atol=1e-4)
    # whom the pipeline follows stays on the network's own scale: its sure points are
    # those the unpowered model is sure of (the power calibrates drawing)
    from uniskel.engine.runtime.pipeline import Pipeline
    assert Pipeline(onnx.load(ox, threads=1), detector=None).tracker.keypoint_threshold \
        == pytest.approx(sk.DRAW_THRESHOLD ** 2)
    assert Pipeline(plain, detector=None).tracker.keypoint_threshold == sk.DRAW_THRESHOLD
    (tmp_path / "p9.json").write_text(json.dumps({"quality": coef, "point_power": 9}))
    with pytest.raises(UniskelError, match="p9.json is not a uniskel quality result "
                                           r"\(point_power 9 is not from 0.25 to 4\)"):
        _export(["--checkpoint", str(random_checkpoint), "--quality", str(tmp_path / "p9.json"),
                 "--weights", str(tmp_path / "x.pt")])


def test_export_derive_makes_thorax_and_pelvis_the_midpoints_of_their_parents(
        tmp_path, random_checkpoint):
    """``export --derive thorax pelvis``: the runtimes give thorax and pelvis as the
    skeleton derives them (midpoint, the less sure parent's confidence), not the
    network's own; the other points are unchanged; a config naming a point the skeleton
    does not derive is refused in one line."""
    pytest.importorskip("onnxruntime")
    import torch

    from uniskel.engine.backends import onnx, torch_cpu

    pt, ox = tmp_path / "d.pt", tmp_path / "d.onnx"
    assert _export(["--checkpoint", str(random_checkpoint), "--derive", "thorax", "pelvis",
                    "--weights", str(pt), "--onnx", str(ox)]) == 0
    crops = np.random.default_rng(2).integers(0, 255, (3, 128, 96, 3), dtype=np.uint8)
    base = torch_cpu.load(random_checkpoint).infer(crops)
    for b in (torch_cpu.load(pt), onnx.load(ox, threads=1)):
        got = b.infer(crops)
        for name in ("thorax", "pelvis"):
            a, c = (sk.INDEX[n] for n in sk.DERIVED_RULES[name])
            i = sk.INDEX[name]
            np.testing.assert_allclose(got[:, i, :2], (base[:, a, :2] + base[:, c, :2]) / 2,
                                       atol=1e-3)
            np.testing.assert_allclose(got[:, i, 2], np.minimum(base[:, a, 2], base[:, c, 2]),
                                       atol=1e-4)
            assert not np.allclose(base[:, i], got[:, i], atol=1e-3)  # not the network's
        rest = [i for i in range(sk.NUM_KEYPOINTS) if sk.KEYPOINTS[i] not in ("thorax", "pelvis")]
        np.testing.assert_allclose(got[:, rest], base[:, rest], atol=1e-3)
    ck = torch.load(random_checkpoint, weights_only=True)
    ck["config"] = {**ck["config"], "derived": ["nose"]}
    torch.save(ck, tmp_path / "bad.pt")
    with pytest.raises(UniskelError, match=r"bad.pt: model config derived = .*must be a list "
                                           r"of derived point names"):
        torch_cpu.load(tmp_path / "bad.pt")


def test_the_point_power_changes_what_is_drawn_not_whom_the_pipeline_follows(tmp_path):
    """The shipped student exported with a point power of 2: on the astronaut photo the
    pipeline follows the same people in the same boxes as with the shipped model (its
    person scores and sure points on the network's own scale), and hands out the
    network's confidences squared."""
    import cv2
    import torch

    from uniskel.engine import assets
    from uniskel.engine.backends import torch_cpu
    from uniskel.engine.runtime.pipeline import Pipeline

    torch.set_num_threads(1)
    shipped = assets.default_model()
    ck = torch.load(shipped, weights_only=True)
    shipped_power = float(ck["config"].get("point_power") or 1.0)
    (tmp_path / "q.json").write_text(json.dumps({"quality": list(ck["config"]["quality"]),
                                                 "point_power": 2.0}))
    pt = tmp_path / "p2.pt"
    assert _export(["--checkpoint", str(shipped), "--quality", str(tmp_path / "q.json"),
                    "--weights", str(pt)]) == 0
    frame = cv2.cvtColor(cv2.imread(str(assets.asset("media", "astronaut.png"))),
                         cv2.COLOR_BGR2RGB)
    runs = []
    for model in (shipped, pt):
        pipe = Pipeline(torch_cpu.load(model), smoothing=False, max_people=10)
        runs.append([pipe.process(frame, i / 15).people for i in range(3)][-1])
    plain, powered = runs
    assert len(plain) == len(powered) >= 1
    for a, b in zip(plain, powered):
        assert a.track_id == b.track_id
        np.testing.assert_allclose(a.box, b.box, atol=1.0)
        # the shipped model's own power first undone (1 for a model without one)
        want = a.keypoints[:17, 2] ** (2.0 / shipped_power)
        np.testing.assert_allclose(b.keypoints[:17, 2], want, atol=0.02)


def test_a_model_file_with_an_impossible_point_power_is_refused(tmp_path, random_checkpoint):
    import torch

    from uniskel.engine.backends import torch_cpu

    ck = torch.load(random_checkpoint, weights_only=True)
    ck["config"] = {**ck["config"], "point_power": -1.0}
    torch.save(ck, tmp_path / "bad.pt")
    with pytest.raises(UniskelError, match=r"bad.pt: model config .*point_power"):
        torch_cpu.load(tmp_path / "bad.pt")


def test_pipeline_records_the_estimate_only_for_models_that_have_one(tmp_path):
    from uniskel.engine.runtime.detector import SearchDetector
    from uniskel.engine.runtime.pipeline import Pipeline
    from uniskel.engine.media.records import KeypointWriter
    from engine_fakes import BlobBackend, frame_with_person

    frame = frame_with_person((120, 40, 170, 200))
    plain = Pipeline(BlobBackend(), detector=SearchDetector(), smoothing=False).process(frame)
    assert plain.people and plain.people[0].quality is None

    backend = BlobBackend()
    backend.quality = tuple([0.5] * 21 + [-3.0])
    res = Pipeline(backend, detector=SearchDetector(), smoothing=False).process(frame)
    conf = res.people[0].keypoints[:, 2]
    assert res.people[0].quality == pytest.approx(Q.estimate(conf[None], backend.quality)[0],
                                                  rel=1e-5)
    path = tmp_path / "out.jsonl"
    rec = KeypointWriter(path)
    rec.write(res)
    rec.write(plain)
    rec.close()
    rows = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    assert "quality" in rows[0]["people"][0] and "quality" not in rows[1]["people"][0]


def test_shipped_student_carries_a_fitted_estimate():
    from uniskel.engine import assets
    from uniskel.engine.backends import onnx

    backend = onnx.load(assets.default_onnx(), threads=1)
    coef = Q.check_coefficients(backend.quality)
    assert coef.shape == (sk.NUM_KEYPOINTS + 1,)
    # a surer pose is expected to be a better one
    assert Q.estimate(np.full((1, 21), 0.8), coef)[0] > Q.estimate(np.full((1, 21), 0.2), coef)[0]


def test_dashboard_shows_the_expected_accuracy_when_the_model_has_one(qtbot):
    from uniskel.app.dashboard import Dashboard

    d = Dashboard(refresh_ms=10_000)
    qtbot.addWidget(d)
    d.show()
    k = np.zeros((21, 3), np.float32)
    d.add(12.0, {"infer": 5.0}, k, quality=0.62)
    d.refresh()
    assert "expected OKS 0.62" in d.summary.text()
    d.add(12.0, {"infer": 5.0}, k)  # a model without an estimate (or BlazePose)
    d.refresh()
    assert "expected OKS" not in d.summary.text() and "fps" in d.summary.text()


def test_a_model_file_with_a_malformed_estimate_is_refused_in_one_line(tmp_path, random_checkpoint,
                                                                       random_onnx):
    import onnx as onnxlib
    import torch

    from uniskel.engine.backends import onnx, torch_cpu

    ck = torch.load(random_checkpoint, weights_only=True)
    ck["config"] = {**ck["config"], "quality": [1.0, 2.0]}
    torch.save(ck, tmp_path / "bad.pt")
    with pytest.raises(UniskelError, match=r"bad.pt: model config: 'quality' must be 22"):
        torch_cpu.load(tmp_path / "bad.pt")

    m = onnxlib.load(str(random_onnx))
    for p in m.metadata_props:
        if p.key == "uniskel_config":
            p.value = json.dumps({**json.loads(p.value), "quality": [0.5] * 21 + [float("nan")]})
    onnxlib.save(m, str(tmp_path / "bad.onnx"))
    with pytest.raises(UniskelError, match=r"bad.onnx: uniskel_config: 'quality' must be 22"):
        onnx.load(tmp_path / "bad.onnx", threads=1)


def test_fitting_cli_says_what_is_wrong_and_exits_2(tmp_path, capsys):
    from uniskel.commands import main

    assert main(["quality", "--model", str(tmp_path / "none.onnx"), "--backend", "onnx",
                 "--out", str(tmp_path / "q.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("uniskel quality: error: ") and "none.onnx" in err[0]
    assert not (tmp_path / "q.json").exists()
    for share in ("2", "0", "half"):
        with pytest.raises(SystemExit) as e:
            main(["quality", "--out", str(tmp_path / "q.json"), "--drawn-below-cut", share])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert "--drawn-below-cut: expected a share between 0 and 1 or 'off'" in err
    assert not (tmp_path / "q.json").exists()


def test_collect_targets_are_oks_in_the_jittered_crop(shared_data, monkeypatch):
    """A perfect prediction scores OKS 1 however the crop was jittered, and a prediction
    off by a fixed share of the person's size scores the same in each of its crops."""
    import uniskel.training.quality as TQ
    from uniskel.engine.runtime import crop as C
    from uniskel.training.datasets import read

    people = read("lsp", shared_data / "lspet" / "joints.mat", shared_data / "lspet" / "images",
                  index_range=(0, 6))
    warps = []
    real_warp = TQ.jittered_warp
    monkeypatch.setattr(TQ, "jittered_warp",
                        lambda *a, **k: warps.append(real_warp(*a, **k)) or warps[-1])

    def oracle(offset):
        todo = iter(people * 2)

        def infer(crops):
            out = np.zeros((len(crops), 21, 3))
            for n, m in enumerate(warps[-len(crops):]):
                inst = next(todo)
                x0, y0, x1, y1 = inst.box
                shift = np.array([offset * np.sqrt((x1 - x0) * (y1 - y0)), 0.0])
                out[n, :, :2] = C.apply(m, inst.keypoints[:, :2] + shift)
                out[n, :, 2] = 0.5
            return out
        return infer

    rng = np.random.default_rng(0)
    conf, target = TQ.collect(oracle(0.0), people, (256, 192), rng, repeats=2, batch=4)
    assert len(target) == 12 and np.allclose(conf, 0.5) and np.allclose(target, 1.0)
    warps.clear()
    _, off = TQ.collect(oracle(0.05), people, (256, 192), rng, repeats=2, batch=4)
    assert 0.5 < off.min() and off.max() < 0.95
    assert np.allclose(off[:6], off[6:], atol=1e-9)  # each person, two different crops
    assert len({tuple(np.round(m.ravel(), 3)) for m in warps}) == 12  # every crop jittered


def test_half_weights_halve_the_file_and_keep_the_keypoints(tmp_path):
    """``export --half-weights``: the shipped student's weights stored as float16 take
    about half the bytes, load as any model file, and on real LSPET crops give the float
    file's keypoints within half a pixel."""
    import torch

    from conftest import make_lspet_crops
    from uniskel.engine import assets, backends
    from uniskel.engine.assets import shared_data

    torch.set_num_threads(1)
    shipped = assets.default_model()
    full, half = tmp_path / "full.pt", tmp_path / "half.pt"
    assert _export(["--checkpoint", str(shipped), "--weights", str(full)]) == 0
    assert _export(["--checkpoint", str(shipped), "--weights", str(half), "--half-weights"]) == 0
    assert half.stat().st_size < 0.6 * full.stat().st_size
    a, b = backends.create("cpu", full), backends.create("cpu", half)
    crops, _ = make_lspet_crops(shared_data(), a.input_size)
    pa, pb = a.infer(crops), b.infer(crops)
    assert np.quantile(np.linalg.norm(pa[..., :2] - pb[..., :2], axis=-1), 0.95) < 0.5
    assert np.abs(pa[..., 2] - pb[..., 2]).max() < 0.05  # confidences
