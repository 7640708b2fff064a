"""Dataset readers on the real files in ../shared/data, and on broken copies of them."""
import json
import logging
import shutil

import numpy as np
import pytest
import scipy.io

from uniskel.engine import skeleton as sk
from uniskel.engine.assets import shared_data
from uniskel.engine.errors import UniskelError
from uniskel.training import datasets as D

DATA = shared_data()
SAMPLES = DATA / "format_samples"
LSPET = DATA / "lspet"
I = sk.INDEX

pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared data not present")


def _one_line(exc):
    msg = str(exc.value)
    assert "\n" not in msg and msg
    return msg


# ----------------------------------------------------------------- real files

def test_coco_sample_and_coco_mini():
    insts = D.read_coco(SAMPLES / "coco" / "test_coco.json", SAMPLES / "coco")
    assert len(insts) == 12  # 14 annotations, 2 with num_keypoints == 0
    raw = json.loads((SAMPLES / "coco" / "test_coco.json").read_text())
    first = next(a for a in raw["annotations"] if a["id"] == insts[0].ann_id)
    kp = np.array(first["keypoints"], float).reshape(17, 3)
    a = insts[0]
    assert np.allclose(a.keypoints[:17, :2][kp[:, 2] > 0], kp[kp[:, 2] > 0, :2])
    assert (a.mask[:17] == (kp[:, 2] > 0)).all() and not a.mask[17:].any()
    assert (a.keypoints[~a.mask] == 0).all()
    x, y, w, h = first["bbox"]
    assert np.allclose(a.box, (x, y, x + w, y + h))
    assert a.area == pytest.approx(first["area"]) and a.dataset == "coco"
    assert a.image.is_file() and a.image.name == "000000000785.jpg"

    mini = D.read_coco(DATA / "coco_mini" / "annotations" / "person_keypoints_train2017.json",
                       DATA / "coco_mini" / "train2017")
    assert len(mini) == 86  # the README: 86 people with keypoints in 28 images
    assert len({m.image for m in mini}) == 28
    assert all(set(np.unique(m.keypoints[:, 2])) <= {0.0, 1.0, 2.0} for m in mini)


def test_coco_mini_split_holds_out_whole_images():
    mini = D.read_coco(DATA / "coco_mini" / "annotations" / "person_keypoints_train2017.json",
                       DATA / "coco_mini" / "train2017")
    train, val = D.split_part(mini, "train"), D.split_part(mini, "val")
    assert (len(train), len(val)) == (60, 26)  # the numbers the model card quotes
    assert not {i.image for i in train} & {i.image for i in val}
    assert all(int(i.image_id) % 4 == 1 for i in val)
    read_val = D.read("coco", DATA / "coco_mini" / "annotations" / "person_keypoints_train2017.json",
                      DATA / "coco_mini" / "train2017", split="val")
    assert [i.ann_id for i in read_val] == [i.ann_id for i in val]  # the one entry point
    with pytest.raises(UniskelError, match="unknown split"):
        D.split_part(mini, "test")
    lsp = D.read_lsp(DATA / "lspet" / "joints.mat", DATA / "lspet" / "images",
                     index_range=(0, 2))
    with pytest.raises(UniskelError, match="numeric image ids"):
        D.split_part(lsp, "val")


def test_mpii_left_wrist_lands_on_unified_left_wrist():
    raw = json.loads((SAMPLES / "mpii" / "test_mpii.json").read_text())
    insts = D.read_mpii(SAMPLES / "mpii" / "test_mpii.json", SAMPLES / "mpii")
    assert len(insts) == 5
    for inst, e in zip(insts, raw):
        j = np.array(e["joints"])
        assert np.allclose(inst.keypoints[I["left_wrist"], :2], j[15])  # MPII 15 = l wrist
        assert np.allclose(inst.keypoints[I["head_top"], :2], j[9])
        assert np.allclose(inst.keypoints[I["right_ankle"], :2], j[0]) or not e["joints_vis"][0]
        half = e["scale"] * 100
        assert np.allclose(inst.box, (e["center"][0] - half, e["center"][1] - half,
                                      e["center"][0] + half, e["center"][1] + half))
    # entry 2 has both ankles unlabelled (-1, -1, vis 0)
    assert not insts[2].mask[I["right_ankle"]] and not insts[2].mask[I["left_ankle"]]
    assert insts[2].mask.sum() == 14 and insts[0].mask.sum() == 16
    assert not insts[0].mask[:5].any()  # MPII has no face points


def test_lspet_entries_map_and_box():
    mat = scipy.io.loadmat(LSPET / "joints.mat")["joints"]
    insts = D.read_lsp(LSPET / "joints.mat", LSPET / "images", index_range=(0, 10))
    assert len(insts) == 10 and insts[0].image.name == "im00001.jpg"
    a, j = insts[0], mat[:, :, 0]
    assert a.dataset == "lsp" and a.meta["layout"] == "lspet"
    assert not a.mask[I["right_ankle"]]  # im00001's right ankle is unlabelled (vis 0)
    assert np.allclose(a.keypoints[I["left_ankle"], :2], j[5, :2])
    assert np.allclose(a.keypoints[I["upper_neck"], :2], j[12, :2])  # LSP neck
    assert np.allclose(a.keypoints[I["head_top"], :2], j[13, :2])
    assert a.mask.sum() == 13 and not a.mask[:5].any()
    lab = j[j[:, 2] > 0, :2]
    assert np.allclose(a.box, (*lab.min(0), *lab.max(0)))
    assert a.keypoints[I["left_ankle"], 2] == 2

    val = D.read_lsp(LSPET / "joints.mat", LSPET / "images", index_range=(7500, 8000),
                     check_images=False)
    assert len(val) == 500 and val[0].index == 7500 and val[-1].image.name == "im08000.jpg"


def test_original_lsp_layout(tmp_path):
    """LSP (2,000 images): shape (3, 14, N), third row is-occluded, im0001.jpg names."""
    import cv2

    rng = np.random.default_rng(0)
    j = np.zeros((3, 14, 2))
    j[:2] = rng.uniform(10, 90, (2, 14, 2))
    j[2, 4, 0] = 1  # left knee of person 0 occluded
    scipy.io.savemat(tmp_path / "joints.mat", {"joints": j})
    (tmp_path / "images").mkdir()
    for k in (1, 2):
        cv2.imwrite(str(tmp_path / "images" / f"im{k:04d}.jpg"), np.zeros((100, 100, 3), np.uint8))
    insts = D.read_lsp(tmp_path / "joints.mat", tmp_path / "images")
    assert [i.image.name for i in insts] == ["im0001.jpg", "im0002.jpg"]
    a = insts[0]
    assert a.meta["layout"] == "lsp" and a.mask.sum() == 14  # occluded joints are labelled
    assert a.keypoints[I["left_knee"], 2] == 1 and a.keypoints[I["right_knee"], 2] == 2
    assert np.allclose(a.keypoints[I["right_wrist"], :2], j[:2, 6, 0])


def test_halpe_reads_the_26_body_points():
    insts = D.read_halpe(SAMPLES / "halpe" / "test_halpe.json", SAMPLES / "coco")
    assert len(insts) == 12
    raw = json.loads((SAMPLES / "halpe" / "test_halpe.json").read_text())
    a = insts[0]
    kp = np.array(next(x for x in raw["annotations"] if x["id"] == a.ann_id)["keypoints"]).reshape(-1, 3)
    assert np.allclose(a.keypoints[I["head_top"], :2], kp[17, :2])  # Halpe "head"
    assert a.mask[I["head_top"]] and not a.mask[I["upper_neck"]]  # its neck is unlabelled
    assert not a.mask[I["thorax"]]  # derived, never annotated
    assert a.mask.sum() == 18 and a.dataset == "halpe"


def test_aic_and_crowdpose():
    aic = D.read_aic(SAMPLES / "aic" / "test_aic.json", SAMPLES / "aic")
    assert len(aic) == 9
    a = aic[0]
    assert np.allclose(a.keypoints[I["head_top"], :2], (395, 74))
    assert np.allclose(a.keypoints[I["upper_neck"], :2], (372, 170))
    assert np.allclose(a.keypoints[I["right_shoulder"]], (313, 201, 2))
    assert a.keypoints[I["right_elbow"], 2] == 1  # labelled but occluded
    assert not a.mask[I["nose"]] and a.area is None

    cp = D.read_crowdpose(SAMPLES / "crowdpose" / "test_crowdpose.json", SAMPLES / "crowdpose")
    assert len(cp) == 4  # one of 5 has num_keypoints == 0
    assert np.allclose(cp[0].keypoints[I["head_top"]], (256, 27, 1))
    assert np.allclose(cp[0].keypoints[I["right_shoulder"]], (208, 108, 2))
    assert cp[0].mask.sum() == 7


# ----------------------------------------------------------------- broken files

@pytest.fixture
def coco_copy(tmp_path):
    raw = json.loads((SAMPLES / "coco" / "test_coco.json").read_text())
    return tmp_path, raw


def _write(tmp_path, raw, name="ann.json"):
    p = tmp_path / name
    p.write_text(json.dumps(raw))
    return p


def test_missing_and_truncated_files(tmp_path):
    with pytest.raises(UniskelError) as e:
        D.read_coco(tmp_path / "nope.json", SAMPLES / "coco")
    assert "nope.json" in _one_line(e)
    text = (SAMPLES / "coco" / "test_coco.json").read_text()
    (tmp_path / "cut.json").write_text(text[: len(text) // 2])
    for mode in ("raise", "skip"):  # a whole-file problem always raises
        with pytest.raises(UniskelError) as e:
            D.read_coco(tmp_path / "cut.json", SAMPLES / "coco", on_error=mode)
        assert "cut.json" in _one_line(e) and "not valid JSON" in str(e.value)
    with pytest.raises(UniskelError, match="not a COCO-style"):
        D.read_coco(SAMPLES / "mpii" / "test_mpii.json", SAMPLES / "mpii")
    with pytest.raises(UniskelError, match="not an MPII"):
        D.read_mpii(SAMPLES / "coco" / "test_coco.json", SAMPLES / "coco")


def test_wrong_keypoint_count_raise_and_skip(coco_copy, caplog):
    tmp_path, raw = coco_copy
    bad = next(a for a in raw["annotations"] if a["num_keypoints"] > 0)
    bad["keypoints"] = bad["keypoints"][:-3]
    p = _write(tmp_path, raw)
    with pytest.raises(UniskelError) as e:
        D.read_coco(p, SAMPLES / "coco")
    msg = _one_line(e)
    assert f"annotation id {bad['id']}" in msg and "expected 51" in msg and "got 48" in msg
    assert "ann.json" in msg
    problems = []
    with caplog.at_level(logging.WARNING, logger="uniskel.training.datasets"):
        insts = D.read_coco(p, SAMPLES / "coco", on_error="skip", problems=problems)
    assert len(insts) == 11 and len(problems) == 1
    assert any(str(bad["id"]) in r.message for r in caplog.records)
    assert any("skipped 1 malformed entry" in r.getMessage() for r in caplog.records)


def test_nan_and_missing_image(coco_copy):
    tmp_path, raw = coco_copy
    anns = [a for a in raw["annotations"] if a["num_keypoints"] > 0]
    anns[0]["keypoints"][3] = float("nan")  # json writes NaN, which Python reads back
    raw["images"].append({"id": 999, "file_name": "not_there.jpg", "width": 10, "height": 10})
    extra = dict(anns[1], id=12345, image_id=999)
    raw["annotations"].append(extra)
    p = _write(tmp_path, raw)
    with pytest.raises(UniskelError) as e:
        D.read_coco(p, SAMPLES / "coco")
    assert "NaN" in _one_line(e) and str(anns[0]["id"]) in str(e.value)
    problems = []
    insts = D.read_coco(p, SAMPLES / "coco", on_error="skip", problems=problems)
    assert len(insts) == 11 and len(problems) == 2
    assert any("not_there.jpg" in m and "12345" in m for m in problems)


def test_mpii_malformed_entries(tmp_path):
    raw = json.loads((SAMPLES / "mpii" / "test_mpii.json").read_text())
    raw[1]["joints"] = raw[1]["joints"][:15]
    raw[2]["joints"][3][0] = float("nan")
    del raw[3]["scale"]
    p = _write(tmp_path, raw, "mpii.json")
    with pytest.raises(UniskelError) as e:
        D.read_mpii(p, SAMPLES / "mpii")
    assert "entry 1" in _one_line(e) and "16 joints" in str(e.value)
    problems = []
    insts = D.read_mpii(p, SAMPLES / "mpii", on_error="skip", problems=problems)
    assert len(insts) == 2 and len(problems) == 3
    assert any("entry 2" in m and "NaN" in m for m in problems)
    assert any("entry 3" in m and "'scale'" in m for m in problems)


def test_lsp_malformed(tmp_path):
    j = scipy.io.loadmat(LSPET / "joints.mat")["joints"][:, :, :3].copy()
    j[4, 0, 1] = np.nan
    scipy.io.savemat(tmp_path / "joints.mat", {"joints": j})
    images = tmp_path / "images"
    images.mkdir()
    for k in (1, 2):  # image 3 is missing
        shutil.copy(LSPET / "images" / f"im{k:05d}.jpg", images)
    problems = []
    insts = D.read_lsp(tmp_path / "joints.mat", images, on_error="skip", problems=problems)
    assert [i.index for i in insts] == [0]
    assert len(problems) == 2 and "entry 1" in problems[0] and "NaN" in problems[0]
    assert "im00003.jpg" in problems[1] and "not found" in problems[1]
    with pytest.raises(UniskelError) as e:
        D.read_lsp(tmp_path / "joints.mat", images)
    assert "entry 1" in _one_line(e)

    scipy.io.savemat(tmp_path / "bad.mat", {"joints": np.zeros((13, 3, 2))})
    with pytest.raises(UniskelError, match=r"shape \(13, 3, 2\)"):
        D.read_lsp(tmp_path / "bad.mat", images)
    scipy.io.savemat(tmp_path / "other.mat", {"pose": np.zeros((14, 3, 2))})
    with pytest.raises(UniskelError, match="no variable 'joints'.*pose"):
        D.read_lsp(tmp_path / "other.mat", images)
    (tmp_path / "junk.mat").write_bytes(b"not a mat file at all")
    with pytest.raises(UniskelError, match="junk.mat"):
        D.read_lsp(tmp_path / "junk.mat", images)
    with pytest.raises(UniskelError, match="range 2:9"):
        D.read_lsp(tmp_path / "joints.mat", images, index_range=(2, 9))


def test_load_image_reports_undecodable_file(tmp_path):
    insts = D.read_lsp(LSPET / "joints.mat", LSPET / "images", index_range=(0, 1))
    img = D.load_image(insts[0])
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff garbage")
    insts[0].image = broken
    with pytest.raises(UniskelError) as e:
        D.load_image(insts[0])
    assert "broken.jpg" in _one_line(e) and "entry 0" in str(e.value)


def test_read_dispatch_and_bad_option():
    with pytest.raises(UniskelError, match="unknown dataset format"):
        D.read("posetrack", "a", "b")
    with pytest.raises(ValueError):
        D.read_coco(SAMPLES / "coco" / "test_coco.json", SAMPLES / "coco", on_error="ignore")


def test_pooling_the_coco_format_held_out_sets_keeps_every_person_once(tmp_path):
    """scripts/pool_coco_sets.py (the model card's pooled row): 12 + 5 + 26 people, ids
    renumbered without clashes, images linked, and the reader takes the pooled file."""
    import importlib.util
    import json
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "pool_coco_sets", Path(__file__).parents[1] / "scripts" / "pool_coco_sets.py")
    pool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pool)
    fs = DATA / "format_samples"
    sets = [(fs / "coco" / "test_coco.json", fs / "coco", None),
            (fs / "ochuman" / "test_ochuman.json", fs / "ochuman", None),
            (DATA / "coco_mini" / "annotations" / "person_keypoints_train2017.json",
             DATA / "coco_mini" / "train2017", "val")]
    merged = pool.pool(sets, tmp_path)
    ids = [a["id"] for a in merged["annotations"]]
    assert len(ids) == len(set(ids))
    assert len({i["id"] for i in merged["images"]}) == len(merged["images"])
    people = D.read("coco", tmp_path / "ann.json", tmp_path / "images")
    alone = [len(D.read("coco", a, i, split=p)) for a, i, p in sets]
    assert len(people) == sum(alone) == 43
    assert json.loads((tmp_path / "ann.json").read_text())["categories"]
