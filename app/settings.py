"""What the demo remembers between runs (QSettings, organisation "uniskel").

One dataclass holds every remembered choice; ``load``/``save`` move it to and from
QSettings, converting types explicitly because QSettings returns strings on some
platforms.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from uniskel.engine.skeleton import DRAW_THRESHOLD
from uniskel.engine.runtime.pipeline import EVERYONE

ORG, APP = "uniskel", "demo"

#: what the compare view can run: setting ("backend" or "backend:model") -> menu label
COMPARE_WITH = {"movenet:lightning": "MoveNet Lightning", "movenet:thunder": "MoveNet Thunder",
                "mediapipe": "MediaPipe BlazePose"}


def default_backend() -> str:
    """The backend a first launch uses: "auto", the bundled student on the fastest path
    this machine has (assets/models/README.md says how it compares with BlazePose)."""
    return "auto"


@dataclass
class Settings:
    subset: str = "all"            # "coco", "mpii" or "all"
    threshold: float = DRAW_THRESHOLD  # keypoints below this confidence are hidden
    show_names: bool = False
    line_width: int = 3
    mirror: bool = False
    backend: str = field(default_factory=default_backend)
    dashboard: bool = True
    record_folder: str = ""        # empty: the user's Videos (or home) folder
    record_format: str = "jsonl"   # keypoint file format: "jsonl" or "csv"
    loop: bool = True
    last_source: str = ""
    max_people: int = EVERYONE     # people shown at once (all of them, up to this cap)
    one_person: bool = False       # follow only the most prominent person (presenters)
    compare_with: str = "movenet:lightning"  # the compare view's model (COMPARE_WITH)


def _convert(value, default):
    if isinstance(default, bool):
        if isinstance(value, str):
            return value.lower() in ("1", "true", "yes")
        return bool(value)
    if isinstance(default, int):
        return int(float(value))
    if isinstance(default, float):
        return float(value)
    return str(value)


def qsettings():
    from PySide6.QtCore import QSettings
    return QSettings(ORG, APP)


def load(store=None) -> Settings:
    store = store if store is not None else qsettings()
    s = Settings()
    for f in fields(Settings):
        if store.contains(f.name):
            try:
                setattr(s, f.name, _convert(store.value(f.name), getattr(s, f.name)))
            except (TypeError, ValueError):
                pass  # a damaged entry falls back to the default
    if s.subset not in ("coco", "mpii", "all"):
        s.subset = "all"
    s.threshold = min(max(s.threshold, 0.0), 1.0)
    s.line_width = min(max(s.line_width, 1), 12)
    s.max_people = min(max(s.max_people, 1), 20)
    if s.compare_with not in COMPARE_WITH:
        s.compare_with = "movenet:lightning"
    if s.record_format not in ("jsonl", "csv"):
        s.record_format = "jsonl"
    return s


def save(s: Settings, store=None) -> None:
    store = store if store is not None else qsettings()
    for name, value in asdict(s).items():
        store.setValue(name, value)
    store.sync()
