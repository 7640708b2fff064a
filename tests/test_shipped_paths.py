"""Shipped paths that no other test runs, each on real data (issue #30, item 5):

* LSPET's left/right repair (``repair_lr_swaps``, on in the shipped student's config),
  through ``prepare_sources`` as training calls it;
* ``uniskel train experiment`` end to end on a tiny budget;
* the BlazePose teacher's cache: filled, read back by the cached teacher, equal to the
  live BlazePose on the same crop;
* ``uniskel quality`` end to end.
"""
from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from uniskel import commands as cli
from uniskel.training.config import DatasetSpec, TeacherSpec, TrainConfig

# LSPET's native order: r ankle, r knee, r hip, l hip, l knee, l ankle, r wrist, r elbow,
# r shoulder, l shoulder, l elbow, l wrist, neck, head top -> its left/right mirror
LSP_MIRROR = [5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6, 12, 13]


@pytest.fixture
def one_torch_thread():
    """PyTorch on one thread for the test (on a shared machine two threads wait on each
    other many times over); restored after."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _lspet(shared_data, first: int, stop: int, name="lspet") -> DatasetSpec:
    d = shared_data / "lspet"
    return DatasetSpec(name, "lsp", str(d / "images"), str(d / "joints.mat"), (first, stop))


def test_repair_lr_swaps_puts_back_swapped_lspet_labels_and_leaves_the_rest(shared_data,
                                                                            tmp_path):
    """LSPET images 1-4 with image 1's left and right labels exchanged (in a copy of
    joints.mat): preparing the data as training does, with repair on, gives back image
    1's true labels and leaves images 2-4 as labelled; with repair off the swap stays."""
    pytest.importorskip("mediapipe")
    import scipy.io

    from uniskel.engine import skeleton
    from uniskel.training.data import load_instances, prepare_sources

    joints = scipy.io.loadmat(shared_data / "lspet" / "joints.mat")["joints"][:, :, :4].copy()
    joints[:, :, 0] = joints[LSP_MIRROR, :, 0]
    scipy.io.savemat(tmp_path / "joints.mat", {"joints": joints})
    spec = DatasetSpec("lspet", "lsp", str(shared_data / "lspet" / "images"),
                       str(tmp_path / "joints.mat"))
    truth = load_instances(_lspet(shared_data, 0, 4), "raise")
    cfg = TrainConfig(datasets=[spec], teachers=[], repair_lr_swaps=True,
                      cache_dir=str(tmp_path / "cache"), on_error="raise")

    [(_, repaired, _)] = prepare_sources(cfg)
    [(_, as_labelled, _)] = prepare_sources(dataclasses.replace(cfg, repair_lr_swaps=False))

    assert [x.image.name for x in repaired] == [f"im{k:05d}.jpg" for k in (1, 2, 3, 4)]
    flip = skeleton.flip_index()
    # the swapped label as read (repair off), then repaired back to the truth
    np.testing.assert_array_equal(as_labelled[0].keypoints, truth[0].keypoints[flip])
    assert not np.array_equal(as_labelled[0].keypoints, truth[0].keypoints)
    for got, want in zip(repaired, truth):
        np.testing.assert_array_equal(got.keypoints, want.keypoints)
        np.testing.assert_array_equal(got.mask, want.mask)
    for got, want in zip(as_labelled[1:], truth[1:]):
        np.testing.assert_array_equal(got.keypoints, want.keypoints)


def test_train_experiment_writes_the_table_and_results_it_promises(shared_data, tmp_path,
                                                                   monkeypatch, capsys,
                                                                   random_checkpoint,
                                                                   one_torch_thread):
    """``uniskel train experiment`` with the tiny arch, one epoch, LSPET cut to 16 people:
    it trains lsp_only and joint (coco_only comes from --use), evaluates the three on the
    five held-out sets and writes table.md and results.json with one finite row each."""
    pytest.importorskip("mediapipe")  # the joint student's BlazePose teacher
    import torch

    from uniskel.training import config
    from uniskel.training.checkpoint import load_checkpoint
    from uniskel.training.experiment import eval_sets
    from uniskel.training.metrics import headline

    monkeypatch.setitem(config.PRESETS, "lspet", lambda: _lspet(shared_data, 0, 16))
    cache = tmp_path / "cache"
    base = tmp_path / "tiny.toml"
    base.write_text(f'arch = "tiny"\ninput_size = [128, 96]\nbatch_size = 8\nlr = 1e-3\n'
                    f'warmup_steps = 1\ndevice = "cpu"\namp = false\nworkers = 0\n'
                    f'repair_lr_swaps = true\ncache_dir = {json.dumps(str(cache))}\n')
    out = tmp_path / "exp"
    torch.manual_seed(0)
    rc = cli.main(["train", "experiment", "--out", str(out), "--epochs", "1",
                   "--config", str(base), "--use", f"coco_only={random_checkpoint}",
                   "--no-baseline"])
    assert rc == 0
    printed = capsys.readouterr().out

    sets = list(eval_sets())
    assert sets == ["lspet_val", "coco_val", "coco_mini_val", "aic", "crowdpose"]
    rows = ["coco_only", "lsp_only", "joint"]
    md = (out / "table.md").read_text()
    assert md.strip() in printed and str(out / "results.json") in printed
    lines = md.strip().splitlines()
    assert lines[0] == "| model | " + " | ".join(sets) + " | average |"
    assert [line.split("|")[1].strip() for line in lines[2:]] == rows  # no BlazePose row

    res = json.loads((out / "results.json").read_text())
    assert list(res["models"]) == rows
    assert res["models"]["coco_only"] == str(random_checkpoint)
    for name in ("lsp_only", "joint"):
        assert res["models"][name] == str(out / name / "last.pt")
    assert list(res["table"]) == rows
    for name, line in zip(rows, lines[2:]):
        row = res["table"][name]
        assert list(row) == sets + ["average"]
        vals = [row[s] for s in sets]
        assert all(isinstance(v, float) and math.isfinite(v) and 0 <= v <= 1 for v in vals)
        assert row["average"] == pytest.approx(np.mean(vals))
        for s in sets:  # each cell is its evaluation's headline metric, on real people
            assert headline(res["results"][name][s]) == pytest.approx(row[s])
            assert res["results"][name][s]["instances"] > 0
        assert "PCK@0.2" in res["results"][name]["lspet_val"]
        assert all("AP" in res["results"][name][s] for s in sets[1:])
        cells = [c.strip() for c in line.split("|")[2:-1]]
        assert cells == [f"{100 * v:.1f}" for v in vals + [row["average"]]]

    # the variants were trained as the experiment says
    lsp, joint = (load_checkpoint(out / n / "last.pt") for n in ("lsp_only", "joint"))
    assert lsp["meta"] == {"mode": "teacher", "datasets": ["lspet"], "teachers": []}
    assert joint["meta"] == {"mode": "student", "datasets": ["lspet", "coco_mini"],
                             "teachers": [f"model:{out / 'lsp_only' / 'last.pt'}",
                                          "blazepose"]}
    assert joint["epoch"] == 1 and joint["global_step"] > 0
    assert sorted(p.name for p in cache.iterdir()) == [
        "blazepose_coco_mini_all_train_60.npz", "blazepose_lspet_0-16_16.npz"]


def test_blazepose_cache_is_filled_read_back_and_equals_the_live_teacher(shared_data,
                                                                         tmp_path,
                                                                         monkeypatch):
    """The BlazePose teacher on three LSPET people: its first use fills the cache file;
    training's data preparation then reads the same keypoints back without running
    BlazePose; and they are what BlazePose itself gives on the teacher's crop, in image
    pixels."""
    pytest.importorskip("mediapipe")
    import cv2
    import torch

    from uniskel.engine.runtime import crop
    from uniskel.engine.backends.mediapipe import MediaPipeBackend
    from uniskel.training import blazepose_cache as B
    from uniskel.training import teachers as T
    from uniskel.training.data import load_instances, prepare_sources

    spec = _lspet(shared_data, 0, 3)
    bp = TeacherSpec("blazepose", role="coco")
    cfg = TrainConfig(datasets=[spec], teachers=[bp], repair_lr_swaps=False,
                      cache_dir=str(tmp_path / "cache"), on_error="raise")
    ctx = T.LossContext(cfg.loss, (192, 256), 2.0)
    [teacher] = T.build_teachers(cfg, torch.device("cpu"), ctx)
    assert teacher.kind == "cached" and teacher.slot == 0
    insts = load_instances(spec, "raise")
    path = B.blazepose_cache_path(spec, len(insts), cfg, bp)
    assert not path.exists()

    filled = teacher.keypoints(spec, insts)  # runs BlazePose, writes the cache
    assert path.is_file() and filled.shape == (3, 21, 3)
    np.testing.assert_array_equal(np.load(path)["keypoints"], filled)

    def no_blazepose(*a, **k):
        raise AssertionError("the cache is full: BlazePose must not run again")
    monkeypatch.setattr(B.BlazePoseCache, "fill", no_blazepose)
    [(_, _, (cached,))] = prepare_sources(cfg, [teacher])
    np.testing.assert_array_equal(cached, filled)

    size = (320, 256)  # the teacher's crop (BlazePoseCache.fill's input_size)
    live = MediaPipeBackend(input_size=size)
    try:
        for inst, got in zip(insts, cached):
            c, s = crop.box_to_center_scale(inst.box, size)
            m = crop.warp_matrix(c, s, size)
            patch = cv2.cvtColor(crop.crop(cv2.imread(str(inst.image)), m, size),
                                 cv2.COLOR_BGR2RGB)
            want = live.infer(patch[None])[0].astype(np.float64)
            want[:, :2] = crop.apply(crop.invert(m), want[:, :2])
            want[want[:, 2] <= 0] = 0
            np.testing.assert_allclose(got[:, 2], want[:, 2], atol=0.02)
            seen = want[:, 2] > 0
            np.testing.assert_allclose(got[seen, :2], want[seen, :2], atol=1.0)
    finally:
        live.close()
    confident = (cached[:, B.BLAZEPOSE_COVERS, 2] > 0.5).sum(1)
    assert (confident >= 8).sum() >= 2  # not a comparison of empty poses
    inside = [(k[:, 0] >= inst.box[0] - 40) & (k[:, 0] <= inst.box[2] + 40)
              for inst, k in zip(insts, cached)]  # image pixels, near the person
    assert all(ok[k[:, 2] > 0.5].all() for ok, k in zip(inside, cached))


def test_quality_command_fits_the_shipped_student_on_real_people(shared_data, tmp_path,
                                                                capsys, one_torch_thread):
    """``uniskel quality`` on 24 LSPET and coco_mini's 60 train people: it writes a JSON
    that ``export --quality`` reads, with 22 finite coefficients and a fit whose estimate
    ranks the crops' OKS."""
    from uniskel.engine import assets
    from uniskel.engine.models.quality import estimate
    from uniskel.training.export import read_quality

    out = tmp_path / "sub" / "quality.json"
    rc = cli.main(["quality", "--backend", "cpu", "--out", str(out), "--lsp-people", "24",
                   "--coco-repeats", "1"])
    assert rc == 0
    printed = capsys.readouterr().out
    res = json.loads(out.read_text())
    coef, window, power = read_quality(out)
    assert len(coef) == 22 and all(math.isfinite(v) for v in coef)
    assert coef == pytest.approx(res["quality"])
    assert res["model"] == str(assets.default_model()) and res["seed"] == 0
    fit = res["fit"]
    assert fit["people"] == {"lsp": 24, "coco": 60}
    assert fit["crops"] == 84
    assert 0.3 < fit["mean_oks"] < 1  # the shipped student on its training people
    assert math.isfinite(fit["spearman_mean_confidence"])
    assert fit["spearman_estimate"] > 0.3
    e = estimate(np.array([[0.0] * 21, [0.9] * 21]), coef)
    assert ((0 < e) & (e < 1)).all()
    assert f"fitted on 84 crops (mean OKS {fit['mean_oks']:.3f})" in printed
    # the point power: the shipped student's hidden points drawn at 5%, as it is near
    assert power == pytest.approx(res["point_power"]) and 0.5 <= power <= 3
    assert fit["hidden_points"] > 50
    assert fit["drawn_after"] == pytest.approx(0.05, abs=0.03)
    assert f"point power {power:.3f}" in printed
    assert str(out) in printed


def test_experiment_variants_start_from_the_same_published_weights():
    """Every variant of ``uniskel train experiment`` starts from the same published
    weights, not from the base config's checkpoint (which would give one a head start):
    Google's MoveNet for the MoveNet family (student_v3.toml warm-starts from v2),
    BlazePose's for blaze_* students; the single-dataset variants have no teachers."""
    from pathlib import Path

    from uniskel.commands.train import _configs_folder
    from uniskel.training.config import load_config
    from uniskel.training.experiment import variant_config

    configs = _configs_folder()
    v3 = load_config(configs / "student_v3.toml")
    assert v3.init_from.endswith("uniskel_student_v2.pt")
    for name in ("lsp_only", "coco_only"):
        cfg = variant_config(name, Path("/tmp/exp"), 1, None, v3)
        assert (cfg.arch, cfg.init_from, cfg.teachers, cfg.mode) == (
            "movenet_lightning", "movenet_lightning", [], "teacher")
    assert v3.init_from.endswith("uniskel_student_v2.pt")  # the base is left as it was
    v1 = load_config(configs / "student.toml")
    assert variant_config("lsp_only", Path("/tmp/exp"), 1, None, v1).init_from == (
        "blazepose" if v1.arch.startswith("blaze") else "")
