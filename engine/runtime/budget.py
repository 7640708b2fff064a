"""The live frame budget: how many people's crops fit in a frame, and whether the person
detector fits too, so the pipeline (``engine.runtime.pipeline``) holds ``target_fps`` with many
people.

Each frame infers as many tracked people as fit in 90% of 1 / target_fps at the
measured cost per crop (the rest of a frame's time is left to capture and drawing,
which share the cores); time a frame overruns (one that ran the detector) is paid back
over the next frames. Frames that come more slowly than ``target_fps`` (a 5 fps video, a
slow camera) give each frame the time until the next one (learnt from the engine's own
waits, up to ``SLOWEST_FRAME_MS``): then more people fit per frame, and the detector
runs on every frame where it takes at most half a frame's time. Live, the periodic
detection is also due by the wall clock (``REDETECT_SECONDS``).

``FrameBudget`` reads no clock itself: the pipeline hands it its clock's readings
(seconds, ``time.monotonic``) and stage times (ms), so a test's fake clock drives both.
Without ``target_fps`` it never limits anything (everyone, every frame).
"""
from __future__ import annotations

#: live (``target_fps``), the periodic detection runs at least this often by the wall
#: clock, not only every ``redetect_every`` frames: with frames coming slowly (a 5 fps
#: video, a slow camera, a busy machine) 15 frames would be 3 s without seeing who walked
#: in, while the engine waits idle for frames. At 25 fps and up, 15 frames come first.
REDETECT_SECONDS = 0.6
#: live, frames slower than ``target_fps`` (a 5 fps video, a slow camera) give each frame
#: the time until the next one, up to this long (ms): the engine waits idle otherwise
SLOWEST_FRAME_MS = 250.0


class FrameBudget:
    """The time a frame may take against what its stages cost (running estimates).

    A frame asks, in order: ``start(wall)`` (its arrival), ``detect_fits()``,
    ``detector_due(wall, fits)``, ``behind`` (someone lost waits for the periodic
    detection), ``detected(wall, ms)`` after a detector run, ``crops_that_fit(...)``,
    and ``finish(stages_ms, crops, frame_ms, wall)`` at its end.
    """

    def __init__(self, target_fps: float | None = None):
        self.target_fps = target_fps
        self.crop_ms: float | None = None  # running estimates: inference per crop,
        self.other_ms: float | None = None  # everything else but the detector,
        self.detect_ms: float | None = None  # a detector run
        self.balance = 0.0  # ms ahead of (+) or behind (-) target_fps
        self.detected_at: float | None = None  # clock of the last detector run
        self.finished_at: float | None = None  # clock at the end of the last frame
        self.started_at: float | None = None  # clock at the start of this frame
        self.busy_ms = 0.0  # the last frame's time
        self.interval_ms: float | None = None  # running estimate, frame to frame

    def reset(self) -> None:
        """A new source, a seek: its pace is learnt again (the costs are kept)."""
        self.balance = 0.0
        self.detected_at = None
        self.finished_at = None
        self.interval_ms = None  # a new source may come at another pace

    @property
    def live(self) -> bool:
        return self.target_fps is not None

    @property
    def behind(self) -> bool:
        """Live and behind the frame rate: someone lost waits for the periodic detection."""
        return self.live and self.balance < 0

    def frame_ms(self) -> float:
        """The time a frame may take: 1 / target_fps, or the time from frame to frame
        where frames come more slowly (``start``), less a tenth left to the rest of the
        process (capture, drawing and the GUI share the cores with the engine)."""
        return 0.9 * max(1000.0 / self.target_fps, self.interval_ms or 0.0)

    def start(self, wall: float) -> None:
        """A frame arrives at ``wall`` (seconds). Live: learns the time from frame to
        frame, as the last frame's time plus the time the engine then waited for this one
        (up to ``SLOWEST_FRAME_MS``). Where the engine did not wait (or for a few ms only:
        a thread waking), the source is at least as fast as the engine: the estimate only
        comes down, towards the last frame's time, so an engine slower than its source
        never stretches its own budget, and a source that speeds up is followed within a
        few frames."""
        self.started_at = wall
        if not self.live or self.finished_at is None:
            return
        waited = (wall - self.finished_at) * 1e3
        if waited >= 5.0:
            interval = min(self.busy_ms + waited, SLOWEST_FRAME_MS)
        elif self.interval_ms is None:
            return
        else:
            interval = min(self.busy_ms, self.interval_ms)
        self.interval_ms = (interval if self.interval_ms is None
                            else self.interval_ms + 0.3 * (interval - self.interval_ms))

    def detect_fits(self) -> bool:
        """Live: whether the detector can run on this frame too: frames come slowly
        enough that it takes at most half a frame's time (the rest goes to people's
        crops, shared out as ever). People walking in, or out from behind someone, are
        then looked for on every frame."""
        if not self.live or self.detect_ms is None or self.balance < 0:
            return False
        return self.detect_ms <= 0.5 * self.frame_ms()

    def detector_due(self, wall: float, fits: bool) -> bool:
        """Live: the periodic detection is due by the clock (``REDETECT_SECONDS`` since the
        last), or fits this frame; offline, where frames come as fast as they are
        processed, the frame count alone decides (False)."""
        return (self.live and self.detected_at is not None
                and (wall - self.detected_at >= REDETECT_SECONDS or fits))

    def detected(self, wall: float, ms: float) -> None:
        """The detector ran at ``wall``, taking ``ms``."""
        self.detected_at = wall
        self.detect_ms = ms if self.detect_ms is None else self.detect_ms + 0.2 * (ms - self.detect_ms)

    def crops_that_fit(self, sure: int, spent_ms: float = 0.0) -> int | None:
        """How many crops of tracked people fit this frame besides the ``sure`` ones
        (inferred whatever the time), the frame having spent ``spent_ms`` already (a
        detector run that fitted); at least one when ``sure`` is 0. None: no limit
        (not live, or the costs are not known yet). Time saved on earlier frames is
        spent now; time overrun is paid back over the next frames."""
        if not self.live or self.crop_ms is None:
            return None
        budget = (self.frame_ms() + self.balance - self.other_ms - spent_ms
                  - sure * self.crop_ms)
        return max(0 if sure else 1, int(budget // self.crop_ms))

    def finish(self, ms: dict, crops: int, frame_ms: float, wall: float) -> None:
        """A frame ends at ``wall``, having taken ``frame_ms`` in all (``ms`` by stage),
        with ``crops`` crops inferred: running estimates of the inference per crop and
        of the rest of a frame but the detector; the time balance against the target."""
        if self.live and self.crop_ms is not None:
            target = self.frame_ms()
            self.balance = min(max(self.balance + target - frame_ms, -8 * target), target)
        if crops:
            per = ms["infer"] / crops
            other = sum(ms.values()) - ms["infer"] - ms["detect"]
            if self.crop_ms is None:
                self.crop_ms, self.other_ms = per, other
            else:
                self.crop_ms += 0.1 * (per - self.crop_ms)
                self.other_ms += 0.1 * (other - self.other_ms)
        self.busy_ms = (wall - self.started_at) * 1e3 if self.started_at is not None else 0.0
        self.finished_at = wall
