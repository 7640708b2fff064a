"""Student v3 data (issue 29 items 3-4): unlabelled people from the person detector, its
box cache, the validation guard, and the occlusion augmentations."""
import json
import shutil

import numpy as np
import pytest

from uniskel.engine import assets, skeleton
from uniskel.engine.errors import UniskelError
from uniskel.training import datasets as D
from uniskel.training import unlabelled as U
from uniskel.training.augment import AugmentConfig, make_sample, occluded_points
from uniskel.training.config import PRESETS, DatasetSpec, TrainConfig, validate
from uniskel.training.data import box_cache_path, load_instances

I = skeleton.INDEX
STILL = dict(scale=(1, 1), rotate_prob=0, flip_prob=0, shift=0, half_body_prob=0,
             color_prob=0, blur_prob=0, downscale_prob=0, gray_prob=0)


@pytest.fixture
def ccp(shared_data):
    path = shared_data / "ccp_photos" / "images"
    if not path.is_dir():
        pytest.skip(f"{path} missing")
    return path


class Broken:
    """Stands in for NanoDetDetector: any use means the cache was not used."""

    def __init__(self, *a, **k):
        raise AssertionError("the detector ran although the cache holds the boxes")


# ------------------------------------------------------------ unlabelled people + cache

def test_unlabelled_ccp_photos_are_the_detectors_people_cached_once(ccp, tmp_path,
                                                                      monkeypatch):
    import cv2

    from uniskel.engine.runtime import detector as det_mod

    spec = PRESETS["ccp_photos"]()
    spec.range = (0, 4)
    insts = load_instances(spec, "raise", str(tmp_path))
    files = D.image_files(ccp)[:4]
    assert {i.image for i in insts} == set(files)  # each photo has its person
    assert all(i.dataset == "unlabelled" and not i.mask.any() and not i.keypoints.any()
               for i in insts)
    live = det_mod.NanoDetDetector(size=U.DETECT_SIZE, min_score=U.DETECT_MIN_SCORE)
    for inst in insts:  # the boxes are the bundled detector's, on the real photo (or on
        img = cv2.cvtColor(cv2.imread(str(inst.image)), cv2.COLOR_BGR2RGB)  # it framed)
        p = round(U.DETECT_PAD * max(img.shape[:2]))
        framed = cv2.copyMakeBorder(img, p, p, p, p, cv2.BORDER_CONSTANT, value=(114,) * 3)
        found = live.detect(img) + [(x0 - p, y0 - p, x1 - p, y1 - p) for x0, y0, x1, y1, _
                                    in live.detect(framed)]
        box = np.array(inst.box)
        assert any(np.abs(np.maximum(np.minimum(b[:4], [*img.shape[1::-1]] * 2), 0)
                          - box).max() < 0.01 for b in found)
        assert inst.meta["score"] >= U.MIN_SCORE and inst.box[3] - inst.box[1] >= U.MIN_HEIGHT
    main = [i for i in insts if i.box[3] - i.box[1] > 0.7 * 384]  # the full-body person
    assert len({i.image for i in main}) == 4

    cache = box_cache_path(spec, str(tmp_path))
    data = json.loads(cache.read_text())  # plain JSON: no pickle
    assert data["key"]["sha256"] == assets.sha256(assets.default_detector())
    assert set(data["images"]) == {f.name for f in files}

    # read back with the detector broken: the same people, from the cache alone
    monkeypatch.setattr(det_mod, "NanoDetDetector", Broken)
    again = load_instances(spec, "raise", str(tmp_path))
    assert [(i.image, i.box) for i in again] == [(i.image, i.box) for i in insts]

    # a cache from another detector is stale: refused, found again (here: tries to)
    data["key"]["sha256"] = "0" * 64
    cache.write_text(json.dumps(data))
    with pytest.raises(AssertionError, match="the detector ran"):
        load_instances(spec, "raise", str(tmp_path))
    monkeypatch.undo()
    fresh = load_instances(spec, "raise", str(tmp_path))
    assert [i.box for i in fresh] == [i.box for i in insts]
    assert json.loads(cache.read_text())["key"]["sha256"] != "0" * 64
    cache.write_text("{ truncated")  # unreadable: found again, not an error
    assert len(load_instances(spec, "raise", str(tmp_path))) == len(insts)


def test_a_person_who_fills_the_frame_is_found(ccp, tmp_path):
    """0010.jpg: NanoDet finds nobody in the photo as it is (the woman fills its height);
    framed by a border (U.detect_people) she is found, full height."""
    import cv2

    from uniskel.engine.runtime.detector import NanoDetDetector
    img = cv2.cvtColor(cv2.imread(str(ccp / "0010.jpg")), cv2.COLOR_BGR2RGB)
    assert not NanoDetDetector(size=U.DETECT_SIZE, min_score=U.DETECT_MIN_SCORE).detect(img)
    (boxes,) = D.person_boxes([ccp / "0010.jpg"], tmp_path / "boxes.json")
    assert any(b[4] >= 0.5 and b[3] - b[1] > 0.8 * img.shape[0] for b in boxes)


def test_a_changed_image_is_found_again_and_only_it(ccp, tmp_path, monkeypatch):
    from uniskel.engine.runtime import detector as det_mod

    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("0001.jpg", "0002.jpg", "0003.jpg"):
        shutil.copy(ccp / name, folder / name)
    cache = tmp_path / "boxes.json"
    first = D.person_boxes(D.image_files(folder), cache)
    seen = []
    real = det_mod.NanoDetDetector.detect
    monkeypatch.setattr(det_mod.NanoDetDetector, "detect",
                        lambda self, f: seen.append(f.shape) or real(self, f))
    assert D.person_boxes(D.image_files(folder), cache) == first and not seen
    moved = shutil.copytree(folder, tmp_path / "elsewhere")  # as uniskel pack copies them
    assert D.person_boxes(D.image_files(moved), cache) == first and not seen
    shutil.copy(ccp / "0010.jpg", folder / "0002.jpg")  # another photo under that name
    now = D.person_boxes(D.image_files(folder), cache)
    assert len(seen) == 2  # that one image, seen plain and framed (U.detect_people)
    assert now[0] == first[0] and now[2] == first[2] and now[1] != first[1]


def test_a_packed_unlabelled_set_gives_the_same_people_without_the_detector(
        ccp, tmp_path, monkeypatch):
    """uniskel pack cuts the photos to their people and rewrites the box cache to match:
    each packed photo is a window of the original (found by template matching), the
    packed people's boxes are the original boxes moved by that window, and no detector
    runs for them."""
    import cv2

    from uniskel.engine.runtime import detector as det_mod
    from uniskel.training.config import load_config
    from uniskel.training.pack import pack, to_toml

    spec = PRESETS["ccp_photos"]()
    spec.range = (0, 5)
    cfg = TrainConfig(datasets=[spec], cache_dir=str(tmp_path / "cache"),
                      repair_lr_swaps=False)
    (tmp_path / "c.toml").write_text(to_toml(cfg))
    out = pack(str(tmp_path / "c.toml"), str(tmp_path / "pack"), margin=0.6)  # a tight cut
    packed = load_config(out / "config.toml")
    assert str(out) in packed.datasets[0].images and packed.datasets[0].range is None
    monkeypatch.setattr(det_mod, "NanoDetDetector", Broken)
    ia = load_instances(spec, "raise", cfg.cache_dir)
    ib = load_instances(packed.datasets[0], "raise", packed.cache_dir)
    assert [i.image.name for i in ia] == [i.image.name for i in ib]
    shifts = []
    for x, y in zip(ia, ib):
        big, cut = cv2.imread(str(x.image)), cv2.imread(str(y.image))
        assert cut.shape[0] < big.shape[0]
        _, best, _, (dx, dy) = cv2.minMaxLoc(cv2.matchTemplate(big, cut, cv2.TM_CCOEFF_NORMED))
        assert best > 0.95
        assert np.allclose(np.array(y.box) + [dx, dy, dx, dy], x.box, atol=1.01)
        shifts.append(dx + dy)
    assert max(shifts) > 10


def test_unlabelled_others_leave_the_labelled_people_out(shared_data, tmp_path):
    """LSPET's images: with joints.mat given, the detections of the labelled person are
    left out and the people nobody labelled stay; without it, everyone is there."""
    others = PRESETS["lspet_others"]()
    others.range = (0, 30)
    kept = load_instances(others, "raise", str(tmp_path))
    everyone = DatasetSpec("lspet_others", "unlabelled", others.images, "", (0, 30))
    allp = load_instances(everyone, "raise", str(tmp_path))  # same cache, no detector run
    labelled = D.read_lsp(shared_data / "lspet" / "joints.mat", shared_data / "lspet" / "images",
                          index_range=(0, 30))
    by_image = {i.image.name: [(i.box, i.keypoints[i.mask, :2])] for i in labelled}
    assert kept and len(allp) > len(kept)
    assert not any(U.is_labelled_person(i.box, by_image[i.image.name]) for i in kept)
    dropped = [i for i in allp if (i.image, i.box) not in {(k.image, k.box) for k in kept}]
    assert dropped and all(U.is_labelled_person(i.box, by_image[i.image.name]) for i in dropped)
    assert all(0 <= i.index < 30 for i in allp)


# ------------------------------------------------------------ the validation guard

@pytest.mark.parametrize("spec,says", [
    (lambda d: DatasetSpec("c", "coco", f"{d}/coco128/images",
                           f"{d}/coco128/person_keypoints_train2017.json"), "coco128"),
    (lambda d: DatasetSpec("c", "unlabelled", f"{d}/coco128/images"), "coco128"),
    (lambda d: DatasetSpec("v", "coco", f"{d}/coco_val2017_dev/images",
                           f"{d}/coco_val2017_dev/person_keypoints_val2017.json"),
     "coco_val2017_dev"),
    (lambda d: DatasetSpec("v", "unlabelled", f"{d}/coco_val2017_dev/images"),
     "coco_val2017_dev"),
    (lambda d: DatasetSpec("l", "lsp", f"{d}/lspet/images", f"{d}/lspet/joints.mat"),
     "LSPET 7500-7999"),
    (lambda d: DatasetSpec("l", "lsp", f"{d}/lspet/images", f"{d}/lspet/joints.mat",
                           (7000, 7600)), "LSPET 7500-7999"),
    (lambda d: DatasetSpec("l", "unlabelled", f"{d}/lspet/images", "", (7990, 9000)),
     "LSPET 7500-7999"),
    (lambda d: DatasetSpec("m", "coco", f"{d}/coco_mini/train2017",
                           f"{d}/coco_mini/annotations/person_keypoints_train2017.json"),
     "coco_mini's validation part"),
    (lambda d: DatasetSpec("m", "unlabelled", f"{d}/coco_mini/train2017", split="val"),
     "coco_mini's validation part"),
])
def test_a_config_that_trains_on_a_validation_set_is_refused(spec, says, tmp_path):
    d = "../shared/data"
    ok = [PRESETS[n]() for n in ("lspet", "coco_mini", "ccp_photos", "lspet_others",
                                 "coco_mini_others", "coco_extra_others")]
    validate(TrainConfig(datasets=ok))  # the training presets pass
    with pytest.raises(UniskelError) as e:
        validate(TrainConfig(datasets=ok + [spec(d)]))
    msg = str(e.value)
    assert "\n" not in msg and says in msg and "datasets[7]" in msg
    from uniskel.training.config import load_config
    s = spec(d)
    toml = tmp_path / "c.toml"
    toml.write_text(f'[[datasets]]\nname = "{s.name}"\nformat = "{s.format}"\n'
                    f'images = "{s.images}"\nannotations = "{s.annotations}"\n'
                    + (f"range = {list(s.range)}\n" if s.range else "")
                    + (f'split = "{s.split}"\n' if s.split else ""))
    with pytest.raises(UniskelError, match=says.replace("'", ".")):
        load_config(toml)


def test_occlusion_keys_are_checked_and_a_labelled_set_needs_its_file():
    with pytest.raises(UniskelError, match=r"augment.occlude_size = \[0.5, 0.2\]"):
        validate(TrainConfig(augment=AugmentConfig(occlude_size=(0.5, 0.2))))
    with pytest.raises(UniskelError, match="augment.second_person_prob = 2"):
        validate(TrainConfig(augment=AugmentConfig(second_person_prob=2)))
    with pytest.raises(UniskelError, match=r"datasets\[1\].annotations = '': a coco"):
        validate(TrainConfig(datasets=[DatasetSpec("x", "coco", "imgs")]))


# ------------------------------------------------------------ occlusion

def _standing(h=240, w=180):
    """A grey picture and a standing person's 17 COCO points in it (labelled)."""
    img = np.full((h, w, 3), 128, np.uint8)
    k = np.zeros((21, 3))
    pts = {"nose": (90, 40), "left_eye": (95, 35), "right_eye": (85, 35),
           "left_ear": (100, 38), "right_ear": (80, 38), "left_shoulder": (110, 70),
           "right_shoulder": (70, 70), "left_elbow": (118, 105), "right_elbow": (62, 105),
           "left_wrist": (122, 135), "right_wrist": (58, 135), "left_hip": (102, 140),
           "right_hip": (78, 140), "left_knee": (104, 180), "right_knee": (76, 180),
           "left_ankle": (105, 220), "right_ankle": (75, 220)}
    mask = np.zeros(21, bool)
    for n, xy in pts.items():
        k[I[n], :2], k[I[n], 2] = xy, 2
        mask[I[n]] = True
    return img, (55, 30, 125, 225), k, mask


def _donor_person(colour=(0, 200, 0)):
    """Another person: a green figure on black, with its points."""
    import cv2
    img, _, k, mask = _standing()
    img[:] = 0
    for a, b in skeleton.EDGES:
        if mask[a] and mask[b]:
            cv2.line(img, tuple(map(int, k[a, :2])), tuple(map(int, k[b, :2])), colour, 12)
    return img, k, mask


def _run(cfg, seed, donors=None):
    img, box, k, mask = _standing()
    info = {}
    patch, coords, m, _, _ = make_sample(img, box, k, mask, (128, 96), cfg,
                                         np.random.default_rng(seed), donors=donors,
                                         info=info)
    return patch, coords, m, info


def test_an_object_occluder_covers_part_of_the_person_keeps_and_marks_their_points():
    plain = _run(AugmentConfig(**STILL), 0)
    cfg = AugmentConfig(**STILL, occlude_prob=1.0, occlude_person=0.0)
    donor = lambda rng, person: (np.full((50, 60, 3), (255, 0, 0), np.uint8), None, None)  # noqa: E731
    marked, jitters = 0, []
    for seed in range(12):
        patch, coords, m, info = _run(cfg, seed, donor)
        cover = info["cover"]
        (paste,) = info["pasted"]
        assert paste["kind"] == "object"
        changed = np.abs(patch.astype(int) - plain[0]).max(2) > 0
        assert changed.any() and not changed[cover == 0].any()  # pixels only where pasted
        blue = np.abs(patch[cover > 0.99].astype(int) - (0, 0, 255)).max()
        assert blue <= 2  # the donor's blue (the crop is RGB) where it covers
        # where the rule puts it: over one of the person's labelled points, jittered by
        # N(0, size / 4), and the pasted pixels round that centre
        ys, xs = np.nonzero(cover > 0.5)
        at, size = np.array(paste["at"]), paste["size"]
        assert np.hypot(xs.mean() - at[0], ys.mean() - at[1]) < size / 2
        jitters.append(np.hypot(*(plain[1][plain[2]] - at).T).min() / (size / 4))
        # the rule: ground truth kept, points under the pasted pixels marked occluded
        assert np.array_equal(coords, plain[1]) and np.array_equal(m, plain[2])
        want = np.array([cover[int(round(y)), int(round(x))] >= 0.5 if 0 <= x < 96 and
                         0 <= y < 128 else False for x, y in coords])
        assert np.array_equal(info["occluded"], want)
        marked += int(info["occluded"][m].sum())
    assert marked > 0
    assert np.mean(jitters) < 2.0  # a Rayleigh(1) distance has mean 1.25


def test_a_second_person_stands_beside_the_first_and_is_not_labelled():
    plain = _run(AugmentConfig(**STILL), 0)
    cfg = AugmentConfig(**STILL, second_person_prob=1.0)
    sides = set()
    for seed in range(10):
        patch, coords, m, info = _run(cfg, seed, lambda rng, person: _donor_person())
        cover = info["cover"]
        assert [p["kind"] for p in info["pasted"]] == ["second_person"]
        green = (patch[..., 1].astype(int) - patch[..., 0] > 40)
        assert green.sum() > 100 and not green[cover == 0].any()
        # beside: the pasted person's centre is off the crop person's centre by at least
        # a third of their width, at a height like theirs
        lab = plain[1][plain[2]]
        cx, w = lab[:, 0].mean(), np.ptp(lab[:, 0])
        ys, xs = np.nonzero(green)
        assert abs(xs.mean() - cx) > w / 3
        assert 0.4 < np.ptp(ys) / np.ptp(lab[:, 1]) < 1.4
        sides.add(np.sign(xs.mean() - cx))
        # only the crop's person is labelled, their labels kept
        assert np.array_equal(coords, plain[1]) and np.array_equal(m, plain[2])
        assert np.array_equal(info["occluded"], occluded_points(coords, cover))
    assert sides == {-1.0, 1.0}


def test_occlusion_is_a_function_of_the_seed_and_off_changes_nothing(shared_data, tmp_path):
    """Same seed and position -> the same crop, points and marks (donors included, read
    from real training images); other seeds differ; with both probabilities 0 nothing
    is marked."""
    import torch

    from uniskel.training.data import MixedSamples, prepare_sources

    lsp = PRESETS["lspet"]()
    lsp.range = (0, 20)
    cfg = TrainConfig(datasets=[lsp], repair_lr_swaps=False, cache_dir=str(tmp_path))
    sources = prepare_sources(cfg)
    aug = AugmentConfig(occlude_prob=1.0, second_person_prob=1.0)

    def samples(augment, seed):
        ms = MixedSamples(sources, (128, 96), augment, cfg.loss, seed, "raise")
        ms.make_plan(0, 4)
        return [ms[p] for p in range(4)]

    a, b, c = samples(aug, 0), samples(aug, 0), samples(aug, 1)
    for x, y in zip(a, b):
        assert all(torch.equal(x[key], y[key]) for key in ("image", "coords", "mask",
                                                           "occluded"))
    assert any(not torch.equal(x["image"], y["image"]) for x, y in zip(a, c))
    assert sum(int(x["occluded"].sum()) for x in a) > 0
    off = samples(AugmentConfig(occlude_prob=0.0, second_person_prob=0.0), 0)
    assert not any(x["occluded"].any() for x in off)
