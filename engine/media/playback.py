"""Playing a source: pacing, looping, pause and seek, and waiting for a camera to return.

``Player(source).events()`` yields, in order, ``Event("opened")``, then a ``Packet``
per frame, and ``Event("ended")``, ``Event("lost", message)`` / ``Event("restored")``
and ``Event("warning", message)`` (once each: the source's ``warnings``, e.g. a frame
rate it had to assume, a frame size that changes) as they happen; a source that breaks off raises its ``SourceError`` (a one-line
``UniskelError``) after the frames that did arrive. The controls (``play``, ``pause``,
``seek``, ``set_loop``, ``stop``) may be called from any thread while another iterates.

The same player serves both front ends:

- the command line plays a source with ``play(source)`` (``Player.tuples()``): a
  file plays once (or loops), paced only with ``pace=True``; a camera that stops is an
  error; the end of a file ends the iteration;
- the window (``app.capture.Cv2Source``, a QThread around it) plays with
  ``interactive=True``: a still image is re-sent at its rate while playing, the end of a
  file waits for ``play()`` (from the start) or ``seek()``, and with ``reconnect=True``
  a camera that is missing or unplugged is waited for (``lost``) and reopened
  (``opened``, ``restored``).

Packets carry the source's own frame index (a video's position, so a seek bar follows
it) and ``restart`` on the first frame after opening, a seek, a loop or a reconnect (the
engine resets tracking there). Timestamps: a video's position / fps, an image's repeat
count / fps, a camera's seconds since the player started.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from uniskel.engine.errors import UniskelError
from uniskel.engine.media.sources import Source, SourceError

RESYNC_S = 0.5      # a paced file this far behind its clock jumps the clock, not the frames
RETRY_S = 1.0       # how often a missing camera is looked for again


@dataclass
class Packet:
    frame: np.ndarray          # RGB uint8 (H, W, 3), owned by this packet
    timestamp: float           # seconds in the source (video position, or since start)
    captured: float            # time.monotonic() when it was read
    index: int                 # frame number in the source
    restart: bool = False      # first frame after a seek, a loop or a reconnect
    extra: dict = field(default_factory=dict)


@dataclass
class Event:
    kind: str                  # "opened", "ended", "lost", "restored" or "warning"
    source: Source | None = None
    message: str = ""          # "lost": why; "warning": what; one line


class Player:
    def __init__(self, source: Source | None = None, *,
                 opener: Callable[[], Source] | None = None, name: str | None = None,
                 loop: bool = False, pace: bool = True, interactive: bool = False,
                 reconnect: bool = False):
        if source is None and opener is None:
            raise ValueError("a Player needs a source or an opener")
        self.source, self.opener = source, opener
        self.name = name or (source.name if source is not None else "source")
        self.loop, self.pace = bool(loop), bool(pace)
        self.interactive, self.reconnect = bool(interactive), bool(reconnect)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._playing = True
        self._seek_to: int | None = None
        self._at_end = False
        self._stopped = False
        self._lost = False
        self._said: set[str] = set()  # warnings already passed on
        self._start = time.monotonic()

    # --- controls: any thread ---------------------------------------------------------
    def play(self) -> None:
        with self._lock:
            self._playing = True
            if self._at_end:  # play after the end starts again
                self._seek_to, self._at_end = 0, False
        self._wake.set()

    def pause(self) -> None:
        with self._lock:
            self._playing = False
        self._wake.set()

    def is_playing(self) -> bool:
        return self._playing

    def seek(self, index: int) -> None:
        with self._lock:
            self._seek_to = max(0, int(index))
            self._at_end = False
        self._wake.set()

    def set_loop(self, loop: bool) -> None:
        self.loop = bool(loop)

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()

    def close(self) -> None:
        """Release the source (the player's owner calls this after the last event)."""
        if self.source is not None:
            self.source.close()

    # --- playing ----------------------------------------------------------------------
    def tuples(self) -> Iterator[tuple[np.ndarray, float, int]]:
        """``(frame, timestamp, n)`` with a running count ``n``: a file's timestamp is
        n / fps (a loop keeps counting), a camera's its packet timestamp."""
        n = 0
        for item in self.events():
            if isinstance(item, Packet):
                live = self.source is not None and self.source.live
                yield item.frame, (item.timestamp if live else n / self.source.fps), n
                n += 1

    def events(self) -> Iterator[Packet | Event]:
        if self.source is not None:
            yield Event("opened", self.source)
            yield from self._warnings(self.source)
        show = restart = True     # read one frame now, even paused; mark it a restart
        in_pass = 0               # frames since the start or the last seek (loop guard)
        t0, due_n = time.monotonic(), 0
        while not self._stopped:
            if self.source is None:
                if not (yield from self._connect()):
                    continue
                show = restart = True
                in_pass = 0
            src = self.source
            with self._lock:
                seek, self._seek_to = self._seek_to, None
                playing = self._playing
            if seek is not None:
                src.seek(seek)
                show = restart = True
                in_pass = 0
            if not (show or playing):
                self._wait(0.1)
                t0, due_n = time.monotonic(), 0   # resume without rushing
                continue
            if not show and self.pace and not src.live:
                delay = t0 + due_n / src.fps - time.monotonic()
                if delay < -RESYNC_S:
                    t0, due_n = time.monotonic(), 0
                elif delay > 0 and self._wait(delay):
                    continue  # woken by a control: look at it first
            try:
                got = src.read()
            except SourceError:
                if not (self.reconnect and src.live):
                    raise
                yield from self._lose(f"{self.name} disconnected; waiting for it to come back")
                continue
            yield from self._warnings(src)
            if got is None:
                if src.live and self.reconnect:
                    yield from self._lose(f"{self.name} disconnected; waiting for it to "
                                          f"come back")
                elif src.kind == "image" and (self.loop or self.interactive) and in_pass:
                    src.seek(0)  # a still repeats: the same picture, not a restart
                elif self.loop and in_pass and not src.live:
                    src.seek(0)
                    restart = True
                    in_pass = 0
                elif not self.interactive:
                    return
                else:
                    with self._lock:
                        self._playing, self._at_end = False, True
                    show = False
                    yield Event("ended", src)
                continue
            image, index = got
            captured = time.monotonic()
            if show:
                t0, due_n = captured, 0
            due_n += 1
            timestamp = captured - self._start if src.live else index / src.fps
            packet = Packet(image, float(timestamp), captured, int(index), restart)
            show = restart = False
            in_pass += 1
            yield packet

    def _warnings(self, src: Source):
        for message in getattr(src, "warnings", ()):
            if message not in self._said:
                self._said.add(message)
                yield Event("warning", src, message)

    def _wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True if a control woke us."""
        woke = self._wake.wait(seconds)
        self._wake.clear()
        return woke

    def _lose(self, message: str):
        if self.source is not None:
            self.source.close()
            self.source = None
        if not self._lost:
            self._lost = True
            yield Event("lost", None, message)

    def _connect(self):
        """Open the source (again); False (after waiting a little) while it is not there."""
        if self.opener is None:
            raise UniskelError(f"{self.name}: lost, and no way to reopen it")
        try:
            self.source = self.opener()
        except UniskelError:
            if not self.reconnect:
                raise
            yield from self._lose(f"{self.name} is not available; waiting for it")
            self._wait(RETRY_S)
            return False
        yield Event("opened", self.source)
        if self._lost:
            self._lost = False
            yield Event("restored", self.source)
        return True


def play(source: Source) -> Iterator[tuple[np.ndarray, float, int]]:
    """``(frame_rgb, timestamp_s, index)`` of ``source`` played as the command line plays
    it (its own ``loop`` and ``realtime``), with a running index: a file's timestamp is
    index / fps (looping keeps counting), a camera's the seconds since the start."""
    return Player(source, loop=source.loop, pace=source.realtime).tuples()
