"""Issue 32, "find more people": the person detector's lower threshold in everyone mode,
with the pose vouching for the boxes it adds (docs/measurements.md, "Finding more people
(after)")."""
from __future__ import annotations

import numpy as np
import pytest

from uniskel.engine.runtime import detector as detectors
from uniskel.engine.runtime.boxes import iou
from uniskel.engine.runtime.detector import Detector
from uniskel.engine.runtime.pipeline import Pipeline
from engine_fakes import BlobBackend, frame_with_person


class FixedDetector(Detector):
    name = "fixed"
    whole_person = True

    def __init__(self, boxes):
        self.boxes = boxes
        self.calls = 0

    def detect(self, frame):
        self.calls += 1
        return list(self.boxes)


def test_everyone_mode_keeps_nanodet_boxes_down_to_0_2_one_person_mode_at_0_3():
    assert detectors.nanodet_settings(10) == {"size": 416, "min_score": 0.2}
    assert detectors.nanodet_settings(2)["min_score"] == 0.2
    assert detectors.nanodet_settings(1) == {"size": 256, "min_score": 0.3}


@pytest.mark.skipif(detectors.nanodet_unavailable() is not None, reason="no NanoDet here")
def test_the_people_toggle_switches_nanodets_size_and_threshold():
    pipe = Pipeline(BlobBackend(), detector="nanodet", max_people=10)
    assert (pipe.detector.size, pipe.detector.min_score) == (416, 0.2)
    pipe.set_max_people(1)
    assert (pipe.detector.size, pipe.detector.min_score) == (256, 0.3)
    pipe.set_max_people(10)
    assert (pipe.detector.size, pipe.detector.min_score) == (416, 0.2)
    pipe.close()


def test_a_low_scoring_box_brings_someone_new_only_when_the_pose_is_sure_of_them():
    """A box scoring 0.25 (under the old 0.3 threshold) on a person gives them a
    skeleton; the same box on empty ground gives nobody (the pose vouches)."""
    person, empty = (40, 40, 90, 200), (200, 40, 250, 200)
    frame = frame_with_person(person)
    det = FixedDetector([(*person, 0.25), (*empty, 0.25)])
    pipe = Pipeline(BlobBackend(), detector=det, max_people=10, smoothing=False)
    people = pipe.process(frame, 0.0).people
    assert len(people) == 1 and iou(people[0].box, person) > 0.7


def test_a_low_scoring_box_never_replaces_a_tracked_persons_crop():
    """A box under REFINE_SCORE at IoU >= 0.5 with a tracked person neither refines their
    crop nor starts somebody new; a box at 0.3 or more refines it."""
    from uniskel.engine.runtime.tracker import REFINE_SCORE, Track, Tracker

    assert REFINE_SCORE == 0.3
    t = Tracker(max_people=10)
    t.tracks = [Track(3, np.zeros((21, 3), np.float32), (100, 50, 200, 350), 0.6)]
    shifted = (110, 60, 210, 360)
    new, refined = t.select_detections([(*shifted, 0.25)], frame_index=15)
    assert refined == {} and new == []
    new, refined = t.select_detections([(*shifted, 0.35)], frame_index=30)
    assert refined == {3: shifted} and new == []

