"""Skeleton drawing and keypoint records."""
from __future__ import annotations

import json

import numpy as np
import pytest

from uniskel.engine import skeleton
from uniskel.engine.media.draw import draw_skeleton, edges_for
from uniskel.engine.errors import UniskelError
from uniskel.engine.runtime.pipeline import FrameResult, Person
from uniskel.engine.media.records import KeypointWriter, csv_header, read_jsonl

I = skeleton.INDEX


def person(conf=0.9):
    rng = np.random.default_rng(0)
    k = np.zeros((21, 3), np.float32)
    k[:, 0] = rng.uniform(20, 180, 21)
    k[:, 1] = rng.uniform(20, 140, 21)
    k[:, 2] = conf
    return Person(k, (20.0, 20.0, 180.0, 140.0), 7, conf)


def test_edge_subsets():
    coco = {(a, b) for a, b, _ in edges_for("coco")}
    mpii = {(a, b) for a, b, _ in edges_for("mpii")}
    every = {(a, b) for a, b, _ in edges_for("all")}
    assert (I["left_shoulder"], I["right_shoulder"]) in coco  # COCO torso without the spine
    assert (I["left_shoulder"], I["right_shoulder"]) not in mpii
    assert (I["upper_neck"], I["head_top"]) in mpii and (I["upper_neck"], I["head_top"]) in every
    assert all(a < 17 and b < 17 for a, b in coco)
    assert not any(a in (1, 2, 3, 4, 0) or b in (1, 2, 3, 4, 0) for a, b in mpii)
    with pytest.raises(ValueError):
        edges_for("hands")


def test_draw_marks_confident_points_only():
    p = person()
    img = np.zeros((160, 200, 3), np.uint8)
    out = draw_skeleton(img, [p], subset="all", threshold=0.3, names=True, boxes=True)
    assert out is img
    for x, y, _ in p.keypoints:
        assert img[int(round(y)), int(round(x))].any()
    blank = np.zeros_like(img)
    draw_skeleton(blank, [person(conf=0.1)], threshold=0.3)
    assert not blank.any()
    # colours: the left wrist is drawn in the left-arm colour (RGB)
    lw = p.keypoints[I["left_wrist"]]
    only = np.zeros_like(img)
    draw_skeleton(only, [p.keypoints], subset="coco", thickness=3)
    assert tuple(only[int(round(lw[1])), int(round(lw[0]))]) == skeleton.KEYPOINT_COLORS[I["left_wrist"]]


def result(i, people):
    return FrameResult(i, i / 30, people, {}, "cpu", (160, 200))


def test_jsonl_round_trip(tmp_path):
    path = tmp_path / "r.jsonl"
    with KeypointWriter(path, source="clip.mp4", fps=30.0) as w:
        w.write(result(0, [person()]))
        w.write(result(1, []))
    header, frames = read_jsonl(path)
    assert header["keypoints"] == list(skeleton.KEYPOINTS) and header["source"] == "clip.mp4"
    assert frames[0]["people"][0]["track_id"] == 7
    assert np.allclose(frames[0]["people"][0]["keypoints"], person().keypoints, atol=0.01)
    assert frames[1] == {"frame": 1, "time": pytest.approx(1 / 30, abs=1e-4), "people": []}
    json.loads(path.read_text().splitlines()[0])


def test_csv_rows(tmp_path):
    path = tmp_path / "r.csv"
    with KeypointWriter(path) as w:
        w.write(result(3, [person(), person()]))
    lines = path.read_text().splitlines()
    assert lines[0].split(",") == csv_header()
    assert csv_header()[:6] == ["frame", "time", "track_id", "nose_x", "nose_y", "nose_c"]
    assert csv_header()[-1] == "head_top_c"
    assert len(lines) == 3 and lines[1].startswith("3,0.1,7,")


def test_bad_record_path(tmp_path):
    with pytest.raises(UniskelError, match=r"\.jsonl or \.csv"):
        KeypointWriter(tmp_path / "r.json")


def test_style_mirror_ids_colours_and_followed():
    """render() leaves the frame alone and draws what the window's options ask for."""
    from uniskel.engine.media.draw import Style, person_colour, render

    k = np.zeros((21, 3), np.float32)
    k[I["head_top"]] = (40, 60, 1.0)
    p = Person(k, (20.0, 40.0, 60.0, 100.0), 3, 1.0)
    frame = np.zeros((120, 200, 3), np.uint8)
    plain = render(frame, [p], Style())
    assert not frame.any() and plain[60, 40].any() and not plain[60, 199 - 40].any()
    mirrored = render(frame, [p], Style(mirror=True))
    assert mirrored[60, 199 - 40].any() and not mirrored[60, 40].any()
    own = render(frame, [p], Style(side_colours=False))
    assert tuple(own[60, 40]) == person_colour(3)
    assert tuple(plain[60, 40]) == skeleton.KEYPOINT_COLORS[I["head_top"]]
    with_id = render(frame, [p], Style(ids=True))
    above = with_id[:50]  # "#3" above the head, in the person's colour
    assert (np.abs(above.reshape(-1, 3).astype(int) - person_colour(3)).sum(1) < 30).sum() > 5
    bold = render(frame, [p], Style(followed=3))
    assert (bold > 0).any(axis=2).sum() > (plain > 0).any(axis=2).sum()


def test_a_record_cut_off_by_a_full_disk_still_reads(tmp_path):
    path = tmp_path / "r.jsonl"
    with KeypointWriter(path, source="clip.mp4") as w:
        for i in range(3):
            w.write(result(i, [person()]))
    text = path.read_text()
    cut = tmp_path / "cut.jsonl"
    cut.write_text(text[: len(text) - 40])  # the last line half-written
    header, frames = read_jsonl(cut)
    assert header["source"] == "clip.mp4" and [f["frame"] for f in frames] == [0, 1]
    broken = tmp_path / "broken.jsonl"
    lines = text.splitlines(keepends=True)
    broken.write_text(lines[0] + "{not json\n" + "".join(lines[2:]))
    with pytest.raises(UniskelError, match="line 2"):
        read_jsonl(broken)
    old = tmp_path / "old.jsonl"  # a header of an earlier version (fewer keys) reads as is
    old.write_text(json.dumps({"uniskel": 1, "keypoints": list(skeleton.KEYPOINTS)}) + "\n"
                   + lines[1])
    assert read_jsonl(old)[1][0]["frame"] == 0
