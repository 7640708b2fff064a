"""``uniskel infer`` and ``uniskel bench`` end to end on the real demo video."""
from __future__ import annotations

import csv
import json

import cv2
import pytest

from uniskel import commands
from uniskel.engine import bench, skeleton
from uniskel.engine.media.records import csv_header, read_jsonl


def video_frames(path):
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), path
    n, shape = 0, None
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        n, shape = n + 1, frame.shape
    cap.release()
    return n, shape


def test_infer_writes_a_playable_mp4_and_records(tmp_path, demo_video, capsys):
    """The shipped student on the street clip: every person written with an id (there
    are people to check: the loop below is not over nothing)."""
    out, rec = tmp_path / "annotated.mp4", tmp_path / "kp.jsonl"
    rc = commands.main(["infer", "--source", str(demo_video), "--out", str(out), "--keypoints", str(rec),
                     "--backend", "onnx", "--boxes"])
    assert rc == 0
    assert video_frames(out) == (5, (540, 960, 3))
    header, frames = read_jsonl(rec)
    assert header["keypoints"] == list(skeleton.KEYPOINTS) and header["size"] == [540, 960]
    assert [f["frame"] for f in frames] == [0, 1, 2, 3, 4]
    assert sum(len(f["people"]) for f in frames) >= 5  # several people on a street
    for f in frames:
        for p in f["people"]:
            assert len(p["keypoints"]) == 21 and all(len(k) == 3 for k in p["keypoints"])
            assert isinstance(p["track_id"], int) and len(p["box"]) == 4
    assert "5 frames" in capsys.readouterr().out


def test_infer_csv_and_max_frames(tmp_path, demo_video, random_checkpoint):
    rec = tmp_path / "kp.csv"
    assert commands.main(["infer", "--source", str(demo_video), "--keypoints", str(rec), "--backend", "cpu",
                       "--model", str(random_checkpoint), "--max-frames", "2"]) == 0
    rows = list(csv.reader(rec.open()))
    assert rows[0] == csv_header() and len(rows[0]) == 3 + 3 * 21
    assert {r[0] for r in rows[1:]} <= {"0", "1"}


def test_infer_finalises_the_mp4_when_the_source_breaks(tmp_path, random_onnx, capsys):
    from test_engine_sources import write_video

    good = write_video(tmp_path / "clip.avi", n=30, size=(160, 120))
    data = good.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: int(len(data) * 0.8)])
    out = tmp_path / "partial.mp4"
    rc = commands.main(["infer", "--source", str(cut), "--out", str(out), "--backend", "onnx",
                     "--model", str(random_onnx)])
    err = capsys.readouterr().err
    assert rc == 2 and "breaks off after frame" in err and "written to" in err
    n, shape = video_frames(out)
    assert 0 < n < 30 and shape == (120, 160, 3)


def test_infer_errors_are_one_line(tmp_path, demo_video, capsys):
    assert commands.main(["infer", "--source", str(tmp_path / "none.mp4"), "--out", str(tmp_path / "a.mp4")]) == 2
    assert commands.main(["infer", "--source", str(demo_video)]) == 2
    assert commands.main(["infer", "--source", str(demo_video), "--keypoints", str(tmp_path / "k.txt"),
                       "--backend", "mediapipe"]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("uniskel")]
    assert len(lines) == 3
    assert "source not found" in lines[0] and "nothing to write" in lines[1]
    assert ".jsonl or .csv" in lines[2]


def test_bench_reports_fps_latency_stages_and_a_comparison(tmp_path, demo_video, random_onnx):
    from uniskel.engine import backends

    if backends.available()["mediapipe"]:
        pytest.skip(backends.available()["mediapipe"])
    out = tmp_path / "bench.json"
    rc = commands.main(["bench", "--source", str(demo_video), "--backend", "onnx", "--model", str(random_onnx),
                     "--compare", "mediapipe", "--repeat", "2", "--warmup", "1",
                     "--model-time", "--json", str(out)])
    assert rc == 0
    r = json.loads(out.read_text())
    assert r["backend"] == "onnx" and r["frames"] == 10 and r["fps"] > 0
    assert set(r["latency_ms"]) == {"p50", "p95"} and r["latency_ms"]["p95"] >= r["latency_ms"]["p50"]
    assert set(r["stages_ms"]) == {"detect", "crop", "infer", "decode", "smooth"}
    assert r["model_ms_per_crop"] > 0
    assert r["compare"]["backend"] == "mediapipe" and r["compare"]["frames"] == 10
    assert r["speedup"] == pytest.approx(r["fps"] / r["compare"]["fps"], rel=1e-2)


def test_bench_counts_people_and_id_switches(tmp_path, demo_video):
    """--max-people: people per frame and id switches per 100 frames in the JSON, from
    the shipped student and detector on the real street frames."""
    from uniskel import commands as cli
    from uniskel.engine.bench import id_switches

    a, b = (0, 0, 10, 20), (50, 0, 60, 20)
    assert id_switches([[(1, a), (2, b)], [(1, a), (2, b)]]) == 0
    assert id_switches([[(1, a), (2, b)], [(1, a), (3, b)]]) == 1  # #2 became #3
    assert id_switches([[(1, a)], []]) == 0  # lost is not a switch
    out = tmp_path / "b.json"
    assert cli.main(["bench", "--source", str(demo_video), "--backend", "onnx", "--repeat", "1",
                     "--warmup", "1", "--max-people", "6", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["max_people"] == 6 and r["detector"] == "nanodet"
    assert r["people_per_frame"] >= 2  # several people on the street, not just one
    assert 0 <= r["id_switches_per_100"] <= 100
    # live by default: 30 fps held by sharing people out; each person's pose rate follows
    assert r["target_fps"] == 30.0
    assert 1 <= r["inferred_per_frame"] <= r["people_per_frame"]
    assert r["person_refresh_hz"] == pytest.approx(
        r["fps"] * r["inferred_per_frame"] / r["people_per_frame"], rel=0.02)
    assert cli.main(["bench", "--source", str(demo_video), "--backend", "onnx", "--repeat", "1",
                     "--warmup", "1", "--max-people", "6", "--target-fps", "0",
                     "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["target_fps"] is None and r["inferred_per_frame"] == r["people_per_frame"]
