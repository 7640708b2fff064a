"""Keypoint records: what ``uniskel infer`` and the app's recorder write (both through
engine.media.outputs).

``.jsonl``: a header line, then one line per frame (also frames with nobody)::

    {"uniskel": 1, "keypoints": ["nose", ...21], "fields": ["x", "y", "confidence"],
     "units": "frame pixels", "source": ..., "size": [h, w], "fps": ..., "backend": ...}
    {"frame": 0, "time": 0.0, "people": [{"track_id": 1, "score": 0.83,
     "box": [x0, y0, x1, y1], "keypoints": [[x, y, c], ...21]}]}

A person not inferred on that frame (the app holding 30 fps with many people,
``engine.runtime.pipeline``'s ``target_fps``) has ``"carried": true``: their pose is carried over
from an earlier frame.

``.csv``: one row per person per frame::

    frame,time,track_id,nose_x,nose_y,nose_c,...,head_top_c
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

from uniskel.engine import skeleton
from uniskel.engine.errors import UniskelError

FORMATS = (".jsonl", ".csv")


def csv_header() -> list[str]:
    cols = ["frame", "time", "track_id"]
    for name in skeleton.KEYPOINTS:
        cols += [f"{name}_x", f"{name}_y", f"{name}_c"]
    return cols


def _r(v: float, nd: int) -> float:
    return round(float(v), nd)


class KeypointWriter:
    """``write(result)`` per FrameResult; ``close()`` (or use as a context manager).
    ``write_to``: the file actually written, if not ``path`` (engine.media.outputs writes
    under a temporary name and renames it at the end); messages name ``path``. Each
    record is flushed as it is written: the file always ends with whole records."""

    def __init__(self, path, write_to=None, **header):
        self.path = Path(path)
        self.format = self.path.suffix.lower()
        if self.format not in FORMATS:
            raise UniskelError(f"{self.path}: keypoint records must be .jsonl or .csv")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._f = open(write_to or self.path, "w",
                           newline="" if self.format == ".csv" else None, encoding="utf-8")
        except OSError as exc:
            raise UniskelError(f"{self.path}: cannot write ({exc.strerror})") from None
        self.frames = 0
        if self.format == ".csv":
            self._csv = csv.writer(self._f)
            self._csv.writerow(csv_header())
        else:
            head = {"uniskel": 1, "keypoints": list(skeleton.KEYPOINTS),
                    "fields": ["x", "y", "confidence"], "units": "frame pixels"}
            head.update({k: v for k, v in header.items() if v is not None})
            self._f.write(json.dumps(head) + "\n")

    def write(self, result) -> None:
        if self.format == ".csv":
            for p in result.people:
                row = [result.frame_index, _r(result.timestamp, 4), p.track_id]
                for x, y, c in p.keypoints:
                    row += [_r(x, 2), _r(y, 2), _r(c, 4)]
                self._csv.writerow(row)
        else:
            people = [{"track_id": int(p.track_id), "score": _r(p.score, 4),
                       **({} if p.quality is None else {"quality": _r(p.quality, 4)}),
                       **({} if p.refreshed else {"carried": True}),
                       "box": [_r(v, 2) for v in p.box],
                       "keypoints": [[_r(x, 2), _r(y, 2), _r(c, 4)] for x, y, c in p.keypoints]}
                      for p in result.people]
            rec = {"frame": result.frame_index, "time": _r(result.timestamp, 4), "people": people}
            self._f.write(json.dumps(rec) + "\n")
        self._f.flush()
        self.frames += 1

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_jsonl(path) -> tuple[dict, list[dict]]:
    """(header, frame records) of a .jsonl written by KeypointWriter (any version). A last
    line cut off part-way (a disk that filled, a crash) is left out; a broken line
    before it is an error."""
    with open(path, encoding="utf-8") as f:
        texts = [line for line in f if line.strip()]
    lines = []
    for n, text in enumerate(texts):
        try:
            lines.append(json.loads(text))
        except json.JSONDecodeError:
            if n == len(texts) - 1 and n > 0 and not text.endswith("\n"):
                break
            raise UniskelError(f"{path}: line {n + 1} is not a keypoint record") from None
    if not lines or not isinstance(lines[0], dict) or "keypoints" not in lines[0]:
        raise UniskelError(f"{path}: not a uniskel keypoint record")
    return lines[0], lines[1:]


def write_json(path, data: dict, what: str = "results") -> None:
    """Write a report as indented JSON, whole or not at all (engine.media.safefiles: an earlier
    file stays until the new one is complete); an unwritable path is one readable line."""
    from uniskel.engine.media import safefiles

    safefiles.write_text(path, json.dumps(data, indent=2), what)
