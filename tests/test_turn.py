"""A second look, turned upright, at people lying down or upside down
(engine/runtime/turn.py): which quarter turn stands a body up, the shipped student's
reading of a person upside down, and a tracked person followed round a turn."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from uniskel.engine import skeleton as sk
from uniskel.engine.runtime import crop as C
from uniskel.engine.runtime import turn as T
from uniskel.engine.runtime.pipeline import Pipeline

I = sk.INDEX


def pose(up_degrees: float) -> np.ndarray:
    """A stick pose whose hips-to-shoulders line points ``up_degrees`` clockwise from up
    (frame pixels: y grows downwards)."""
    k = np.zeros((21, 3))
    a = np.deg2rad(up_degrees)
    up = np.array([np.sin(a), -np.cos(a)])
    side = np.array([-up[1], up[0]])
    hips, shoulders = np.array([100.0, 100.0]), np.array([100.0, 100.0]) + 50 * up
    for name, c in (("left_shoulder", shoulders + 10 * side), ("right_shoulder", shoulders - 10 * side),
                    ("left_hip", hips + 8 * side), ("right_hip", hips - 8 * side)):
        k[I[name], :2] = c
    k[:, 2] = 0.5
    return k


@pytest.mark.parametrize("degrees", [0, 30, -55, 59])
def test_a_body_near_upright_is_not_turned(degrees):
    assert T.turn_for(pose(degrees)) == 0


@pytest.mark.parametrize("degrees", [65, 90, 135, 180, -90, -120, 220])
def test_the_turn_stands_the_body_up(degrees):
    """The crop turned by ``turn_for`` shows the body within 45 degrees of upright."""
    turn = T.turn_for(pose(degrees))
    assert turn in T.TURNS
    m = C.warp_matrix((0, 0), (1, 1), (2, 2), turn)[:, :2]
    u = m @ T.body_up(pose(degrees))
    assert -u[1] / np.hypot(*u) >= np.cos(np.deg2rad(45)) - 1e-9


def test_a_pose_with_no_body_line_is_not_turned():
    assert T.turn_for(np.zeros((21, 3))) == 0
    k = pose(180)
    k[I["left_hip"], 0] = np.nan
    assert T.turn_for(k) == 0


def _person(shared_data):
    """coco128's 000000000036.jpg (one person, standing) and the shipped student's pose
    of them, from a pipeline as the CLI runs it."""
    from uniskel.engine.backends import create

    image = cv2.cvtColor(cv2.imread(str(shared_data / "coco128" / "images" / "000000000036.jpg")),
                         cv2.COLOR_BGR2RGB)
    backend = create("onnx")
    person = Pipeline(backend, smoothing=False).process(image).people[0]
    return image, backend, person


def test_the_student_reads_a_person_upside_down_with_a_second_look(shared_data):
    """The picture upside down, cropped at the person's box: the first reading is far off
    (the student learned from upright people), the turned look finds the points."""
    image, backend, person = _person(shared_data)
    h, w = image.shape[:2]
    flipped = np.ascontiguousarray(image[::-1, ::-1])
    x0, y0, x1, y1 = person.box
    box = (w - 1 - x1, h - 1 - y1, w - 1 - x0, h - 1 - y0)
    truth = person.keypoints[:17, :2].copy()
    truth[:, 0], truth[:, 1] = w - 1 - truth[:, 0], h - 1 - truth[:, 1]

    c, s = C.box_to_center_scale(box, backend.input_size, 1.25)
    m = C.warp_matrix(c, s, backend.input_size)
    first = np.asarray(backend.infer(C.crop(flipped, m, backend.input_size)[None])[0], float)
    first[:, :2] = C.apply(C.invert(m), first[:, :2])
    again, turns, crops = T.look_again(flipped, [box], first[None], backend.infer,
                                       backend.input_size, 1.25)
    off = lambda k: float(np.median(np.linalg.norm(k[:17, :2] - truth, axis=1)))  # noqa: E731
    assert crops == 1 and turns[0] == 180
    assert off(first) > 100 and off(again[0]) < 15
    assert again[0][:17, 2].mean() > first[:17, 2].mean()

    # upright, nobody is looked at again
    same, turns, crops = T.look_again(image, [person.box], person.keypoints[None],
                                      backend.infer, backend.input_size, 1.25)
    assert crops == 0 and turns[0] == 0 and np.array_equal(same[0], person.keypoints)


def test_a_tracked_person_is_followed_onto_their_side(shared_data):
    """The frame turns 5 degrees a frame about the person, to 90 degrees (someone going
    down to the floor): with the second look, the person is read at the end within a few
    pixels and the track keeps their turn; without it, further off."""
    image, backend, person = _person(shared_data)
    x0, y0, x1, y1 = person.box
    centre = ((x0 + x1) / 2, (y0 + y1) / 2)
    side = max(image.shape[:2]) + 200
    off = {}
    for turn in (True, False):
        pipe = Pipeline(backend, smoothing=False, turn=turn)
        for n, degrees in enumerate(range(0, 91, 5)):
            m = cv2.getRotationMatrix2D(centre, degrees, 1.0)
            m[:, 2] += (side / 2 - centre[0], side / 2 - centre[1])
            people = pipe.process(cv2.warpAffine(image, m, (side, side)), n / 30).people
        assert len(people) == 1 and people[0].track_id == 1
        truth = person.keypoints[:17, :2] @ m[:, :2].T + m[:, 2]
        off[turn] = float(np.median(np.linalg.norm(people[0].keypoints[:17, :2] - truth, axis=1)))
        if turn:
            assert pipe._turns == {1: 270}
    assert off[True] < 20 and off[False] > 2 * off[True]


def test_someone_upside_down_from_the_start_is_found(shared_data):
    """The photo upside down, a fresh pipeline: the person detector finds nobody on it,
    so the frame is looked at turned over too; the person found there is read by the
    second look. Without the turn, nobody is shown."""
    image, backend, person = _person(shared_data)
    h, w = image.shape[:2]
    flipped = np.ascontiguousarray(image[::-1, ::-1])
    assert Pipeline(backend, smoothing=False, turn=False).process(flipped).people == []
    people = Pipeline(backend, smoothing=False).process(flipped).people
    assert len(people) == 1
    truth = person.keypoints[:17, :2].copy()
    truth[:, 0], truth[:, 1] = w - truth[:, 0], h - truth[:, 1]
    assert np.median(np.linalg.norm(people[0].keypoints[:17, :2] - truth, axis=1)) < 15
