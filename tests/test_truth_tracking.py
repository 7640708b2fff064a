"""Issue 32's measuring: id switches against constructed truth (engine/bench.py,
scripts/make_crossing_clip.py, scripts/make_pan_clip.py's truth) and the misses by
cause of scripts/coverage.py."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from uniskel.engine import bench

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def _script(name: str):
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))
    spec = importlib.util.spec_from_file_location(f"_issue32_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # a dataclass looks its module up
    spec.loader.exec_module(module)
    return module


def _box(x, y=100.0, w=100.0, h=300.0):
    return (float(x), float(y), float(x + w), float(y + h))


# ---- truth matching and switch counting (engine/bench.py) ----

def test_the_same_track_throughout_is_no_switch_and_full_coverage():
    truth = {i: [("a", _box(10 * i)), ("b", _box(600 - 10 * i))] for i in range(6)}
    shown = [[(1, _box(10 * i + 3)), (2, _box(600 - 10 * i - 3))] for i in range(6)]
    r = bench.truth_switches(truth, shown)
    assert r["switches"] == 0 and r["coverage"] == 1.0 and r["ids_per_person"] == 1.0


def test_a_track_taking_over_a_truth_person_is_a_switch():
    truth = {i: [("a", _box(10 * i))] for i in range(6)}
    shown = [[(1 if i < 3 else 7, _box(10 * i))] for i in range(6)]
    r = bench.truth_switches(truth, shown)
    assert r["switches"] == 1 and r["to_another_persons_id"] == 0  # a fresh id
    assert r["switch_events"] == [[3, "a", 1, 7]]
    # summed over clips (passes): ids per person over those matched, none counts nothing
    nobody = bench.truth_switches(truth, [[] for _ in range(6)])
    same = bench.truth_switches(truth, [[(1, _box(10 * i))] for i in range(6)])
    total = bench.sum_truth([r, nobody, same])
    assert total["ids_per_person"] == 1.5 and total["switches"] == 1
    assert total["frames"] == 18 and total["coverage"] == pytest.approx(12 / 18, abs=1e-4)
    assert r["switches_per_100"] == pytest.approx(100 / 6, abs=1e-3)
    assert r["ids_per_person"] == 2.0


def test_two_people_crossing_with_swapped_ids_are_two_switches():
    # a walks right, b left; after they cross the tracker has their ids the wrong way
    xs = [0, 100, 200, 300, 400, 500]
    truth = {i: [("a", _box(x)), ("b", _box(500 - x))] for i, x in enumerate(xs)}
    shown = [[(1 if i < 3 else 2, _box(x)), (2 if i < 3 else 1, _box(500 - x))]
             for i, x in enumerate(xs)]
    r = bench.truth_switches(truth, shown)
    assert r["switches"] == 2 and r["to_another_persons_id"] == 2


def test_coming_back_after_a_gap_under_a_new_id_is_a_switch_under_the_old_is_not():
    truth = {i: [("a", _box(20 * i))] for i in range(8)}
    gap = lambda i, later: [] if 3 <= i < 5 else [(1 if i < 3 else later, _box(20 * i))]
    new_id = bench.truth_switches(truth, [gap(i, 5) for i in range(8)])
    old_id = bench.truth_switches(truth, [gap(i, 1) for i in range(8)])
    assert new_id["switches"] == 1 and old_id["switches"] == 0
    assert new_id["matched"] == 6 and new_id["coverage"] == pytest.approx(0.75)


def test_matching_is_one_to_one_and_needs_iou_half():
    truth = [("a", _box(0)), ("b", _box(10))]
    # one shown person over both: only one of them is matched (the better overlap)
    assert bench.match_truth(truth, [(4, _box(9))]) == {"b": 4}
    # a box a third off: IoU under 0.5, no match
    assert bench.match_truth([("a", _box(0))], [(4, _box(50))]) == {}
    # the assignment of most summed IoU, not greedy in shown order
    assert bench.match_truth(truth, [(1, _box(8)), (2, _box(1))]) == {"a": 2, "b": 1}


def test_truth_file_is_read_and_a_bad_line_refused(tmp_path):
    from uniskel.engine.errors import UniskelError

    f = tmp_path / "t.jsonl"
    f.write_text('{"frame": 0, "people": [{"id": "a", "box": [1, 2, 3, 4]}]}\n'
                 '{"frame": 2, "people": [{"id": "b", "box": [1, 2, 3, 4], "visible": 0.3},'
                 ' {"id": "c", "box": [5, 6, 7, 8], "visible": 0.6}]}\n')
    # b, mostly hidden behind someone, is not looked for there
    assert bench.read_truth(f) == {0: [("a", (1.0, 2.0, 3.0, 4.0))],
                                   2: [("c", (5.0, 6.0, 7.0, 8.0))]}
    f.write_text('{"frame": 0, "people": [{"id": "a"}]}\n')
    with pytest.raises(UniskelError, match="line 1"):
        bench.read_truth(f)


# ---- the constructed clips' truth ----

@pytest.mark.parametrize("name", ["back", "cross"])
def test_crossing_clip_truth_boxes_cover_each_persons_pasted_pixels(shared_data, name):
    """The truth box is where the person was pasted: inside the pasted region, which
    reaches past it by no more than the cut's margin; the person's labelled points land
    in it; and the frame's pixels there are their photo's pixels (not moved)."""
    import cv2

    clips = _script("make_crossing_clip")
    if not (clips.SETS["coco_extra"][1]).is_dir() and name == "cross":
        pytest.skip("coco_extra absent")
    bg, walkers, paths, frames = clips.build(name)
    hidden_somewhere = False
    for i in range(0, frames, 15):
        image, people = clips.compose(bg, walkers, paths, i)
        assert [p["id"] for p in people] == ["a", "b"]
        for p, w, (height, _) in zip(people, walkers, paths):
            x0, y0, x1, y1 = p["box"]
            assert y1 - y0 == pytest.approx(min(height, 720 - y0), abs=1.5)
            ys, xs = np.nonzero(p["mask"])
            mx = clips.MARGIN[0] * (x1 - x0) + 2
            my = clips.MARGIN[1] * (y1 - y0) + 2
            # the cut's edges fade (alpha over a half from half the feather in; the cut
            # may end at the box where the photo ends)
            fade = clips.FEATHER * w.pixels.shape[1] * (y1 - y0) / (w.box[3] - w.box[1])
            fade = 0.5 * fade + 2
            assert xs.min() <= max(x0, 0) + fade and xs.max() >= min(x1, 1279) - fade
            assert ys.min() <= y0 + fade and ys.max() >= min(y1, 719) - fade
            assert xs.min() >= x0 - mx and xs.max() <= x1 + mx
            assert ys.min() >= y0 - my and ys.max() <= y1 + my
            k = p["keypoints"][p["keypoints"][:, 2] > 0]
            assert ((k[:, 0] >= x0 - 1) & (k[:, 0] <= x1 + 1) & (k[:, 1] >= y0 - 1)
                    & (k[:, 1] <= y1 + 1)).all()
            hidden_somewhere |= p["visible"] < 0.9
        # the front person (pasted last) shows their own photo at their labelled points
        front, w = people[1], walkers[1]
        src = cv2.GaussianBlur(w.pixels, (0, 0), 3).astype(np.float32)
        s = (front["box"][3] - front["box"][1]) / (w.box[3] - w.box[1])
        out = cv2.GaussianBlur(image, (0, 0), 3 * s).astype(np.float32)
        diffs = []
        for (u, v, vis), (fx, fy, _) in zip(w.keypoints, front["keypoints"]):
            if vis > 0 and 0 <= fx < 1280 and 0 <= fy < 720:
                diffs.append(np.abs(src[int(v), int(u)] - out[int(fy), int(fx)]).mean())
        assert np.median(diffs) < 12, diffs
    assert hidden_somewhere  # they do cross: one hides the other on some frame


def test_crossing_clip_truth_file_matches_its_frames(shared_data, tmp_path):
    clips = _script("make_crossing_clip")
    clip, truth = clips.write("back", tmp_path)
    rows = bench.read_truth(truth, min_visible=0.0)
    sight = [json.loads(line) for line in truth.read_text().splitlines()]
    bg, walkers, paths, frames = clips.build("back")
    assert sorted(rows) == list(range(frames))
    for i in (0, 70, frames - 1):
        _, people = clips.compose(bg, walkers, paths, i)
        assert [t for t, _ in rows[i]] == ["a", "b"]
        for (_, box), p, row in zip(rows[i], people, sight[i]["people"]):
            assert box == pytest.approx(p["box"], abs=0.06)
            assert row["visible"] == pytest.approx(p["visible"], abs=1e-3)
    # on frame 70 the one behind is hidden: not looked for there
    assert sight[70]["people"][0]["visible"] < 0.5
    assert [t for t, _ in bench.read_truth(truth)[70]] == ["b"]
    decoded, _ = bench.decode_all(str(clip), 1000)
    assert len(decoded) == frames and decoded[0].shape == (720, 1280, 3)


def test_pan_clip_truth_is_the_labelled_boxes_through_the_pan(shared_data):
    pans = _script("make_pan_clip")
    m = np.array([[2.0, 0, -100], [0, 2.0, -50]], np.float32)
    b, c = pans.in_view(m, (100, 50, 60, 150))
    assert b == pytest.approx((100, 50, 220, 350)) and c == b
    # a quarter out of the frame at the left: listed, clipped; half out: not listed
    b, c = pans.in_view(m, (35, 50, 60, 150))
    assert b[0] == pytest.approx(-30) and c[0] == 0.0
    assert pans.in_view(m, (20, 50, 60, 150)) is None
    # too short in the clip
    assert pans.in_view(m, (100, 50, 60, 40)) is None


# ---- misses by cause (scripts/coverage.py) ----

def test_a_missed_persons_condition():
    cov = _script("coverage")
    frame = (1280, 720)
    assert cov.condition(_box(0), frame, 17, []) == "truncated"  # at the left edge
    assert cov.condition(_box(600, 400, 100, 320), frame, 17, []) == "truncated"  # bottom
    assert cov.condition(_box(600), frame, 5, []) == "truncated"  # few points in view
    assert cov.condition(_box(600), frame, 17, [_box(640)]) == "crowd"  # IoU 0.43
    assert cov.condition(_box(600), frame, 17, [_box(690)]) == "none of those"  # IoU 0.05
    assert cov.condition(_box(600, 100, 50, 120), frame, 17, []) == "small"
    assert cov.condition(_box(600, 100, 50, 120), frame, 17, [_box(610, 100, 50, 120)]) \
        == "crowd"


def test_what_the_detector_had_for_a_missed_person():
    cov = _script("coverage")
    b = _box(500)
    near, off = (*_box(505), 0.0), (*_box(580), 0.0)  # IoU 0.9; IoU 0.1
    with_score = lambda box, s: (*box[:4], s)
    assert cov.detector_stage(b, [], []) == "never proposed"
    assert cov.detector_stage(b, [with_score(off, 0.9)], [with_score(off, 0.9)]) \
        == "never proposed"
    assert cov.detector_stage(b, [with_score(near, 0.2)], []) == "below threshold"
    assert cov.detector_stage(b, [with_score(near, 0.5)], []) == "suppressed"
    assert cov.detector_stage(b, [with_score(near, 0.35)], [with_score(near, 0.35)]) \
        == "unsure"
    assert cov.detector_stage(b, [with_score(near, 0.6)], [with_score(near, 0.6)]) == "sure"


def test_labels_count_points_in_view_and_the_others_in_view():
    cov = _script("coverage")
    k = np.zeros((17, 3), np.float32)
    k[:, 2] = 2
    k[:, 0] = np.linspace(10, 60, 17)  # photo x; through m: 2x - 100 -> -80 .. 20
    k[:, 1] = 100
    m = np.array([[2.0, 0, -100], [0, 2.0, -50]], np.float32)
    people = [((35, 50, 60, 150), k), ((300, 50, 60, 150), k), ((900, 50, 60, 150), k)]
    want, labels = cov.labels_in(m, people, (1280, 720))
    assert len(want) == 2  # the third is out of the frame
    assert labels[0]["points"] == sum(2 * x - 100 >= 0 for x in k[:, 0])
    assert len(labels[0]["others"]) == 1  # the second; the third is not in view
    assert cov.height_bucket(_box(0, h=120)) == "96-160"
    assert cov.height_bucket(_box(0, h=300)) == "256+"


def test_cause_table_counts_each_miss_once():
    cov = _script("coverage")
    misses = [("crowd", "sure"), ("crowd", "sure"), ("small", "never proposed"),
              ("none of those", "below threshold")]
    text = cov.cause_table("t", misses, 10, {"96-160": 1}, {"96-160": 2})
    assert "4 of 10" in text
    assert "| crowd | 0 | 0 | 0 | 0 | 2 | 2 (50%) |" in text
    assert "| all | 1 (25%) | 1 (25%) | 0 (0%) | 0 (0%) | 2 (50%) | 4 |" in text
    assert "96-160: 1/2 = 50.0%" in text


def test_people_in_contact_count_only_a_skeleton_of_their_own():
    """Two people in contact (boxes at IoU > 0.3): one skeleton between them is found by
    ``found``'s loose rule for both, but is only one skeleton of their own; two skeletons,
    one on each, are two."""
    from types import SimpleNamespace

    cov = _script("coverage")
    a, b = _box(100), _box(140)
    assert cov.in_contact(a, [b]) and not cov.in_contact(a, [_box(400)])

    def person(box):
        k = np.zeros((21, 3))
        k[:, 0] = np.linspace(box[0] + 5, box[2] - 5, 21)
        k[:, 1] = np.linspace(box[1] + 5, box[3] - 5, 21)
        k[:, 2] = 0.9
        return SimpleNamespace(box=box, keypoints=k)

    between = person(_box(120))
    assert cov.found(a, [between]) and cov.found(b, [between])
    assert cov.own_skeletons([a, b], [between]) == 1
    assert cov.own_skeletons([a, b], [person(a), person(b)]) == 2
    assert cov.own_skeletons([a, b], []) == 0


def test_nanodet_candidates_hold_every_kept_box(shared_data):
    import cv2

    from uniskel.engine.runtime.detector import NanoDetDetector, nanodet_unavailable
    from uniskel.engine.runtime.boxes import iou

    if nanodet_unavailable():
        pytest.skip(nanodet_unavailable())
    image = cv2.cvtColor(cv2.imread(str(shared_data / "coco128/images/000000000395.jpg")),
                         cv2.COLOR_BGR2RGB)
    det = NanoDetDetector(size=416)
    kept, raw = det.detect(image), det.candidates(image, 0.05)
    assert kept and len(raw) > len(kept)
    assert min(b[4] for b in raw) < det.min_score  # below the threshold too
    for b in kept:
        assert any(np.allclose(b, r, atol=1e-4) for r in raw)
    # before NMS: a kept box's neighbours (overlapping it more than NMS lets through)
    assert any(iou(b, r) > det.nms_iou and not np.allclose(b, r) for b in kept for r in raw)


def test_bench_counts_switches_against_a_clips_truth(shared_data, tmp_path, capsys):
    """``uniskel bench --truth``: on the first second of a crossing clip (the two apart)
    the shipped student and detector find both, under one id each."""
    import argparse

    from uniskel.commands import bench as command
    from uniskel.engine.errors import UniskelError

    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    clip, truth = _script("make_crossing_clip").write("back", tmp_path)
    out = tmp_path / "b.json"
    assert command.run(parser.parse_args(
        ["--source", str(clip), "--truth", str(truth), "--backend", "onnx", "--repeat", "1",
         "--warmup", "1", "--max-people", "4", "--target-fps", "0", "--max-frames", "30",
         "--json", str(out)])) == 0
    assert "against the truth: id switches/100 frames" in capsys.readouterr().out
    t = json.loads(out.read_text())["truth"]
    assert t["frames"] == 30 and t["truth_boxes"] == 60  # both in sight throughout
    assert t["coverage"] >= 0.8 and t["switches"] == 0 and t["ids_per_person"] == 1.0
    with pytest.raises(UniskelError, match="none.jsonl"):
        command.run(parser.parse_args(["--source", str(clip), "--truth",
                                       str(tmp_path / "none.jsonl")]))


def test_a_pans_truth_follows_each_labelled_person_on_every_frame(shared_data):
    """coverage.py's pans: the people to find on every 5th frame, the truth for the id
    switches on every frame, one id per labelled person, boxes clipped to the frame."""
    cov = _script("coverage")
    image = np.zeros((480, 1200, 3), np.uint8)
    k = np.zeros((17, 3), np.float32)
    k[:, 2] = 2
    k[:, 0], k[:, 1] = 150, np.linspace(120, 400, 17)
    boxes = [(100, 100, 100, 320), (900, 100, 100, 320)]
    frames, want, labels, truth = cov.pan(image, boxes, frames=10, keypoints=[k, k])
    assert len(frames) == len(truth) == 10
    assert [w is not None for w in want] == [i % 5 == 0 for i in range(10)]
    assert [t for t, _ in truth[0]] == [0]  # only the left one in view at the start
    assert [t for t, _ in truth[-1]] == [1]  # only the right one at the end
    for rows in truth:
        for _, b in rows:
            assert 0 <= b[0] < b[2] <= 1280 and 0 <= b[1] < b[3] <= 720
