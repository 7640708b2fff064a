"""Broken annotation files for the readers tests/test_datasets.py does not break: Halpe,
AI Challenger and CrowdPose (every fault), MPII (a missing image, a cut file).

Each fault, with ``on_error="raise"``: one UniskelError line naming the file and the
entry. With ``"skip"``: the entry is left out and reported in ``problems``; the rest load.
"""
from __future__ import annotations

import json

import pytest

from uniskel.engine.assets import shared_data
from uniskel.engine.errors import UniskelError
from uniskel.training import datasets as D

SAMPLES = shared_data() / "format_samples"

pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared data not present")

# format, annotation file, image folder, people it reads intact
COCO_LIKE = [
    ("halpe", SAMPLES / "halpe" / "test_halpe.json", SAMPLES / "coco", 12),
    ("aic", SAMPLES / "aic" / "test_aic.json", SAMPLES / "aic", 9),
    ("crowdpose", SAMPLES / "crowdpose" / "test_crowdpose.json", SAMPLES / "crowdpose", 4),
]
IDS = [c[0] for c in COCO_LIKE]


def one_line(e) -> str:
    msg = str(e.value)
    assert msg and "\n" not in msg, msg
    return msg


def usable(raw):
    """The annotations the reader keeps (people with labelled points)."""
    return [a for a in raw["annotations"] if a.get("num_keypoints", 1) > 0 and not a.get("iscrowd")]


def write(tmp_path, raw, name):
    path = tmp_path / name
    path.write_text(json.dumps(raw))
    return path


@pytest.mark.parametrize("fmt, ann, images, n", COCO_LIKE, ids=IDS)
def test_intact_file_reads(fmt, ann, images, n):
    assert len(D.read(fmt, ann, images)) == n


@pytest.mark.parametrize("fmt, ann, images, n", COCO_LIKE, ids=IDS)
def test_corrupt_file_always_raises(fmt, ann, images, n, tmp_path):
    text = ann.read_text()
    cut = tmp_path / f"cut_{fmt}.json"
    cut.write_text(text[: len(text) // 3])
    for mode in ("raise", "skip"):
        with pytest.raises(UniskelError) as e:
            D.read(fmt, cut, images, on_error=mode)
        msg = one_line(e)
        assert cut.name in msg and "not valid JSON" in msg
    other = tmp_path / f"list_{fmt}.json"
    other.write_text("[1, 2, 3]")
    with pytest.raises(UniskelError, match="not a COCO-style"):
        D.read(fmt, other, images)
    with pytest.raises(UniskelError, match="annotation file not found"):
        D.read(fmt, tmp_path / "absent.json", images)


@pytest.mark.parametrize("fmt, ann, images, n", COCO_LIKE, ids=IDS)
def test_wrong_length_entry(fmt, ann, images, n, tmp_path):
    raw = json.loads(ann.read_text())
    bad = usable(raw)[0]
    got = len(bad["keypoints"]) - 3
    bad["keypoints"] = bad["keypoints"][:-3]
    path = write(tmp_path, raw, f"short_{fmt}.json")
    with pytest.raises(UniskelError) as e:
        D.read(fmt, path, images)
    msg = one_line(e)
    assert path.name in msg and f"annotation id {bad['id']}" in msg and f"got {got}" in msg
    problems = []
    insts = D.read(fmt, path, images, on_error="skip", problems=problems)
    assert len(insts) == n - 1 and bad["id"] not in {i.ann_id for i in insts}
    assert len(problems) == 1 and str(bad["id"]) in problems[0]


@pytest.mark.parametrize("fmt, ann, images, n", COCO_LIKE, ids=IDS)
def test_nan_keypoints(fmt, ann, images, n, tmp_path):
    raw = json.loads(ann.read_text())
    bad = usable(raw)[-1]
    bad["keypoints"][0] = float("nan")
    path = write(tmp_path, raw, f"nan_{fmt}.json")
    with pytest.raises(UniskelError) as e:
        D.read(fmt, path, images)
    msg = one_line(e)
    assert "NaN" in msg and f"annotation id {bad['id']}" in msg and path.name in msg
    problems = []
    insts = D.read(fmt, path, images, on_error="skip", problems=problems)
    assert len(insts) == n - 1 and len(problems) == 1 and "NaN" in problems[0]


@pytest.mark.parametrize("fmt, ann, images, n", COCO_LIKE, ids=IDS)
def test_image_listed_but_missing(fmt, ann, images, n, tmp_path):
    raw = json.loads(ann.read_text())
    raw["images"].append({"id": 987654, "file_name": "gone_missing.jpg", "width": 640,
                          "height": 480})
    ghost = dict(usable(raw)[0], id=555001, image_id=987654)
    raw["annotations"].append(ghost)
    path = write(tmp_path, raw, f"ghost_{fmt}.json")
    with pytest.raises(UniskelError) as e:
        D.read(fmt, path, images)
    msg = one_line(e)
    assert "gone_missing.jpg" in msg and "555001" in msg and "not found" in msg
    problems = []
    insts = D.read(fmt, path, images, on_error="skip", problems=problems)
    assert len(insts) == n and len(problems) == 1 and "gone_missing.jpg" in problems[0]
    # without the image check (e.g. images on another disk) the entry is read
    assert len(D.read(fmt, path, images, check_images=False)) == n + 1


@pytest.mark.parametrize("fmt, ann, images, n", COCO_LIKE, ids=IDS)
def test_several_faults_in_one_file_are_all_reported(fmt, ann, images, n, tmp_path, caplog):
    raw = json.loads(ann.read_text())
    keep = usable(raw)
    keep[0]["keypoints"] = keep[0]["keypoints"] + [1, 2]          # not a multiple of 3
    keep[1]["keypoints"][4] = "x"                                  # not a number
    raw["annotations"].append({"image_id": keep[2]["image_id"]})   # no 'id'
    path = write(tmp_path, raw, f"many_{fmt}.json")
    problems = []
    with caplog.at_level("WARNING", logger="uniskel.training.datasets"):
        insts = D.read(fmt, path, images, on_error="skip", problems=problems)
    assert len(insts) == n - 2 and len(problems) == 3
    assert any("not numbers" in p for p in problems)
    assert any("needs 'id'" in p for p in problems)
    assert any("skipped 3 malformed entries" in r.getMessage() for r in caplog.records)


def test_mpii_missing_image_and_cut_file(tmp_path):
    ann = SAMPLES / "mpii" / "test_mpii.json"
    raw = json.loads(ann.read_text())
    raw[4]["image"] = "gone_missing.jpg"
    path = write(tmp_path, raw, "mpii.json")
    with pytest.raises(UniskelError) as e:
        D.read_mpii(path, SAMPLES / "mpii")
    msg = one_line(e)
    assert "entry 4" in msg and "gone_missing.jpg" in msg and "mpii.json" in msg
    problems = []
    insts = D.read_mpii(path, SAMPLES / "mpii", on_error="skip", problems=problems)
    assert len(insts) == 4 and len(problems) == 1
    text = ann.read_text()
    cut = tmp_path / "cut_mpii.json"
    cut.write_text(text[: len(text) // 2])
    for mode in ("raise", "skip"):
        with pytest.raises(UniskelError) as e:
            D.read_mpii(cut, SAMPLES / "mpii", on_error=mode)
        assert "cut_mpii.json" in one_line(e) and "not valid JSON" in str(e.value)
    raw[2] = "not an object"
    with pytest.raises(UniskelError, match="entry 2: is not an object"):
        D.read_mpii(write(tmp_path, raw, "mpii2.json"), SAMPLES / "mpii")
