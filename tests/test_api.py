"""The Python API (uniskel.Body): the README's example runs as written, on a real photo."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_runs_as_written(tmp_path, shared_data):
    """In a fresh interpreter, outside the repository (so only the installed namespace
    can be imported): the example finds the person in a real photo and prints one line
    per person with an id and the shapes it promises."""
    shutil.copy(shared_data / "coco128" / "images" / "000000000036.jpg", tmp_path / "photo.jpg")
    out = subprocess.run([sys.executable, "-c", readme_example()], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines, "the example printed no person"
    for line in lines:
        pid, *rest = line.split(" ", 1)
        assert int(pid) >= 1 and "(21, 2) (21,)" in rest[0]


def test_installed_layers_live_under_one_namespace(tmp_path):
    """From outside the repository, uniskel's layers import as uniskel.*, and no generic
    top-level app / engine / training package is installed."""
    code = ("import importlib.util as u, uniskel.engine.skeleton, uniskel.app, uniskel.training,"
            " uniskel.commands\n"
            "print([n for n in ('app', 'engine', 'training', 'commands') if u.find_spec(n)])")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.fixture(scope="module")
def body():
    import uniskel

    with uniskel.Body(backend="onnx") as b:
        yield b


def test_body_finds_the_people_of_a_real_frame_and_keeps_their_ids(body, demo_video):
    """On the demo video (several people), ``track`` keeps ids from frame to frame, while
    ``body(image)`` starts afresh on each call (ids from 1 again)."""
    cap = cv2.VideoCapture(str(demo_video))
    frames = []
    while len(frames) < 3:
        ok, frame = cap.read()
        assert ok
        frames.append(frame)
    cap.release()
    first = body.track(frames[0])
    assert len(first) >= 2
    ids = {p.id for p in first}
    later = body.track(frames[1]) + body.track(frames[2])
    assert ids & {p.id for p in later}  # someone seen in frame 0 keeps their id
    again = body(frames[0])
    assert {p.id for p in again} == set(range(1, len(again) + 1))
    p = again[0]
    h, w = frames[0].shape[:2]
    assert p.keypoints.shape == (21, 2) and p.scores.shape == (21,)
    x0, y0, x1, y1 = p.box
    assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
    x, y, c = p["nose"]
    assert (x, y, c) == (p.keypoints[0, 0], p.keypoints[0, 1], p.scores[0])


def test_body_says_what_is_wrong_with_its_input(body, tmp_path):
    from uniskel.engine.errors import UniskelError

    with pytest.raises(UniskelError, match="none.jpg: not a readable image"):
        body(tmp_path / "none.jpg")
    with pytest.raises(UniskelError, match="expected a BGR uint8 image"):
        body(np.zeros((10, 10, 3), np.float32))
