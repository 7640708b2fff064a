"""Training data: the datasets' instances, LSPET's left/right repair, and the mixed sampler.

The sample plan of an epoch is a function of (seed, epoch) and each sample's augmentation
a function of (seed, epoch, position), so an epoch can resume at any step.
"""
from __future__ import annotations

import dataclasses
import logging

import numpy as np

from uniskel.engine import skeleton
from uniskel.engine.errors import UniskelError
from uniskel.training.config import DatasetSpec, TrainConfig

log = logging.getLogger("uniskel.train")


def load_instances(spec: DatasetSpec, on_error: str, cache_dir: str = "runs/cache"):
    """``spec``'s person instances. An unlabelled dataset's person boxes are found once by
    the detector and cached in ``cache_dir`` (``box_cache_path``); its range and split
    choose images before the detector sees any."""
    from uniskel.training import datasets
    if spec.format not in datasets.READERS:
        raise UniskelError(f"dataset {spec.name}: unknown format {spec.format!r} "
                           f"(use one of {', '.join(datasets.READERS)})")
    check_paths(spec)
    kw = {}
    if spec.format == "unlabelled":
        kw = {"cache": box_cache_path(spec, cache_dir), "index_range": spec.range}
    insts = datasets.read(spec.format, spec.annotations, spec.images, split=spec.split,
                          on_error=on_error, **kw)
    if spec.range is not None:
        a, b = spec.range
        insts = [x for x in insts if a <= _index(x) < b]
    if not insts:
        raise UniskelError(f"dataset {spec.name}: no usable person instances in {spec.annotations}")
    return insts


def box_cache_path(spec: DatasetSpec, cache_dir: str):
    """The JSON file holding an unlabelled dataset's person boxes (datasets.person_boxes:
    keyed inside by image path and detector checksum, so a stale entry is found again)."""
    from pathlib import Path
    return Path(cache_dir) / f"person_boxes_{spec.name}.json"


def check_paths(spec: DatasetSpec) -> None:
    """One line naming the dataset and path when its annotations or images are missing
    (e.g. a full-scale preset not yet pointed at the user's copy)."""
    from pathlib import Path
    for what in ("annotations", "images"):
        if what == "annotations" and spec.format == "unlabelled" \
                and not spec.annotations.strip():
            continue
        path = Path(getattr(spec, what))
        if not path.exists():
            raise UniskelError(
                f"dataset {spec.name}: {what} {path} not found (from {Path.cwd()}); point "
                f"its [[datasets]] '{what}' at your copy of {spec.name} in the config")


def _index(inst) -> int:
    """Position of an instance in its source file (LSP: image index), for splits."""
    return int(getattr(inst, "index", 0))


def repair_lr_swaps(insts, teacher_kpts: np.ndarray, min_conf=0.5, ratio=0.5) -> int:
    """Swap left/right labels of instances whose swapped version fits BlazePose far better.

    LSPET's crowd-sourced labels have left and right exchanged in about one image in
    eleven. For each instance, compare the labelled limb joints with BlazePose's
    confident predictions as labelled and as mirrored; swap when mirrored error <
    ``ratio`` x labelled error. Returns how many were swapped.
    """
    flip = skeleton.flip_index()
    limbs = np.array([i for i in range(5, 17)])
    n = 0
    for inst, t in zip(insts, teacher_kpts):
        ok = inst.mask[limbs] & inst.mask[flip[limbs]] & (t[limbs, 2] > min_conf)
        if ok.sum() < 4 or np.isnan(t).any():
            continue
        gt = inst.keypoints[:, :2]
        e_same = np.linalg.norm(gt[limbs][ok] - t[limbs, :2][ok], axis=1).mean()
        e_swap = np.linalg.norm(gt[flip[limbs]][ok] - t[limbs, :2][ok], axis=1).mean()
        if e_swap < ratio * e_same:
            inst.keypoints = inst.keypoints[flip].copy()
            inst.mask = inst.mask[flip].copy()
            n += 1
    return n


def needs_blazepose(spec: DatasetSpec, cfg: TrainConfig) -> bool:
    """A BlazePose teacher, or LSP left/right repair (which compares against BlazePose)."""
    return (any(t.kind == "blazepose" for t in cfg.teachers)
            or (cfg.repair_lr_swaps and spec.format == "lsp"))


def prepare_sources(cfg: TrainConfig, cached_teachers=()) -> list:
    """(spec, instances, per cached teacher its (n, 21, 3) keypoints) for each dataset,
    LSPET's left/right swaps repaired where the config asks."""
    from uniskel.training.blazepose_cache import blazepose_keypoints
    sources = []
    for spec in cfg.datasets:
        insts = load_instances(spec, cfg.on_error, cfg.cache_dir)
        if cfg.repair_lr_swaps and spec.format == "lsp":
            n = repair_lr_swaps(insts, blazepose_keypoints(spec, insts, cfg))
            log.info("%s: repaired %d left/right swapped labels of %d", spec.name, n, len(insts))
        cached = tuple(t.keypoints(spec, insts) for t in cached_teachers)
        sources.append((spec, insts, cached))
        log.info("%s: %d instances", spec.name, len(insts))
    return sources


class MixedSamples:
    """Torch-style dataset over several sources; ``plan`` says which (source, index) each
    position of the current epoch draws.

    ``sources``: (spec, instances, cached) per dataset, ``cached`` the cached teachers'
    (n, 21, 3) image-pixel keypoints, one array per teacher (a single array or None are
    taken as one teacher or none). A sample's ``teacher_coords`` (T, 21, 2) and
    ``teacher_conf`` (T, 21) hold them in crop pixels, through the same augmentation,
    confidence 0 outside the crop."""

    def __init__(self, sources, input_size, augment, loss_cfg, seed, on_error,
                 final_augment=None, final_from_epoch: int | None = None):
        self.sources = [(spec, insts, _as_teachers(cached)) for spec, insts, cached in sources]
        self.input_size = tuple(input_size)
        self.augment, self.seed, self.on_error = augment, seed, on_error
        # from epoch final_from_epoch on, samples are drawn with final_augment
        self.final_augment, self.final_from_epoch = final_augment, final_from_epoch
        self.plan = np.zeros((0, 2), np.int64)
        self.epoch = 0
        self.derived = [
            [skeleton.INDEX[n] for n in (skeleton.MAPPINGS[spec.format].derived
                                         if spec.format in skeleton.MAPPINGS else ())]
            for spec, _, _ in sources]
        self.ignored = [[skeleton.INDEX[n] for n in getattr(spec, "ignore_points", ())]
                        for spec, _, _ in sources]
        counts = {len(c) for _, _, c in self.sources}
        if len(counts) > 1:
            raise ValueError(f"every source needs the same cached teachers, got {counts}")
        self.teachers = counts.pop() if counts else 0
        self._donor_pools = None

    def make_plan(self, epoch: int, samples_per_epoch: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, epoch, 7])
        w = np.array([spec.weight for spec, _, _ in self.sources], np.float64)
        counts = np.floor(samples_per_epoch * w / w.sum()).astype(int)
        counts[0] += samples_per_epoch - counts.sum()
        parts = []
        for k, ((_, insts, _), c) in enumerate(zip(self.sources, counts)):
            idx = rng.choice(len(insts), c, replace=c > len(insts))
            parts.append(np.stack([np.full(c, k), idx], 1))
        plan = np.concatenate(parts)
        self.plan = plan[rng.permutation(len(plan))]
        self.epoch = epoch
        return self.plan

    def __len__(self):
        return len(self.plan)

    def augment_at(self, epoch: int):
        """The augmentation of ``epoch``: the final stage's in the last epochs."""
        if self.final_from_epoch is not None and epoch >= self.final_from_epoch:
            return self.final_augment
        return self.augment

    def __getitem__(self, pos):
        import cv2
        import torch

        from uniskel.training import framing
        from uniskel.training.augment import make_sample, occluded_points
        if cv2.getNumThreads() != 1:  # one decoding thread per worker (set before the fork)
            cv2.setNumThreads(1)
        k, i = self.plan[pos]
        spec, insts, cached = self.sources[k]
        inst = insts[i]
        rng = np.random.default_rng([self.seed, self.epoch, int(pos)])
        img = cv2.imread(str(inst.image))
        h, w = self.input_size
        if img is None:
            if self.on_error == "raise":
                raise UniskelError(f"{spec.name}: image {inst.image} does not decode")
            log.warning("%s: image %s does not decode; sample %d left empty",
                        spec.name, inst.image, pos)
            img = np.zeros((h, w, 3), np.uint8)
            mask = np.zeros(skeleton.NUM_KEYPOINTS, bool)
        else:
            mask = inst.mask
        info: dict = {}
        aug = self.augment_at(self.epoch)
        cut_prob = getattr(aug, "cut_prob", 0.0) if aug is not None else 0.0
        closeup_prob = getattr(aug, "closeup_prob", 0.0) if aug is not None else 0.0
        span = getattr(aug, "cut_span", framing.CUT_SPAN)
        box, cut_y = inst.box, None
        if cut_prob > 0 or closeup_prob > 0:  # v2's framings (training/framing.py)
            img, box, cut_y, _ = framing.before_crop(img, box, inst.keypoints[:, :2], mask,
                                                      cut_prob, closeup_prob, rng, span)
            if cut_y is not None:  # the framing is the box: no half-body box instead, and
                # the picture ends below it, as eval's cuts end it (not turned over)
                aug = dataclasses.replace(aug, half_body_prob=0.0, upside_down_prob=0.0,
                                          upright_prob=0.0)
        patch, coords, mask, m, tks = make_sample(
            img, box, inst.keypoints, mask, self.input_size, aug,
            rng, [c[i] for c in cached], donors=lambda r, person: self.donor(r, person, (k, i)),
            info=info)
        for d in self.derived[k]:  # documented rule: thorax / pelvis = midpoint of parents
            a, b = (skeleton.INDEX[n] for n in skeleton.DERIVED_RULES[skeleton.KEYPOINTS[d]])
            if mask[a] and mask[b]:
                coords[d] = (coords[a] + coords[b]) / 2
                mask[d] = True
        line = framing.NO_CUT
        if cut_prob > 0 or closeup_prob > 0:
            patch, line = framing.after_crop(patch, coords, mask, cut_y, m, cut_prob, rng,
                                             span)
        hidden = mask & framing.below(line, coords)  # labelled, but below the picture's end
        mask = mask & ~hidden
        mask[self.ignored[k]] = False  # labels this dataset's points do not give
        tk = np.nan_to_num(np.asarray(tks, np.float64).reshape(-1, skeleton.NUM_KEYPOINTS, 3))
        t_ok = ((tk[..., 0] >= 0) & (tk[..., 0] < w) & (tk[..., 1] >= 0) & (tk[..., 1] < h))
        return {
            "image": torch.from_numpy(np.ascontiguousarray(patch.transpose(2, 0, 1))).float(),
            "coords": torch.from_numpy(coords),
            "mask": torch.from_numpy(mask),
            "teacher_coords": torch.from_numpy(tk[..., :2].astype(np.float32)),
            "teacher_conf": torch.from_numpy((tk[..., 2] * t_ok).astype(np.float32)),
            "source": int(k),
            # points under pasted pixels (occlusion augmentation; their labels are kept)
            "occluded": torch.from_numpy(occluded_points(coords, info["cover"])),
            # labelled points below a cut (framing.py): their maps must be empty
            "hidden": torch.from_numpy(hidden),
            "cut": torch.from_numpy(line.astype(np.float32)),  # the crop's cut line
        }

    def donor(self, rng, person: bool, other_than=None, tries: int = 4):
        """Another training image for the occlusion augmentations, drawn with ``rng``
        (so a sample stays a function of its seed): (image BGR, keypoints, mask) of a
        random instance of a random source (by weight); ``person``: one with at least
        ``DONOR_POINTS`` labelled points (its person is cut out along them). None when
        ``tries`` draws find none (or only ``other_than``, the sample's own (k, i))."""
        import cv2
        if self._donor_pools is None:  # sources with an instance to cut (a person) from
            self._donor_pools = {
                want: [k for k, (_, insts, _) in enumerate(self.sources)
                       if any(not want or x.mask.sum() >= DONOR_POINTS for x in insts)]
                for want in (False, True)}
        pool = self._donor_pools[bool(person)]
        if not pool:
            return None
        w = np.array([self.sources[k][0].weight for k in pool], np.float64)
        for _ in range(tries):
            k = pool[int(rng.choice(len(pool), p=w / w.sum()))]
            insts = self.sources[k][1]
            i = int(rng.integers(len(insts)))
            inst = insts[i]
            if (k, i) == other_than or (person and inst.mask.sum() < DONOR_POINTS):
                continue
            img = cv2.imread(str(inst.image))
            if img is not None:
                return img, inst.keypoints, inst.mask
        return None


DONOR_POINTS = 8  # a person cut out to paste needs this many labelled points


def _as_teachers(cached) -> tuple:
    if cached is None:
        return ()
    if isinstance(cached, np.ndarray):
        return (cached,)
    return tuple(cached)


def rank_positions(first_step: int, steps: int, batch_size: int, rank: int = 0,
                   world: int = 1):
    """The plan positions rank ``rank`` of ``world`` draws from step ``first_step`` on, each
    rank ``batch_size`` per step: step s of the global batch G = world x batch_size is
    positions [s*G, (s+1)*G), and rank r takes [s*G + r*batch_size, s*G + (r+1)*batch_size).
    The ranks' batches, concatenated in rank order, are one process's batch of G."""
    if world == 1:
        return range(first_step * batch_size, steps * batch_size)
    g = world * batch_size
    return [s * g + rank * batch_size + j for s in range(first_step, steps)
            for j in range(batch_size)]


def epoch_batches(data: MixedSamples, epoch: int, first_step: int, steps_per_epoch: int,
                  batch_size: int, workers: int, pin_memory: bool, rank: int = 0,
                  world: int = 1):
    """The batches of ``epoch`` from step ``first_step`` on, in plan order; on several
    processes this rank's part of each (``rank_positions``). ``workers`` processes decode
    and crop the samples (each sample's augmentation depends on its position alone, so
    the batches are the same for any number of workers)."""
    import cv2
    from torch.utils.data import DataLoader, Subset
    if workers > 0:
        # OpenCV's thread pool, started here by the person detector that caches the
        # unlabelled images' boxes, does not survive a fork: a worker that resized it
        # hung on the first run of a new config. One thread in this process (its
        # network runs on PyTorch's threads) leaves the workers nothing to resize.
        cv2.setNumThreads(1)
    data.make_plan(epoch, steps_per_epoch * batch_size * world)
    positions = rank_positions(first_step, steps_per_epoch, batch_size, rank, world)
    return DataLoader(Subset(data, positions), batch_size=batch_size, shuffle=False,
                      num_workers=workers, drop_last=True, persistent_workers=False,
                      pin_memory=pin_memory)


def loader_speed(cfg: TrainConfig, workers: int, batches: int = 20, skip: int = 2) -> dict:
    """Samples per second ``epoch_batches`` delivers with ``workers`` processes decoding,
    cropping and augmenting ``cfg``'s datasets at its input size and batch size (no
    teachers; the first ``skip`` batches, which include the workers' start, not timed)."""
    import time
    sources = prepare_sources(dataclasses.replace(cfg, repair_lr_swaps=False, teachers=[]))
    data = MixedSamples(sources, cfg.input_size, cfg.augment, cfg.loss, cfg.seed,
                        cfg.on_error)
    it = iter(epoch_batches(data, 0, 0, batches + skip, cfg.batch_size, workers, False))
    for _ in range(skip):
        next(it)
    t0 = time.perf_counter()
    n = sum(next(it)["image"].shape[0] for _ in range(batches))
    rate = n / (time.perf_counter() - t0)
    return {"workers": workers, "samples": n, "samples_per_s": rate,
            "per_worker": rate / max(workers, 1)}
