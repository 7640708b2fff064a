"""Sources: real video and image reading, and one clear line for every unusable source."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from uniskel.engine.errors import UniskelError
from uniskel.engine.media.playback import play
from uniskel.engine.media.sources import SourceError, open_source, parse_camera


def write_video(path, n=30, fourcc="MJPG", size=(64, 48), fps=10):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    assert w.isOpened()
    for i in range(n):
        w.write(np.full((size[1], size[0], 3), (i * 8) % 256, np.uint8))
    w.release()
    return path


def error_line(spec) -> str:
    with pytest.raises(UniskelError) as e:
        src = open_source(spec)
        list(play(src))
    msg = str(e.value)
    assert msg and "\n" not in msg
    return msg


def test_demo_video_frames_are_rgb_with_timestamps(demo_video):
    with open_source(demo_video) as src:
        assert src.kind == "video" and src.size == (540, 960) and src.frame_count == 5
        got = list(play(src))
    assert [i for _, _, i in got] == [0, 1, 2, 3, 4]
    assert [ts for _, ts, _ in got] == pytest.approx([i / src.fps for i in range(5)])
    cap = cv2.VideoCapture(str(demo_video))
    _, bgr = cap.read()
    cap.release()
    assert np.array_equal(got[0][0], bgr[..., ::-1])  # BGR at the cv2 boundary, RGB inside


def test_missing_empty_and_not_a_video(tmp_path):
    assert "source not found" in error_line(tmp_path / "nope.mp4")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert "file is empty" in error_line(empty)
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    msg = error_line(text)
    assert "notes.mp4" in msg and ("not a video" in msg or "no frame" in msg)
    assert "folder" in error_line(tmp_path)


def test_truncated_mp4_is_refused(tmp_path):
    good = write_video(tmp_path / "good.mp4", fourcc="mp4v")
    data = good.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    msg = error_line(cut)
    assert "cut.mp4" in msg and "truncated" in msg


def test_video_that_breaks_off_midway_yields_then_raises(tmp_path):
    good = write_video(tmp_path / "good.avi")
    data = good.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: int(len(data) * 0.8)])
    src = open_source(cut)
    frames = []
    with pytest.raises(SourceError) as e:
        for frame, _, _ in play(src):
            frames.append(frame)
    assert 0 < len(frames) < 30
    assert f"after frame {len(frames)} of 30" in str(e.value)
    assert len(list(play(open_source(good)))) == 30  # the intact file reads fully


def test_missing_camera_and_bad_camera_specs():
    assert parse_camera("camera:2") == 2 and parse_camera("clip.mp4") is None
    assert "bad camera" in error_line("camera:front")
    msg = error_line("camera:57")
    assert msg.startswith("camera 57:")


def test_image_once_or_looped(shared_data):
    path = shared_data / "lspet" / "images" / "im00001.jpg"
    once = list(play(open_source(path)))
    assert len(once) == 1 and once[0][0].shape == (105, 157, 3)
    looped = open_source(path, loop=True)
    it = iter(play(looped))
    got = [next(it) for _ in range(5)]
    assert [i for _, _, i in got] == [0, 1, 2, 3, 4] and got[4][1] > got[1][1]
    bad = shared_data / "lspet" / "joints.mat"
    assert "joints.mat" in error_line(bad)


def test_looping_video_keeps_counting(tmp_path):
    clip = write_video(tmp_path / "clip.avi", n=4)
    it = iter(play(open_source(clip, loop=True)))
    got = [next(it) for _ in range(10)]
    assert [i for _, _, i in got] == list(range(10))
    assert np.array_equal(got[0][0], got[4][0])


def test_an_image_with_a_video_name_plays_as_the_image(tmp_path):
    still = tmp_path / "photo.mp4"
    ok, png = cv2.imencode(".png", np.full((30, 40, 3), (10, 20, 30), np.uint8))
    still.write_bytes(png.tobytes())
    with open_source(still) as src:  # as an image, or as OpenCV's one-frame video
        assert src.size == (30, 40)
        (frame, _, _), = list(play(src))
    assert tuple(frame[0, 0]) == (30, 20, 10)  # RGB


def test_linux_cameras_are_listed_from_sysfs_once_each(tmp_path):
    """Without Qt Multimedia (the desktop bundle) the window lists the cameras Linux
    knows: one entry per camera (its capture node, index 0), with its OpenCV index."""
    from uniskel.engine.media.sources import v4l2_cameras

    for node, name, index in [("video0", "Integrated Camera: Integrated C", "0"),
                              ("video1", "Integrated Camera: Integrated C", "1"),  # metadata
                              ("video10", "USB Cam", "0"), ("video2", "Capture card", "0")]:
        (tmp_path / node).mkdir()
        (tmp_path / node / "name").write_text(name + "\n")
        (tmp_path / node / "index").write_text(index + "\n")
    (tmp_path / "vbi0").mkdir()
    assert v4l2_cameras(tmp_path) == [("Integrated Camera: Integrated C", 0),
                                      ("Capture card", 2), ("USB Cam", 10)]
    assert v4l2_cameras(tmp_path / "missing") == []
