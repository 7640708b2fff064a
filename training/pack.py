"""Pack a training config's data into one small, self-contained folder.

For training on a remote GPU machine that takes a limited upload (the workplace's GPU
machine takes 64 MiB per call) and has no mediapipe: LSPET's 7,500 training images are
146 MB as shipped. The pack holds

- LSP-format images cut to the person (``--margin`` x the labelled joints' extent,
  enough for the training crop's padding, scale and rotation) and re-encoded as WebP
  (``--quality``); they keep their ``imNNNNN.jpg`` names, since the readers look for
  those (OpenCV decodes by content). ``joints.mat`` is rewritten to match the cut.
- COCO-format images the config's split uses, copied unchanged, with their annotations;
- unlabelled images (format "unlabelled") cut to their kept people (``--margin`` x
  the union of their boxes) and re-encoded as WebP, with the person-box cache rewritten
  to match (keyed by the cut files' contents), so the run does not run the detector;
  the labelled people they left out stay out;
- the BlazePose teacher's cached keypoints, moved into the cut images' coordinates, so
  the run needs neither mediapipe nor the .tflite;
- the model teachers and ``init_from`` checkpoints, slimmed to their weights;
- ``config.toml``: the config with every path pointing into the pack.

    uniskel pack --config training/configs/student.toml --out runs/gpu_pack
    uniskel train student --config runs/gpu_pack/config.toml --device cuda --workers 14
"""
from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import numpy as np

from uniskel.engine.errors import UniskelError


def _cut(img, kpts, mask, margin):
    """Square window around the labelled points: (x0, y0, x1, y1) clipped to the image."""
    pts = kpts[mask, :2]
    lo, hi = np.maximum(pts.min(0), 0), pts.max(0)
    c, half = (lo + hi) / 2, (hi - lo).max() * margin / 2 + 10
    h, w = img.shape[:2]
    x0, y0 = (int(max(0, np.floor(v))) for v in c - half)
    x1, y1 = int(min(w, np.ceil(c[0] + half))), int(min(h, np.ceil(c[1] + half)))
    return x0, y0, x1, y1


def pack_lsp(spec, insts, bp, out: Path, margin: float, quality: int):
    """Cut and re-encode the instances' images; returns the new joints.mat and cache."""
    import cv2
    import scipy.io

    joints = scipy.io.loadmat(spec.annotations)["joints"].astype(np.float64)
    if joints.ndim != 3 or joints.shape[:2] != (14, 3):
        raise UniskelError(f"{spec.annotations}: pack handles the LSPET layout (14, 3, N)")
    (out / "images").mkdir(parents=True, exist_ok=True)
    bp = None if bp is None else bp.copy()
    for row, inst in enumerate(insts):
        img = cv2.imread(str(inst.image))
        if img is None:
            raise UniskelError(f"pack: cannot decode {inst.image}")
        x0, y0, x1, y1 = _cut(img, inst.keypoints, inst.mask, margin)
        ok, buf = cv2.imencode(".webp", img[y0:y1, x0:x1], [cv2.IMWRITE_WEBP_QUALITY, quality])
        (out / "images" / Path(inst.image).name).write_bytes(buf.tobytes())
        k = inst.index
        lab = joints[:, 2, k] > 0
        joints[lab, 0, k] -= x0
        joints[lab, 1, k] -= y0
        if bp is not None:
            seen = bp[row, :, 2] > 0
            bp[row, seen, 0] -= x0
            bp[row, seen, 1] -= y0
    last = max(inst.index for inst in insts) + 1  # later entries' images are not packed
    scipy.io.savemat(str(out / "joints.mat"), {"joints": joints[:, :, :last]})
    return out / "images", out / "joints.mat", bp


def pack_coco(spec, insts, out: Path):
    """Copy the images the instances use, and their part of the annotation file."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    for p in sorted({Path(i.image) for i in insts}):
        shutil.copy2(p, out / "images" / p.name)
    data = json.loads(Path(spec.annotations).read_text())
    ids = {i.image_id for i in insts}
    data["images"] = [im for im in data["images"] if im["id"] in ids]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in ids]
    ann = out / Path(spec.annotations).name
    ann.write_text(json.dumps(data))
    return out / "images", ann


def pack_unlabelled(spec, insts, out: Path, cache: Path, margin: float, quality: int):
    """Cut each image to its people (a square window about the union of their boxes,
    ``margin`` x its longer side, as ``_cut``), WebP; writes the person-box cache
    ``cache`` of the cut images (the kept people only)."""
    import cv2

    from uniskel.training import unlabelled as U
    (out / "images").mkdir(parents=True, exist_ok=True)
    by_image: dict = {}
    for inst in insts:
        by_image.setdefault(Path(inst.image), []).append(inst)
    held = {}
    for path, people in sorted(by_image.items()):
        img = cv2.imread(str(path))
        if img is None:
            raise UniskelError(f"pack: cannot decode {path}")
        h, w = img.shape[:2]
        b = np.array([p.box for p in people], np.float64)
        lo, hi = b[:, :2].min(0), b[:, 2:].max(0)
        c, half = (lo + hi) / 2, (hi - lo).max() * margin / 2 + 10
        x0, y0 = (int(max(0, np.floor(v))) for v in c - half)
        x1, y1 = int(min(w, np.ceil(c[0] + half))), int(min(h, np.ceil(c[1] + half)))
        ok, buf = cv2.imencode(".webp", img[y0:y1, x0:x1], [cv2.IMWRITE_WEBP_QUALITY, quality])
        dst = out / "images" / path.name  # the name kept (OpenCV decodes by content)
        dst.write_bytes(buf.tobytes())
        held[dst.name] = {"stamp": U._stamp(dst), "boxes": [
            [round(p.box[0] - x0, 2), round(p.box[1] - y0, 2), round(p.box[2] - x0, 2),
             round(p.box[3] - y0, 2), p.meta.get("score", 1.0)] for p in people]}
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"version": U.BOXES_VERSION, "key": U.detector_key(),
                                 "images": held}))
    return out / "images"


def _slim(src: str, dst: Path) -> str:
    from uniskel.training.export import slim
    dst.parent.mkdir(parents=True, exist_ok=True)
    return str(slim(src, dst))


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {v!r} to TOML")


def _toml_key(k: str) -> str:
    """A bare key where TOML allows one, else quoted (``backbone.0`` is not a dotted key)."""
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)


def to_toml(cfg) -> str:
    """A TrainConfig as TOML that ``load_config`` reads back (None fields left out)."""
    d = dataclasses.asdict(cfg)
    lines, tables = [], []
    for k, v in d.items():
        if v is None:
            continue
        if isinstance(v, dict):
            tables.append((f"[{k}]", v))
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            tables.extend((f"[[{k}]]", x) for x in v)
        else:
            lines.append(f"{k} = {_toml_value(v)}")
    for head, t in tables:
        lines += ["", head] + [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in t.items()
                               if v is not None]
    return "\n".join(lines) + "\n"


def pack(config: str, out: str, margin: float = 1.8, quality: int = 80) -> Path:
    from uniskel.training.train import (_blazepose_for, blazepose_cache_path, load_config,
                                load_instances, needs_blazepose)

    cfg = load_config(config)
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    packed = dataclasses.replace(cfg, cache_dir=str(out / "cache"))
    for spec in cfg.datasets:
        insts = load_instances(spec, cfg.on_error, cfg.cache_dir)
        bp = _blazepose_for(spec, insts, cfg) if needs_blazepose(spec, cfg) else None
        where = out / spec.name
        if spec.format == "lsp":
            images, ann, bp = pack_lsp(spec, insts, bp, where, margin, quality)
        elif spec.format == "coco":
            images, ann = pack_coco(spec, insts, where)
        elif spec.format == "unlabelled":  # its people are chosen: no range, split, file
            from uniskel.training.data import box_cache_path
            images = pack_unlabelled(spec, insts, where, box_cache_path(spec, packed.cache_dir),
                                     margin, quality)
            ann, spec.range, spec.split = "", None, None
        else:
            raise UniskelError(f"pack: format {spec.format!r} is not supported (lsp, coco, "
                               "unlabelled)")
        if bp is not None:  # same name, in the pack's cache folder: it is keyed by the spec
            path = blazepose_cache_path(spec, len(insts), packed)
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(path, keypoints=bp)
        spec.images, spec.annotations = str(images), str(ann)
    teachers = {}
    for t in cfg.teachers:
        if t.kind == "model":
            teachers.setdefault(t.path, _slim(t.path, out / "teachers" / Path(t.path).name))
            t.path = teachers[t.path]
        else:
            t.tflite = ""  # the cache holds its keypoints
    if cfg.init_from and Path(cfg.init_from).suffix == ".pt":
        cfg.init_from = teachers.get(cfg.init_from) or _slim(
            cfg.init_from, out / "teachers" / Path(cfg.init_from).name)
    cfg.cache_dir = packed.cache_dir
    (out / "config.toml").write_text(to_toml(cfg))
    return out
