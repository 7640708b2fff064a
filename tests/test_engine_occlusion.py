"""Crowds: the people in front painted out of a hidden person's crop, a detector's box
bounding whose points are whose, and the periodic detection kept by the clock."""
from __future__ import annotations

import numpy as np

from uniskel.engine import skeleton
from uniskel.engine.runtime import occlusion
from uniskel.engine.runtime.detector import Detector
from uniskel.engine.runtime.pipeline import Pipeline
from uniskel.engine.runtime.tracker import drop_outside
from engine_fakes import BlobBackend

I = skeleton.INDEX


def _person(cx, top, height, conf=0.9):
    """21 keypoints of an upright person: head at ``top``, ankles ``height`` below."""
    k = np.zeros((21, 3), np.float32)
    w = height / 4  # shoulder width
    place = {"nose": (0, 0.06), "left_eye": (0.03, 0.05), "right_eye": (-0.03, 0.05),
             "left_ear": (0.06, 0.06), "right_ear": (-0.06, 0.06),
             "left_shoulder": (w / height / 2, 0.2), "right_shoulder": (-w / height / 2, 0.2),
             "left_elbow": (0.15, 0.35), "right_elbow": (-0.15, 0.35),
             "left_wrist": (0.15, 0.48), "right_wrist": (-0.15, 0.48),
             "left_hip": (0.08, 0.52), "right_hip": (-0.08, 0.52),
             "left_knee": (0.08, 0.75), "right_knee": (-0.08, 0.75),
             "left_ankle": (0.08, 1.0), "right_ankle": (-0.08, 1.0)}
    for name, (dx, dy) in place.items():
        k[I[name]] = (cx + dx * height, top + dy * height, conf)
    return k


def test_who_stands_in_front():
    near = (100, 50, 200, 400)  # taller, feet lower in the picture
    far = (160, 60, 220, 250)
    assert occlusion.in_front(near, far)
    assert not occlusion.in_front(far, near)
    assert not occlusion.in_front(near, (300, 60, 360, 250))  # no overlap
    assert not occlusion.in_front((100, 60, 200, 255), far)  # about as far away


def test_the_silhouette_covers_the_body_and_not_the_space_beside_it():
    k = _person(100, 20, 160)
    mask = np.zeros((200, 300), np.uint8)
    occlusion.silhouette(mask, k, 0.15)
    for name in ("nose", "left_shoulder", "right_hip", "left_knee", "right_ankle"):
        x, y = k[I[name], :2].round().astype(int)
        assert mask[y, x] == 255, name
    assert mask[100, 200] == 0 and mask[20, 160] == 0  # beside the person
    k[:, 2] = 0.05  # nothing sure: nothing painted
    empty = np.zeros_like(mask)
    occlusion.silhouette(empty, k, 0.15)
    assert not empty.any()


def test_points_outside_a_detector_box_are_someone_elses():
    k = np.zeros((21, 3), np.float32)
    k[:, 2] = 0.8
    k[:, 0], k[:, 1] = 50, 100  # inside the box
    k[3, :2] = (120, 100)  # far to the right: a neighbour's
    k[4, :2] = (104, 100)  # within the 10% margin
    drop_outside(k, (0, 0, 100, 200))
    assert k[3, 2] == 0 and k[4, 2] > 0.7 and (k[[0, 1, 2], 2] > 0.7).all()


class Recording(BlobBackend):
    """BlobBackend that keeps every crop it was given."""

    def __init__(self):
        super().__init__(input_size=(192, 192))
        self.crops = []

    def infer(self, crops):
        self.crops.extend(c.copy() for c in crops)
        return super().infer(crops)


class FixedDetector(Detector):
    name = "fixed"
    whole_person = True

    def __init__(self, boxes):
        self.boxes, self.calls = boxes, 0

    def detect(self, frame):
        self.calls += 1
        return list(self.boxes)


def test_the_person_in_front_is_painted_out_of_the_crop_of_the_one_behind():
    frame = np.full((480, 640, 3), 20, np.uint8)
    near, far = (300, 60, 420, 470), (380, 60, 440, 260)  # far half hidden behind near
    frame[near[1]:near[3], near[0]:near[2]] = 255
    frame[far[1]:far[3], near[2]:far[2]] = 255  # the part of far that shows
    backend = Recording()
    pipe = Pipeline(backend, detector=FixedDetector([(*near, 0.9), (*far, 0.8)]),
                    max_people=2, smoothing=False, keep_frame=False)
    pipe.process(frame, 0.0)
    # two passes: the person nobody is in front of first, then the one behind
    assert backend.calls == 2 and len(backend.crops) == 2
    front, behind = backend.crops
    grey = np.all(behind == occlusion.GREY, axis=-1).mean()
    assert grey > 0.05 and not np.all(front == occlusion.GREY, axis=-1).any()
    # without painting, the crop behind is the frame as it is
    plain = Recording()
    Pipeline(plain, detector=FixedDetector([(*near, 0.9), (*far, 0.8)]), max_people=2,
             smoothing=False, keep_frame=False, paint_out=False).process(frame, 0.0)
    assert plain.calls == 1 and not np.all(plain.crops[1] == occlusion.GREY, axis=-1).any()


def test_live_the_periodic_detection_keeps_to_the_clock_when_frames_come_slowly(monkeypatch):
    """Live, the periodic detection is due every ``REDETECT_SECONDS`` by the clock, not
    only every 15 frames. A fake clock where the detector costs 150 ms and a crop 10 ms:
    at 10 fps the detector does not fit in every frame (``_detect_fits``), so the clock
    decides."""
    import uniskel.engine.runtime.pipeline as pipeline_module
    from engine_fakes import FakeClock, frame_with_person

    clock = FakeClock()
    monkeypatch.setattr(pipeline_module, "time", clock)
    box = (100, 40, 160, 200)

    def run(seconds_apart, target_fps, frames):
        det, backend = FixedDetector([(*box, 0.9)]), BlobBackend()
        det.detect = clock.charge(det.detect, 0.150)
        backend.infer = clock.charge(backend.infer, 0.010, per_item=True)
        pipe = Pipeline(backend, detector=det, max_people=3, smoothing=False,
                        target_fps=target_fps)
        clock.feed(pipe, [frame_with_person(box)] * frames, seconds_apart)
        return det.calls

    # 10 fps, 15 frames: at 0, 0.6 and 1.2 s (the 15-frame period alone: at 0 only)
    assert run(0.1, 30.0, 15) == 3
    assert run(1 / 30, 30.0, 8) == 1  # 30 a second, 8 frames: within both periods
    assert run(0.1, None, 15) == 1  # offline: by the frame count alone, deterministic


def test_keep_inside_blacks_out_what_lies_outside_the_box_and_its_margin():
    crop = np.full((100, 100, 3), 200, np.uint8)
    occlusion.keep_inside(crop, (40, 20, 60, 80), margin=0.1)  # 2 px, 6 px of margin
    assert (crop[:, :38] == 0).all() and (crop[:, 62:] == 0).all()
    assert (crop[:14] == 0).all() and (crop[86:] == 0).all()
    assert (crop[14:86, 38:62] == 200).all()
    whole = np.full((10, 10, 3), 7, np.uint8)
    occlusion.keep_inside(whole, (-5, -5, 20, 20))  # a box past the crop's edges
    assert (whole == 7).all()


def test_crowded_means_another_box_touches():
    a, b, c = (0, 0, 10, 20), (8, 0, 18, 20), (50, 0, 60, 20)
    assert occlusion.crowded([a, b, c]) == [True, True, False]
    assert occlusion.crowded([a]) == [False]


def _side_by_side():
    frame = np.full((480, 640, 3), 20, np.uint8)
    left, right = (250, 100, 312, 400), (308, 100, 370, 400)  # shoulder to shoulder
    frame[100:400, 250:300] = 255
    frame[100:400, 320:370] = 255
    return frame, left, right


def test_in_a_crowd_each_crop_holds_its_own_person_and_their_pose_stays_on_them():
    frame, left, right = _side_by_side()
    backend = Recording()
    pipe = Pipeline(backend, detector=FixedDetector([(*left, 0.9), (*right, 0.9)]),
                    max_people=2, smoothing=False, keep_frame=False)
    people = pipe.process(frame, 0.0).people
    assert len(backend.crops) == 2
    for crop in backend.crops:  # the sides beyond the box are black, not the frame's 20
        assert (crop[:, :20] == 0).all() and (crop[:, -20:] == 0).all()
    assert len(people) == 2
    for p, box in zip(sorted(people, key=lambda p: p.box[0]), (left, right)):
        xs = p.keypoints[p.keypoints[:, 2] > 0.5, 0]
        width = box[2] - box[0]
        assert xs.min() >= box[0] - 0.1 * width - 1 and xs.max() <= box[2] + 0.1 * width + 1
    # without it, each crop holds both: the blob model's points spread over the two
    plain = Recording()
    Pipeline(plain, detector=FixedDetector([(*left, 0.9), (*right, 0.9)]), max_people=2,
             smoothing=False, keep_frame=False, keep_inside=False).process(frame, 0.0)
    assert not (plain.crops[0] == 0).all(-1).any()


def test_a_person_alone_is_cropped_as_the_frame_is():
    frame = np.full((480, 640, 3), 20, np.uint8)
    frame[100:400, 250:310] = 255
    backend = Recording()
    Pipeline(backend, detector=FixedDetector([(250, 100, 310, 400, 0.9)]), max_people=2,
             smoothing=False, keep_frame=False).process(frame, 0.0)
    assert not (backend.crops[0] == 0).all(-1).any()


class Unsure(Recording):
    """The blob model, at one confidence for every point."""

    def __init__(self, confidence):
        super().__init__()
        self.confidence = confidence

    def infer(self, crops):
        out = super().infer(crops)
        out[out[..., 2] > 0, 2] = self.confidence
        return out


def test_someone_new_in_a_crowded_crop_must_be_surer_than_the_pose_bar():
    bar = 0.12  # mean confidence; the points count as sure from 0.1 here
    between = bar * (1 + occlusion.MASKED_NEW_BAR) / 2  # over the bar, under the raised one
    frame, left, right = _side_by_side()
    crowd = Pipeline(Unsure(between), detector=FixedDetector([(*left, 0.9), (*right, 0.9)]),
                     max_people=2, smoothing=False, keep_frame=False, min_score=bar, keypoint_threshold=0.1)
    assert crowd.process(frame, 0.0).people == []
    sure = Pipeline(Unsure(occlusion.MASKED_NEW_BAR * bar + 0.01),
                    detector=FixedDetector([(*left, 0.9), (*right, 0.9)]), max_people=2,
                    smoothing=False, keep_frame=False, min_score=bar, keypoint_threshold=0.1)
    assert len(sure.process(frame, 0.0).people) == 2
    alone = np.full((480, 640, 3), 20, np.uint8)
    alone[100:400, 250:310] = 255
    one = Pipeline(Unsure(between), detector=FixedDetector([(250, 100, 310, 400, 0.9)]),
                   max_people=2, smoothing=False, keep_frame=False, min_score=bar, keypoint_threshold=0.1)
    assert len(one.process(alone, 0.0).people) == 1


def test_a_window_search_crops_its_windows_whole():
    frame, _, _ = _side_by_side()
    crops = []
    for keep in (True, False):
        backend = Recording()
        Pipeline(backend, detector=None, max_people=1, smoothing=False, keep_frame=False,
                 keep_inside=keep).process(frame, 0.0)
        crops.append(backend.crops)
    assert len(crops[0]) > 1 and all(np.array_equal(a, b) for a, b in zip(*crops))


def _followed_crops(max_people, keep_inside=True):
    """A narrow person with a neighbour 50 px beside them whom the detector does not
    give: the crops of frame 0 (the detector's box) and frame 1 (their last pose)."""
    frame = np.full((480, 640, 3), 20, np.uint8)
    frame[100:400, 250:310] = 255
    frame[100:400, 360:420] = 255  # the neighbour
    backend = Recording()
    pipe = Pipeline(backend, detector=FixedDetector([(250, 100, 310, 400, 0.9)]),
                    max_people=max_people, smoothing=False, keep_frame=False,
                    keep_inside=keep_inside)
    pipe.process(frame, 0.0)
    people = pipe.process(frame, 1 / 30).people
    return backend.crops, people


def test_someone_followed_by_their_pose_is_cropped_near_their_box_in_everyone_mode():
    """Tracking more than one, a person's crop from their last pose is black beyond
    their box widened by TRACKED_MARGIN, so the neighbour beside them is not in it and
    their pose stays on them; a detector's box is cropped whole; one-person mode and
    keep_inside=False crop the frame as it is."""
    crops, people = _followed_crops(max_people=10)
    assert len(crops) == 2 and not (crops[0] == 0).all(-1).any()  # the detector's box
    assert (crops[1][:, :20] == 0).all() and (crops[1][:, -20:] == 0).all()
    assert len(people) == 1
    xs = people[0].keypoints[people[0].keypoints[:, 2] > 0.5, 0]
    assert xs.max() < 310 + occlusion.TRACKED_MARGIN * 60 + 1 and xs.min() > 250 - 16
    for crops, _ in (_followed_crops(max_people=1), _followed_crops(10, keep_inside=False)):
        assert len(crops) == 2 and not (crops[1] == 0).all(-1).any()



def test_a_box_over_halves_of_two_gives_way_only_to_someone_taken():
    """Three new people in a row, their crops kept inside their boxes: B unsure, a box
    over halves of B and C surer than B, and C surest. The box over halves gives way to
    C; B, whom only that box outranked, is taken (it was left out with it: the three
    boys on a bench in the pooled val's stills got one skeleton, now three)."""
    b, bc, c = (100, 100, 200, 400), (120, 100, 250, 400), (170, 100, 270, 400)
    bar = 0.12
    left_out = occlusion.masked_new_left_out([b, bc, c], [False] * 3, [0.40, 0.45, 0.60],
                                             [True] * 3, bar)
    assert left_out == {1}
    # someone tracked there instead of C: the box over halves still gives way to them
    assert occlusion.masked_new_left_out([b, bc, c], [False, False, True],
                                         [0.40, 0.45, 0.30], [True] * 3, bar) == {1}
    # under the raised bar, and unmasked crops are not this rule's
    assert occlusion.masked_new_left_out([b, bc, c], [False] * 3, [0.14, 0.45, 0.60],
                                         [True] * 3, bar) == {0, 1}
    assert occlusion.masked_new_left_out([b, bc, c], [False] * 3, [0.40, 0.45, 0.60],
                                         [False] * 3, bar) == set()
