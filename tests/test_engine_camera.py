"""The camera's own motion (``engine.runtime.camera``): a pan read as the picture moving,
a still camera with people walking read as still, and everyone tracked moved with it."""
from __future__ import annotations

import functools

import cv2
import numpy as np

from uniskel.engine.runtime.camera import MIN_SHIFT, CameraMotion
from uniskel.engine.runtime.pipeline import Pipeline
from uniskel.engine.runtime.tracker import Track, Tracker
from engine_fakes import BlobBackend
from test_engine_occlusion import FixedDetector

H, W = 720, 1280


@functools.lru_cache(maxsize=1)
def _texture() -> np.ndarray:
    """A scene wider and taller than the frame: blurred noise, dark (under the blob
    model's 128), so a white block is the only person in it."""
    rng = np.random.default_rng(3)
    grey = cv2.GaussianBlur(rng.random((H + 100, W + 200)).astype(np.float32), (0, 0), 12)
    grey = (grey - grey.min()) / (grey.max() - grey.min()) * 110
    return np.repeat(grey.astype(np.uint8)[..., None], 3, axis=2)


def view(x: int, y: int, person=None) -> np.ndarray:
    """The frame of a camera looking at the scene from (x, y); ``person``: a white block
    (x0, y0, x1, y1) in frame pixels painted on it."""
    frame = np.ascontiguousarray(_texture()[y:y + H, x:x + W])
    if person is not None:
        x0, y0, x1, y1 = person
        frame[y0:y1, x0:x1] = 255
    return frame


def test_a_pan_is_read_as_the_picture_moving():
    cam = CameraMotion()
    assert cam.shift(view(60, 40)) == (0.0, 0.0)  # the first frame: nothing to compare
    dx, dy = cam.shift(view(50, 46))  # the camera turned left and up: the picture moves
    assert abs(dx - 10) < 2.5 and abs(dy + 6) < 2.5, (dx, dy)  # right by 10, up by 6
    assert cam.shift(view(50, 45)) == (0.0, 0.0)  # 1 px: under MIN_SHIFT, a still camera
    assert MIN_SHIFT > 1
    cam.reset()
    assert cam.shift(view(20, 20)) == (0.0, 0.0)


def test_a_still_camera_with_someone_walking_past_reads_still():
    for boxes in (True, False):  # their box left out, or not even given
        cam = CameraMotion()
        for i in range(4):
            person = (300 + 40 * i, 100, 620 + 40 * i, 700)  # a quarter of the frame
            shift = cam.shift(view(60, 40, person), [person] if boxes else [])
            assert shift == (0.0, 0.0), (boxes, i, shift)


def test_everyone_tracked_and_those_lost_move_with_the_camera_not_by_their_velocity_too():
    tracker = Tracker(max_people=10)
    t = Track(1, np.zeros((21, 3), np.float32), (100, 100, 200, 400), 0.9)
    t.velocity = np.array([4.0, 0.0])
    lost = Track(2, np.zeros((21, 3), np.float32), (500, 100, 600, 400), 0.9)
    tracker.tracks = [t]
    tracker.lost_people.gone = [(lost, 0)]
    assert t.next_box() == (102, 100, 202, 400)  # half their velocity
    tracker.shift(-10.0, 2.0)
    assert t.box == (90, 102, 190, 402) and lost.box == (490, 102, 590, 402)
    assert np.allclose(t.keypoints[:, :2], (-10, 2))
    assert t.next_box() == t.box  # the camera moved: not their velocity on top
    tracker.shift(0.0, 0.0)  # it stands still again
    assert t.box == (90, 102, 190, 402) and t.next_box() == (92, 102, 192, 402)


def _panned(**kw) -> bool:
    """Two frames of a pan (the camera turned 12 px) with one person: whether the
    tracker moved them with it."""
    pipe = Pipeline(BlobBackend(input_size=(192, 192)), smoothing=False, keep_frame=False,
                    detector=FixedDetector([(600, 200, 700, 600, 0.9)]), **kw)
    pipe.process(view(60, 40, (600, 200, 700, 600)), 0.0)
    pipe.process(view(48, 40, (612, 200, 712, 600)), 1 / 30)
    return pipe.tracker.tracks[0].panned


def test_the_pipeline_follows_the_camera_tracking_everyone_only():
    assert _panned(max_people=10)
    assert not _panned(max_people=10, follow_camera=False)
    assert not _panned(max_people=1)  # one person: their own velocity, no cost added


def test_the_smoother_moves_with_the_camera_and_does_not_smooth_a_pan_away():
    from uniskel.engine.runtime.smoothing import KeypointSmoother

    k = np.zeros((21, 3), np.float32)
    k[:, :2], k[:, 2] = (400.0, 300.0), 0.9
    moved = k.copy()
    moved[:, 0] += 30  # the picture moved 30 px right; the person stood still
    for shifted in (True, False):
        s = KeypointSmoother()
        s(1, k, 0.0, 100.0)
        if shifted:
            s.shift(30.0, 0.0)
        out = s(1, moved, 1 / 30, 100.0)
        lag = abs(float(out[0, 0]) - 430.0)
        assert (lag < 1e-6) if shifted else (lag > 5.0), (shifted, lag)
