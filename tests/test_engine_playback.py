"""engine.media.playback.Player: the one way frames are played, by the command line
(``playback.play(source)``) and by the window (app.capture.Cv2Source runs it in a QThread). Real files; a
fake camera only where a device would have to be unplugged."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from uniskel.engine.errors import UniskelError
from uniskel.engine.media.playback import Event, Packet, Player, play
from uniskel.engine.media.sources import Source, SourceError, open_source
from engine_fakes import FakeClock
from test_engine_sources import write_video


def take(events, n, kinds=(Packet,)):
    """The next ``n`` items of ``events`` whose type is in ``kinds`` (others collected)."""
    got, other = [], []
    for item in events:
        (got if isinstance(item, kinds) else other).append(item)
        if len(got) == n:
            break
    return got, other


def paced_by_a_fake_clock(monkeypatch, player) -> FakeClock:
    """The player's clock, one that only moves while the player waits for a frame's time
    (reading and decoding take none): pacing is then exact, however loaded the machine."""
    from uniskel.engine.media import playback

    clock = FakeClock()
    monkeypatch.setattr(playback, "time", clock)

    def wait(seconds):
        clock.now += seconds
        return False  # no control woke it

    monkeypatch.setattr(player, "_wait", wait)
    return clock


@pytest.fixture
def clip(tmp_path):
    """10 frames at 20 fps, each a different grey (frame i is 8 * i)."""
    return write_video(tmp_path / "clip.avi", n=10, fps=20)


def grey(packet) -> int:
    return int(round(packet.frame.mean() / 8))


def test_a_file_plays_at_its_rate_with_positions_and_timestamps(clip, monkeypatch):
    player = Player(open_source(clip), pace=True, interactive=True)
    clock = paced_by_a_fake_clock(monkeypatch, player)
    events = player.events()
    start = clock.now
    packets, other = take(events, 10)
    took = clock.now - start
    assert other[0].kind == "opened" and other[0].source.fps == 20
    assert [p.index for p in packets] == list(range(10))
    assert [grey(p) for p in packets] == list(range(10))  # the frames, in order
    assert [p.timestamp for p in packets] == pytest.approx([i / 20 for i in range(10)])
    assert [p.restart for p in packets] == [True] + [False] * 9
    assert took == pytest.approx(0.45)  # paced: 9 intervals of 50 ms, not as fast as decoding
    player.close()


def test_seek_while_paused_shows_that_frame_then_waits(clip):
    player = Player(open_source(clip), pace=False, interactive=True)
    events = player.events()
    take(events, 1)
    player.pause()
    player.seek(6)
    (p,), _ = take(events, 1)
    assert (p.index, grey(p), p.restart) == (6, 6, True)
    got = []
    reader = threading.Thread(target=lambda: got.extend(take(events, 1)[0]), daemon=True)
    reader.start()
    reader.join(0.4)
    assert not got  # paused: nothing more until play
    player.play()
    reader.join(5)
    assert [q.index for q in got] == [7] and not got[0].restart
    player.stop()
    player.close()


def test_the_end_waits_for_play_which_starts_again(clip):
    player = Player(open_source(clip), pace=False, interactive=True)
    events = player.events()
    (opened,), _ = take(events, 1, kinds=(Event,))
    (ended,), frames = take(events, 1, kinds=(Event,))
    assert opened.kind == "opened" and ended.kind == "ended" and len(frames) == 10
    assert not player.is_playing()
    player.play()
    (p,), _ = take(events, 1)
    assert (p.index, p.restart) == (0, True)
    player.stop()
    player.close()


def test_loop_restarts_at_frame_zero(clip):
    player = Player(open_source(clip), pace=False, loop=True, interactive=True)
    packets, other = take(player.events(), 25)
    assert [p.index for p in packets] == [*range(10), *range(10), *range(5)]
    assert [i for i, p in enumerate(packets) if p.restart] == [0, 10, 20]
    assert not any(e.kind == "ended" for e in other)
    # the command line's view of the same loop keeps counting (soak)
    it = iter(play(open_source(clip, loop=True)))
    got = [next(it) for _ in range(25)]
    assert [n for _, _, n in got] == list(range(25))
    assert [ts for _, ts, _ in got] == pytest.approx([n / 20 for n in range(25)])
    player.close()


def test_a_still_image_repeats_at_its_rate_without_restarting(tmp_path, monkeypatch):
    import cv2
    path = tmp_path / "still.png"
    cv2.imwrite(str(path), np.full((30, 40, 3), 77, np.uint8))
    src = open_source(path, still_fps=50)
    player = Player(src, pace=True, interactive=True)
    clock = paced_by_a_fake_clock(monkeypatch, player)
    start = clock.now
    packets, _ = take(player.events(), 6)
    assert clock.now - start == pytest.approx(0.1)  # 5 intervals of 20 ms
    assert [p.index for p in packets] == list(range(6))
    assert [p.restart for p in packets] == [True] + [False] * 5
    assert packets[0].frame is not packets[1].frame  # each packet owns its pixels
    assert list(play(open_source(path))).__len__() == 1  # the command line: an image is one frame
    player.close()


def test_a_video_that_breaks_off_raises_the_same_line_in_both(tmp_path):
    good = write_video(tmp_path / "good.avi", n=30)
    cut = tmp_path / "cut.avi"
    cut.write_bytes(good.read_bytes()[: int(good.stat().st_size * 0.8)])
    with pytest.raises(SourceError) as cli:
        list(play(open_source(cut)))
    player = Player(open_source(cut), pace=False, interactive=True, loop=True)
    with pytest.raises(SourceError) as window:
        list(player.events())
    assert str(window.value) == str(cli.value) and "breaks off after frame" in str(cli.value)
    player.close()


class FakeCamera(Source):
    """A camera that delivers ``n`` frames, then is unplugged."""
    kind, live = "camera", True

    def __init__(self, n):
        super().__init__("camera 5")
        self.n, self.count, self.closed = n, 0, False
        self.size = (4, 6)

    def read(self):
        if self.count >= self.n:
            raise SourceError("camera 5: stopped delivering frames")
        self.count += 1
        return np.zeros((4, 6, 3), np.uint8), self.count - 1

    def close(self):
        self.closed = True


def test_a_camera_is_waited_for_and_reopened(monkeypatch):
    monkeypatch.setattr("uniskel.engine.media.playback.RETRY_S", 0.01)
    plugged = iter([False, True, True])
    opened = []

    def opener():
        if not next(plugged):
            raise UniskelError("camera 5: not found or in use by another program")
        opened.append(FakeCamera(2))
        return opened[-1]

    player = Player(opener=opener, name="camera 5", interactive=True, reconnect=True)
    items = []
    for item in player.events():
        items.append(item)
        if sum(isinstance(i, Packet) for i in items) == 4:
            break
    kinds = [i.kind if isinstance(i, Event) else "frame" for i in items]
    assert kinds == ["lost", "opened", "restored", "frame", "frame", "lost", "opened",
                     "restored", "frame", "frame"]
    assert "not available; waiting" in items[0].message
    assert "disconnected; waiting" in items[5].message
    assert [i.restart for i in items if isinstance(i, Packet)] == [True, False, True, False]
    assert opened[0].closed
    # without reconnect (the command line), an unplugged camera is the error itself
    with pytest.raises(SourceError, match="stopped delivering"):
        list(play(FakeCamera(3)))
