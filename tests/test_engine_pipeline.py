"""Pipeline, tracker, detector and smoothing: synthetic people (exact) and real frames."""
from __future__ import annotations

import numpy as np
import pytest

from uniskel.engine.runtime.detector import BlazePoseDetector, Detector, SearchDetector, blazepose_unavailable
from uniskel.engine.runtime.boxes import iou
from uniskel.engine.runtime.pipeline import STAGES, FrameResult, Person, Pipeline
from uniskel.engine.runtime.smoothing import KeypointSmoother, OneEuroFilter
from engine_fakes import BlobBackend, frame_with_person


def inside(kpts, box, margin=3.0) -> bool:
    x0, y0, x1, y1 = box
    return bool(np.all((kpts[:, 0] >= x0 - margin) & (kpts[:, 0] <= x1 + margin)
                       & (kpts[:, 1] >= y0 - margin) & (kpts[:, 1] <= y1 + margin)))


def test_one_frame_goes_through_the_five_named_stages():
    box = (120, 40, 170, 200)
    pipe = Pipeline(BlobBackend(), detector=SearchDetector(), smoothing=False)
    res = pipe.process(frame_with_person(box), 0.0)
    assert isinstance(res, FrameResult)
    assert tuple(res.stages_ms) == STAGES and all(v >= 0 for v in res.stages_ms.values())
    assert res.size == (240, 320) and res.backend == "blob" and res.frame_index == 0
    assert len(res.people) == 1
    p = res.people[0]
    assert isinstance(p, Person) and p.keypoints.shape == (21, 3) and p.track_id == 1
    # crop -> model -> inverse warp lands the points back on the person, in frame pixels
    assert inside(p.keypoints, box)
    assert p.keypoints[:, 0].min() < box[0] + 5 and p.keypoints[:, 0].max() > box[2] - 6
    assert iou(p.box, box) > 0.8


def test_tracker_follows_loses_and_reacquires():
    backend = BlobBackend()
    pipe = Pipeline(backend, detector=SearchDetector(), smoothing=True)
    script = ([(60 + 4 * i, 40, 110 + 4 * i, 200) for i in range(6)]  # walks right
              + [None] * 4                                            # gone
              + [(260, 50, 310, 210)] * 5)                            # back elsewhere
    results = [pipe.process(frame_with_person(b), i / 30) for i, b in enumerate(script)]
    ids = [[p.track_id for p in r.people] for r in results]
    assert ids[:6] == [[1]] * 6                     # one track while visible
    assert ids[6:10] == [[]] * 4                    # lost as soon as nobody is there
    assert ids[10] == [2] and ids[10:] == [[2]] * 5  # re-acquired at once, as a new track
    assert pipe.tracker.lost == 1
    assert inside(results[-1].people[0].keypoints, script[-1], margin=6)
    # while tracked, frames used the previous keypoints (one crop per frame, no search)
    calls = backend.calls
    pipe.process(frame_with_person(script[-1]), 1.0)
    assert backend.calls == calls + 1


class FixedDetector(Detector):
    name = "fixed"

    def __init__(self, boxes):
        self.boxes = boxes
        self.calls = 0

    def detect(self, frame):
        self.calls += 1
        return list(self.boxes)


def test_several_people_through_a_detector():
    a, b = (30, 40, 80, 200), (200, 30, 260, 220)
    frame = frame_with_person(a)
    frame[b[1]:b[3], b[0]:b[2]] = 255
    det = FixedDetector([(*a, 0.9), (*b, 0.8)])
    pipe = Pipeline(BlobBackend(), detector=det, max_people=2, smoothing=False)
    for i in range(3):
        res = pipe.process(frame, i / 30)
    assert sorted(p.track_id for p in res.people) == [1, 2]
    boxes = sorted((p.box for p in res.people), key=lambda bx: bx[0])
    assert iou(boxes[0], a) > 0.7 and iou(boxes[1], b) > 0.7
    assert det.calls == 1  # both tracked: no more detection
    one = Pipeline(BlobBackend(), detector=FixedDetector([(*a, 0.5), (*b, 0.9)]), max_people=1)
    res = one.process(frame, 0.0)
    assert len(res.people) == 1 and iou(res.people[0].box, b) > 0.7  # the more prominent


def test_duplicate_poses_of_one_person_merge():
    box = (100, 40, 160, 200)
    det = FixedDetector([(*box, 0.9), (box[0] + 3, box[1] + 2, box[2] + 3, box[3], 0.8)])
    pipe = Pipeline(BlobBackend(), detector=det, max_people=3, smoothing=False)
    res = pipe.process(frame_with_person(box), 0.0)
    assert len(res.people) == 1


def test_a_pose_on_part_of_someone_already_shown_is_the_same_person():
    """A second pose that lies on the upper body of a person already kept (its box IoU
    with theirs well under 0.5) is merged by keypoint similarity; a person of the same
    size beside them is not."""
    from uniskel.engine.runtime.tracker import Pose, Tracker

    rng = np.random.default_rng(0)
    whole = np.zeros((21, 3), np.float32)
    whole[:, 0] = rng.uniform(100, 160, 21)
    whole[:, 1] = np.linspace(40, 400, 21)
    whole[:, 2] = 0.9
    upper = whole.copy()
    upper[:, :2] += rng.normal(0, 2, (21, 2))
    upper[10:, 2] = 0.0  # only the top half is sure
    beside = whole.copy()
    beside[:, 0] += 70
    t = Tracker(max_people=5, min_score=0.1)
    tracks = t.update([Pose(whole, 0.9), Pose(upper, 0.45, confirmed=True)])
    assert len(tracks) == 1
    assert tracks[0].confirmed_at == 0  # the detector's word for the twin holds for them
    assert iou(t.pose_box(upper), tracks[0].box) < 0.5  # box IoU alone would keep both
    t.reset()
    assert len(t.update([Pose(whole, 0.9), Pose(beside, 0.9)])) == 2


def test_someone_lost_brings_the_detector_back_once_the_gap_has_passed():
    """A person lost a frame after a detection is looked for again as soon as lost_gap
    frames have passed since that detection, not only at the next periodic one (unless
    the pipeline is behind its frame rate)."""
    from uniskel.engine.runtime.tracker import Pose, Tracker

    k = np.zeros((21, 3), np.float32)
    k[:, 0], k[:, 1], k[:, 2] = np.linspace(10, 60, 21), np.linspace(10, 200, 21), 0.9
    t = Tracker(max_people=3, redetect_every=15, lost_gap=5)
    t.update([Pose(k, 0.9), Pose(k + [100, 0, 0], 0.9)])
    t.select_detections([], frame_index=1)
    t.update([Pose(k, 0.9, 1)])  # frame 1: #2 lost, right after the detection
    wanted = []
    for i in range(2, 8):  # frames go on with #1 alone
        wanted.append(t.wants_detection(i))
        t.update([Pose(k, 0.9, 1)])
    assert wanted == [False, False, False, False, True, True]  # from frame 6 = 1 + 5
    # a pipeline behind its frame rate leaves them to the periodic detection
    assert not t.wants_detection(8, soon=False) and t.wants_detection(16, soon=False)


def _standing(x0, y0, height, conf=0.9):
    """A synthetic person: 21 sure points down a line ``height`` tall."""
    k = np.zeros((21, 3), np.float32)
    k[:, 0] = np.linspace(x0, x0 + height / 4, 21)
    k[:, 1] = np.linspace(y0, y0 + height, 21)
    k[:, 2] = conf
    return k


def test_a_full_cap_still_lets_in_someone_much_nearer():
    """With max_people tracked the periodic detection still runs (not in one-person
    mode); a newcomer a detector vouched for, 1.5x the size of the smallest tracked
    person, takes their place; one of about their size, or one no detector vouched
    for, does not."""
    from uniskel.engine.runtime.tracker import Pose, Tracker

    a, b = _standing(10, 10, 100), _standing(200, 10, 120)
    t = Tracker(max_people=2, redetect_every=15)
    t.select_detections([], 0)
    t.update([Pose(a, 0.9), Pose(b, 0.9)])
    wanted = []
    for i in range(1, 16):
        wanted.append(t.wants_detection(i))
        t.update([Pose(a, 0.9, 1), Pose(b, 0.9, 2)])
    assert wanted == [False] * 14 + [True]
    similar, near = _standing(400, 10, 110), _standing(400, 10, 300)
    ids = [tr.track_id for tr in t.update([Pose(a, 0.9, 1), Pose(b, 0.9, 2),
                                           Pose(similar, 0.9, confirmed=True)])]
    assert ids == [1, 2]
    ids = [tr.track_id for tr in t.update([Pose(a, 0.9, 1), Pose(b, 0.9, 2),
                                           Pose(near, 0.9)])]
    assert ids == [1, 2]
    ids = [tr.track_id for tr in t.update([Pose(a, 0.9, 1), Pose(b, 0.9, 2),
                                           Pose(near, 0.9, confirmed=True)])]
    assert ids == [2, 3] and t.outranked == 1  # the smaller of the two made room
    one = Tracker(max_people=1, redetect_every=15)
    one.select_detections([], 0)
    one.update([Pose(a, 0.9)])
    assert not any(one.wants_detection(i) for i in range(1, 60))  # the presenter stays


def test_a_crop_keeps_the_scale_of_the_detector_box_for_a_while():
    """For redetect_every frames after the detector's box for a person, their next crop
    stays at least 0.75 of its size, even when the model is sure only of their head and
    shoulders (on a small, blurred person the crop would otherwise close in on the upper
    body, where the model grows less sure still); then it may close in."""
    from uniskel.engine.runtime.tracker import Pose, Tracker

    box = (100.0, 50.0, 175.0, 350.0)
    t = Tracker(max_people=3, min_score=0.1, redetect_every=15)
    new, _ = t.select_detections([(*box, 0.9)], 0)
    assert new == [(box, True)]
    whole = _standing(100, 50, 300)
    t.update([Pose(whole, 0.9, confirmed=True, detector_box=box)])
    upper = whole.copy()
    upper[8:, 2] = 0.0  # sure of the head and shoulders only: a box a third as tall
    assert t.pose_box(upper)[3] - t.pose_box(upper)[1] < 0.4 * 300
    heights = []
    for _ in range(20):
        tr = t.update([Pose(upper, 0.5, 1)])[0]
        heights.append(tr.box[3] - tr.box[1])
    assert min(heights[:15]) >= 0.75 * 300 - 1e-3
    assert heights[-1] < 0.5 * 300


def test_one_euro_reduces_jitter_and_follows_motion():
    rng = np.random.default_rng(0)
    t = np.arange(300) / 30
    raw = 100 + rng.normal(0, 2.0, (300, 21, 2))
    f = OneEuroFilter()
    out = np.array([f(raw[i], t[i], scale=150) for i in range(300)])
    assert out[30:].std() < 0.5 * raw[30:].std()
    assert abs(out[30:].mean() - 100) < 0.5
    # a steady walk (2 body sizes a second) is followed within a few pixels
    truth = 100 + 300 * t[:, None, None]
    f.reset()
    moving = np.array([f(truth[i] + rng.normal(0, 2.0, (21, 2)), t[i], scale=150)
                       for i in range(300)])
    assert np.abs(moving[60:] - truth[60:]).mean() < 6


def test_smoother_forgets_lost_tracks():
    s = KeypointSmoother()
    k = np.zeros((21, 3), np.float32)
    for i in range(10):
        s(1, k, i / 30, 100)
    s.keep_only([])
    far = k.copy()
    far[:, :2] = 500
    assert np.allclose(s(1, far, 11 / 30, 100)[:, :2], 500)  # no pull from the old place
    assert np.all(s(1, far, 12 / 30, 100)[:, 2] == 0)         # confidence untouched


def test_search_detector_windows_cover_the_frame():
    boxes = SearchDetector().detect(np.zeros((480, 960, 3), np.uint8))
    assert boxes[0][:4] == (0.0, 0.0, 960.0, 480.0)
    assert len(boxes) == 4 and min(b[0] for b in boxes) == 0 and max(b[2] for b in boxes) == 960


@pytest.mark.skipif(blazepose_unavailable() is not None, reason=str(blazepose_unavailable()))
def test_blazepose_detector_finds_real_people(shared_data):
    import json

    import cv2

    coco = shared_data / "coco_mini"
    ann = json.loads((coco / "annotations" / "person_keypoints_train2017.json").read_text())
    image = next(i for i in ann["images"] if i["file_name"] == "000000227000.jpg")
    gts = [a["bbox"] for a in ann["annotations"]
           if a["image_id"] == image["id"] and a["num_keypoints"] > 10]
    frame = cv2.cvtColor(cv2.imread(str(coco / "train2017" / image["file_name"])), cv2.COLOR_BGR2RGB)
    det = BlazePoseDetector()
    boxes = det.detect(frame)
    det.close()
    assert boxes and all(0.5 <= b[4] <= 1 for b in boxes)
    best = max(iou(b, (x, y, x + w, y + h)) for b in boxes for x, y, w, h in gts)
    assert best > 0.4


def test_real_backend_on_the_demo_video(random_onnx, demo_video):
    from uniskel.engine import backends
    from uniskel.engine.media.playback import play
    from uniskel.engine.media.sources import open_source

    pipe = Pipeline(backends.create("onnx"), max_people=2)  # the shipped student
    with open_source(demo_video) as src:
        results = [pipe.process(f, ts) for f, ts, _ in play(src)]
    pipe.close()
    assert [r.frame_index for r in results] == [0, 1, 2, 3, 4]
    assert all(r.backend == "onnx" and r.size == (540, 960) for r in results)
    assert sum(len(r.people) for r in results) >= 5  # something to check below
    for r in results:
        for p in r.people:
            assert p.keypoints.shape == (21, 3) and np.isfinite(p.keypoints).all()
            assert 0 <= p.score <= 1


def test_nanodet_finds_every_clearly_visible_person_and_nothing_in_an_empty_frame(shared_data):
    """The shipped detector on real COCO images: each annotated person taller than 96 px
    on these images is found (box IoU >= 0.5); a blank frame gives nobody."""
    import json

    import cv2

    from uniskel.engine.runtime.detector import NanoDetDetector

    coco = shared_data / "coco128"
    ann = json.loads((coco / "person_keypoints_train2017.json").read_text())
    files = {i["id"]: i["file_name"] for i in ann["images"]}
    tall = {}
    for a in ann["annotations"]:
        x, y, w, h = a["bbox"]
        if h > 96:
            tall.setdefault(a["image_id"], []).append((x, y, x + w, y + h))
    det = NanoDetDetector(size=416)
    checked = 0
    for image_id in sorted(tall)[:6]:
        frame = cv2.cvtColor(cv2.imread(str(coco / "images" / files[image_id])), cv2.COLOR_BGR2RGB)
        boxes = det.detect(frame)
        assert all(0.3 < b[4] <= 1 and b[0] < b[2] and b[1] < b[3] for b in boxes)
        for gt in tall[image_id]:
            assert max((iou(b, gt) for b in boxes), default=0) >= 0.5, (image_id, gt, boxes)
            checked += 1
    assert checked >= 6
    assert det.detect(np.zeros((480, 640, 3), np.uint8)) == []


def _line_pose(x, width, top, bottom, score=0.9):
    """A Pose of 21 sure points on a slanted line from (x, top) to (x + width, bottom)."""
    from uniskel.engine.runtime.tracker import Pose

    k = np.zeros((21, 3), np.float32)
    k[:, 0] = x + np.linspace(0, width, 21)
    k[:, 1] = np.linspace(top, bottom, 21)
    k[:, 2] = score
    return Pose(k, score)


def test_a_person_found_again_soon_keeps_their_id():
    """Lost for a few frames (occluded), then found where their track was heading: the
    old id comes back, not a new one."""
    from uniskel.engine.runtime.tracker import Pose, Tracker

    def pose_at(x):
        return _line_pose(x, 40, 100, 300)

    tr = Tracker(max_people=2, min_score=0.3)
    first = tr.update([pose_at(100)])
    assert [t.track_id for t in first] == [1]
    tracked = Pose(first[0].keypoints.copy(), 0.9, track_id=1)
    tr.update([tracked])
    assert tr.update([]) == [] and tr.lost == 1  # occluded
    tr.update([])
    back = tr.update([pose_at(104)])  # found again, nearby
    assert [t.track_id for t in back] == [1] and tr.reclaimed == 1
    other = tr.update([Pose(back[0].keypoints.copy(), 0.9, track_id=1), pose_at(600)])
    assert sorted(t.track_id for t in other) == [1, 2]  # someone elsewhere is someone new


def test_a_person_who_stopped_is_found_again_where_they_were():
    """A small person standing still whose box jittered (a velocity of 10 px a frame,
    noise): lost for 12 frames, found again where they stood, not where that velocity
    would have carried them. They keep their id."""
    from uniskel.engine.runtime.tracker import Tracker

    def pose_at(x):
        return _line_pose(x, 30, 100, 160)

    tr = Tracker(max_people=2, min_score=0.3)
    tr.update([pose_at(100)])
    tr.tracks[0].velocity = np.array([10.0, 0.0])  # the jitter of a small person's box
    for _ in range(12):
        tr.update([])
    back = tr.update([pose_at(101)])
    assert [t.track_id for t in back] == [1] and tr.reclaimed == 1


def test_a_person_seen_from_the_waist_up_keeps_a_body_sized_box():
    """Shoulders sure, hips given confidence 0 (below the picture's edge): the next crop
    reaches a torso's length below the shoulders instead of closing in on the face;
    with the hips sure, the box is the keypoints' own."""
    from uniskel.engine import skeleton
    from uniskel.engine.runtime.next_crop import SHOULDERS_PER_EARS, TORSO_PER_SHOULDERS
    from uniskel.engine.runtime.tracker import Tracker

    k = np.zeros((21, 3), np.float32)
    ix = skeleton.INDEX
    for name, (x, y) in {"nose": (100, 50), "left_eye": (95, 45), "right_eye": (105, 45),
                         "left_shoulder": (80, 100), "right_shoulder": (120, 100)}.items():
        k[ix[name]] = (x, y, 0.9)
    t = Tracker(max_people=1)
    x0, y0, x1, y1 = t.pose_box(k)
    assert (x0, y0, x1) == (80, 45, 120) and y1 == pytest.approx(100 + TORSO_PER_SHOULDERS * 40)
    # shoulders unsure, ears sure 15 px apart: shoulders 2.7 ears wide, half a shoulder
    # width below the ears, and a torso below that
    face = k.copy()
    face[[ix["left_shoulder"], ix["right_shoulder"]], 2] = 0.1
    face[ix["left_ear"]], face[ix["right_ear"]] = (92.5, 50, 0.9), (107.5, 50, 0.9)
    width = SHOULDERS_PER_EARS * 15
    assert t.pose_box(face) == pytest.approx(
        (100 - width / 2, 45, 100 + width / 2, 50 + (0.5 + TORSO_PER_SHOULDERS) * width))
    k[ix["left_hip"]] = (85, 150, 0.9)
    k[ix["right_hip"]] = (115, 150, 0.9)
    assert t.pose_box(k) == (80, 45, 120, 150)


def test_the_bundled_student_follows_the_half_body_sample_without_losing_her():
    """The sample video (an astronaut from the chest up, panned and zoomed): one person in
    nearly every frame, and no legs drawn (confidence under 0.2)."""
    import cv2

    from uniskel.engine import assets, backends, skeleton

    backend = backends.create("onnx")
    pipe = Pipeline(backend, max_people=6)
    cap = cv2.VideoCapture(str(assets.asset("media", "sample_astronaut.mp4")))
    found, ids, legs = 0, [], []
    n = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        n += 1
        people = pipe.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)).people
        found += len(people) == 1
        ids += [p.track_id for p in people]
        legs += [p.keypoints[[skeleton.INDEX[j] for j in ("left_knee", "right_knee",
                                                           "left_ankle", "right_ankle")], 2]
                 for p in people]
    backend.close()
    assert n >= 60 and found >= 0.95 * n
    # one id for the whole video (her crop no longer closes in on her face when the
    # model is unsure of her shoulders)
    assert max(ids.count(i) for i in set(ids)) >= 0.95 * n and len(set(ids)) <= 2
    assert (np.concatenate(legs) < 0.2).mean() > 0.95


def test_a_crop_that_closed_in_on_a_face_does_not_collapse_or_split_the_person():
    """A tracked box shrinks at most to max_shrink a frame (lengthened downwards), and a
    detector box that holds a tracked person's crop refines that person instead of
    starting somebody new."""
    from uniskel.engine.runtime.next_crop import no_collapse
    from uniskel.engine.runtime.tracker import Track, Tracker

    assert no_collapse((40, 10, 60, 30), (0, 0, 100, 200), 0.8) == (10.0, 10, 90.0, 170.0)
    assert no_collapse((0, 0, 90, 190), (0, 0, 100, 200), 0.8) == (0, 0, 90, 190)
    t = Tracker(max_people=6)
    t.tracks = [Track(7, np.zeros((21, 3), np.float32), (100, 50, 200, 150), 0.5)]
    new, refined = t.select_detections([(0, 0, 400, 600, 0.9)], frame_index=10)
    assert refined == {7: (0, 0, 400, 600)} and new == []


def test_a_frame_rate_target_shares_many_people_out_over_frames(monkeypatch):
    """With target_fps, people tracked are inferred in turn (the one inferred longest
    ago first), at least one a frame; the others are carried over, moved on with their
    box, and nobody is lost or renamed. Without it, everyone on every frame. A fake
    clock (a crop costs 10 ms, frames always waiting): a stall of this machine between
    two frames would otherwise read as a slower source and give everyone that frame."""
    import uniskel.engine.runtime.pipeline as pipeline_module
    from engine_fakes import FakeClock

    clock = FakeClock()
    monkeypatch.setattr(pipeline_module, "time", clock)
    boxes = [(20, 40, 70, 200), (200, 40, 250, 200), (380, 40, 430, 200)]

    def frame(step):
        f = np.zeros((240, 520, 3), np.uint8)
        for x0, y0, x1, y1 in boxes:
            f[y0:y1, x0 + step:x1 + step] = 255
        return f

    def run(target_fps):
        det, backend = FixedDetector([(*b, 0.9) for b in boxes]), BlobBackend()
        backend.infer = clock.charge(backend.infer, 0.010, per_item=True)
        pipe = Pipeline(backend, detector=det, max_people=3, smoothing=False,
                        target_fps=target_fps)
        return [pipe.process(frame(2 * i), i / 30).people for i in range(10)]

    # a target no machine meets: one person a frame, after a first frame of everyone
    frames = run(1e6)
    assert all(sorted(p.track_id for p in people) == [1, 2, 3] for people in frames)
    refreshed = [[p.track_id for p in people if p.refreshed] for people in frames]
    assert refreshed[0] == [1, 2, 3]
    assert all(len(r) == 1 for r in refreshed[1:])
    assert sorted(sum(refreshed[1:7], [])) == [1, 1, 2, 2, 3, 3]  # in turn
    for i, people in enumerate(frames):  # carried people still lie on their blob
        for p in people:
            x0, y0, x1, y1 = boxes[p.track_id - 1]
            assert inside(p.keypoints[:, :2], (x0 + 2 * i, y0, x1 + 2 * i, y1), margin=6)
    # a target any machine meets, and none: everyone on every frame
    for target in (1e-3, None):
        assert all(p.refreshed for people in run(target) for p in people)


def test_frames_slower_than_the_target_get_everyone_and_the_detector_every_frame(monkeypatch):
    """Live (target_fps), a source slower than the target (a 5 fps video) gives each
    frame the time to the next: everyone is inferred on every frame and the detector,
    which fits too, runs on every frame. A source as fast as the engine (it never waits)
    keeps the 30 fps budget: people shared out, the detector by the clock. A fake clock:
    the detector costs 40 ms, a crop 10 ms."""
    import uniskel.engine.runtime.pipeline as pipeline_module
    from engine_fakes import FakeClock

    clock = FakeClock()
    monkeypatch.setattr(pipeline_module, "time", clock)
    boxes = [(30 + 130 * k, 40, 70 + 130 * k, 200) for k in range(5)]
    frame = np.zeros((240, 660, 3), np.uint8)
    for x0, y0, x1, y1 in boxes:
        frame[y0:y1, x0:x1] = 255

    def run(interval):
        det, backend = FixedDetector([(*b, 0.9) for b in boxes]), BlobBackend()
        det.detect = clock.charge(det.detect, 0.040)
        backend.infer = clock.charge(backend.infer, 0.010, per_item=True)
        pipe = Pipeline(backend, detector=det, max_people=5, smoothing=False,
                        target_fps=30.0)
        people = [r.people for r in clock.feed(pipe, [frame] * 20, interval)]
        return det.calls, people

    calls, frames = run(0.2)  # 5 fps: 200 ms a frame
    assert calls >= 17  # every frame once the costs are known
    assert all(len(people) == 5 and all(p.refreshed for p in people)
               for people in frames[3:])
    calls, frames = run(0.0)  # frames always waiting: the 30 fps budget
    assert calls <= 6  # 20 frames of ~50 ms: the clock's 0.6 s, not every frame
    assert all(len(people) == 5 for people in frames)
    assert any(not p.refreshed for people in frames[3:] for p in people)


def test_a_box_inside_someone_is_a_part_of_them_unless_it_could_be_someone_behind():
    """A detector box mostly inside a tracked person's box is taken for a part of them
    (no new person), unless they stand in front of it (their box reaches lower and is
    taller): then it may be someone half hidden behind them (the man in the cap behind
    the girl in the street clip), and is offered as a new person."""
    from uniskel.engine.runtime.tracker import Track, Tracker

    t = Tracker(max_people=6)
    t.tracks = [Track(1, np.zeros((21, 3), np.float32), (100, 100, 300, 600), 0.5)]
    head_and_shoulders = (240, 90, 300, 200, 0.5)  # someone behind: ends far higher
    legs = (120, 350, 280, 600, 0.5)  # ends where they do: a part of them
    new, refined = t.select_detections([head_and_shoulders, legs], frame_index=3)
    assert refined == {}
    assert [box for box, _ in new] == [head_and_shoulders[:4]]


def test_the_frame_budget_limits_only_live_and_once_the_costs_are_known():
    """``FrameBudget``: no limit offline or before a frame's costs are measured; live, as
    many crops as fit 90% of 1 / target_fps besides the sure ones, at least one."""
    from uniskel.engine.runtime.budget import FrameBudget

    offline = FrameBudget(None)
    offline.finish({"detect": 0.0, "infer": 20.0, "crop": 1.0}, 2, 21.0, 1.0)
    assert offline.crops_that_fit(0) is None and not offline.detect_fits()
    live = FrameBudget(30.0)
    assert live.crops_that_fit(0) is None
    live.start(0.0)
    live.finish({"detect": 0.0, "infer": 20.0, "crop": 1.0}, 2, 21.0, 0.021)
    assert live.crop_ms == 10.0 and live.other_ms == 1.0
    # 0.9 x 33.3 ms, less 1 ms for the rest: 2 crops of 10 ms; none beside 2 sure ones
    assert live.crops_that_fit(0) == 2 and live.crops_that_fit(2) == 0
    assert live.crops_that_fit(0, spent_ms=25.0) == 1  # at least one


def test_stage_callbacks_hear_each_stage_and_frame():
    """``Pipeline.add_callback``: ``on_stage`` hears every timed block (the five stages,
    in order), ``on_frame`` each result, with the stage times the result carries."""
    heard, frames = [], []
    pipe = Pipeline(BlobBackend(), detector=FixedDetector([(0, 0, 320, 240, 0.9)]),
                    smoothing=False)
    pipe.add_callback("on_stage", lambda name, ms: heard.append(name))
    pipe.add_callback("on_frame", frames.append)
    res = pipe.process(frame_with_person(), 0.0)
    assert frames == [res] and tuple(dict.fromkeys(heard)) == STAGES
