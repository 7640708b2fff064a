"""The overlay draws exactly the keypoints the toggles ask for."""
from __future__ import annotations

import os

import numpy as np
import pytest

import cv2  # noqa: F401 - sets QT_QPA_PLATFORM_PLUGIN_PATH, which the app must undo

os.environ.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)

from uniskel.engine import skeleton  # noqa: E402
from uniskel.engine.runtime.pipeline import EVERYONE  # noqa: E402

pytest.importorskip("pytestqt")


class FakePerson:
    def __init__(self, keypoints):
        self.keypoints = keypoints
        self.box = (0, 0, 1, 1)
        self.track_id = 1
        self.score = 1.0


def spread_person(w=320, h=240, conf=0.9) -> FakePerson:
    """21 points on a grid inside a w x h frame, all with confidence ``conf``."""
    k = np.zeros((skeleton.NUM_KEYPOINTS, 3), np.float32)
    for i in range(skeleton.NUM_KEYPOINTS):
        k[i] = (30 + (i % 7) * (w - 60) / 6, 30 + (i // 7) * (h - 60) / 2, conf)
    return FakePerson(k)


@pytest.fixture
def view(qtbot):
    from uniskel.app.overlay import OverlayView
    v = OverlayView()
    qtbot.addWidget(v)
    v.resize(640, 480)
    v.show()
    v.set_frame(np.zeros((240, 320, 3), np.uint8), [spread_person()])
    return v


@pytest.mark.parametrize("subset", ["coco", "mpii", "all"])
def test_subset_decides_drawn_points(view, subset):
    from uniskel.app.overlay import OverlayOptions
    view.set_options(OverlayOptions(subset=subset, threshold=0.0))
    view.repaint()
    assert sorted(view.last_drawn[0]) == sorted(skeleton.SUBSETS[subset])


def test_threshold_hides_low_confidence(view):
    from uniskel.app.overlay import OverlayOptions
    p = spread_person()
    p.keypoints[:, 2] = np.linspace(0.0, 1.0, skeleton.NUM_KEYPOINTS)
    view.set_people([p])
    view.set_options(OverlayOptions(subset="all", threshold=0.5))
    view.repaint()
    expected = [i for i in range(skeleton.NUM_KEYPOINTS) if p.keypoints[i, 2] >= 0.5]
    assert sorted(view.last_drawn[0]) == expected
    assert 0 < len(expected) < skeleton.NUM_KEYPOINTS


def _coloured_pixels(image) -> np.ndarray:
    from uniskel.app.overlay import qimage_to_numpy
    return qimage_to_numpy(image).max(axis=2) > 40


def test_pixels_follow_subset_mirror_and_names():
    """Paint onto a black frame and look at the pixels themselves."""
    from uniskel.app.overlay import OverlayOptions, qimage_to_numpy, render_annotated
    frame = np.zeros((240, 320, 3), np.uint8)
    k = np.zeros((skeleton.NUM_KEYPOINTS, 3), np.float32)
    head_top = skeleton.INDEX["head_top"]
    k[head_top] = (40, 40, 1.0)  # only head top is confident: an MPII point, not a COCO one
    person = FakePerson(k)
    coco = render_annotated(frame, [person], OverlayOptions(subset="coco", threshold=0.3))
    mpii = render_annotated(frame, [person], OverlayOptions(subset="mpii", threshold=0.3))
    assert not _coloured_pixels(coco).any()
    px = qimage_to_numpy(mpii)[40, 40]
    assert tuple(px) == skeleton.KEYPOINT_COLORS[head_top]

    mirrored = render_annotated(frame, [person], OverlayOptions(subset="all", mirror=True))
    on = _coloured_pixels(mirrored)
    assert on[40, 320 - 40] and not on[40, 40]

    named = render_annotated(frame, [person], OverlayOptions(subset="all", show_names=True))
    assert _coloured_pixels(named).sum() > _coloured_pixels(mpii).sum() + 20


def test_shortcuts_switch_subsets(qtbot, tmp_path):
    """Keys 1/2/3 in the main window change what is drawn."""
    from PySide6.QtCore import QSettings, Qt
    from uniskel.app.window import MainWindow
    store = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    w = MainWindow(store=store, autoload=False)
    qtbot.addWidget(w)
    w.show()
    w.activateWindow()
    qtbot.waitExposed(w)
    qtbot.waitUntil(w.isActiveWindow)  # shortcuts go to the active window
    w.view.set_frame(np.zeros((240, 320, 3), np.uint8), [spread_person()])
    w.display.threshold.setValue(0)
    for key, subset in ((Qt.Key.Key_1, "coco"), (Qt.Key.Key_2, "mpii"), (Qt.Key.Key_3, "all")):
        qtbot.keyClick(w.view, key)
        assert w.settings.subset == subset
        w.view.repaint()
        assert sorted(w.view.last_drawn[0]) == sorted(skeleton.SUBSETS[subset])
    qtbot.keyClick(w.view, Qt.Key.Key_N)
    assert w.view.options.show_names
    w.close()
    assert QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat).value(
        "subset") == "all"


def test_everyone_gets_their_own_colour_and_id_and_a_click_follows_one(qtbot, window):
    """Several people: each is drawn with an id tag in their own colour; a click on the
    view makes the dashboard follow the person clicked on; P follows one person only."""
    from PySide6.QtCore import QPoint, Qt

    from uniskel.app.overlay import qimage_to_numpy, render_annotated
    from uniskel.engine.media.draw import person_colour

    frame = np.zeros((240, 320, 3), np.uint8)
    a, b = spread_person(150, 240), spread_person(150, 240)
    b.keypoints = b.keypoints.copy()
    b.keypoints[:, 0] += 160
    a.track_id, b.track_id = 3, 4
    a.box, b.box = (30, 30, 150, 210), (190, 30, 310, 210)
    assert person_colour(3) != person_colour(4)
    opts = window.display.options()
    opts.side_colours = False  # whole skeleton in the person's colour
    img = render_annotated(frame, [a, b], opts)
    px = qimage_to_numpy(img).reshape(-1, 3)
    for tid in (3, 4):  # both people's colours are on screen
        assert (np.abs(px.astype(int) - person_colour(tid)).sum(1) < 30).sum() > 20, tid

    window.view.set_frame(frame, [a, b])
    r = window.view.image_rect()
    s = r.width() / 320
    qtbot.mouseClick(window.view, Qt.MouseButton.LeftButton,
                     pos=QPoint(int(r.x() + 250 * s), int(r.y() + 120 * s)))
    assert window.display.followed_id == 4
    assert window.display.followed_person([a, b]) is b
    assert window.display.followed_person([a]) is a  # the followed one left: the most prominent
    assert window.display.options().followed == 4

    assert window.engine.max_people == window.settings.max_people == EVERYONE
    window.action["one_person"].setChecked(True)
    assert window.engine.max_people == 1 and window.settings.one_person
    window.action["one_person"].setChecked(False)
    assert window.engine.max_people == EVERYONE


def test_native_chatter_is_kept_off_the_terminal_and_errors_are_not(tmp_path):
    """The installed command's filter on file descriptor 2: absl/TFLite lines vanish,
    everything else passes, in order, before the process ends."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import os, sys\n"
        "from uniskel.commands import NativeLogFilter\n"
        "f = NativeLogFilter()\n"
        "os.write(2, b'W0000 00:00:1796026413.464397   10899 landmark_projection_calculator"
        ".cc:186] Using NORM_RECT\\n')\n"
        "os.write(2, b'INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n')\n"
        "os.write(2, b'libpng warning: iCCP: known incorrect sRGB profile\\n')\n"
        "os.write(2, b'This plugin does not support propagateSizeHints()\\n')\n"
        "print('uniskel demo: error: camera 3 not found', file=sys.stderr)\n"
        "f.stop()\n"
        "os._exit(2)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=str(Path(__file__).resolve().parents[1]),
                          timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["uniskel demo: error: camera 3 not found"]


def test_the_view_reports_each_new_frame_once_it_is_painted(view, qtbot):
    """painted(tag) once per frame that reaches the screen: not again on a repaint, and
    not for a frame replaced before it was painted (newest frame wins)."""
    frame = np.zeros((120, 160, 3), np.uint8)
    view.repaint()  # the fixture's frame
    got, before = [], view.frames_painted
    view.painted.connect(got.append)
    view.set_frame(frame, [], tag="a")
    view.repaint()
    view.repaint()
    assert got == ["a"] and view.frames_painted == before + 1
    view.set_frame(frame, [], tag="b")
    view.set_frame(frame, [], tag="c")
    view.repaint()
    assert got == ["a", "c"] and view.frames_painted == before + 2
    view.set_frame(None)
    view.repaint()
    assert got == ["a", "c"]


def test_a_click_on_the_frame_is_reported_in_frame_pixels(view, qtbot):
    from PySide6.QtCore import QPoint, Qt
    view.set_frame(np.zeros((100, 200, 3), np.uint8), [])
    clicks = []
    view.clicked.connect(lambda x, y: clicks.append((x, y)))
    r = view.image_rect()
    s = r.width() / 200
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton,
                     pos=QPoint(int(r.x() + 50 * s), int(r.y() + 20 * s)))
    assert len(clicks) == 1
    assert clicks[0][0] == pytest.approx(50, abs=2) and clicks[0][1] == pytest.approx(20, abs=2)


def test_the_id_of_a_person_at_the_top_edge_stays_in_the_picture(qapp):
    """A person whose highest point is at the picture's top edge: their "#id" is drawn
    inside the picture (below the edge), not above it where nothing is painted."""
    from uniskel.app.overlay import OverlayOptions, qimage_to_numpy, render_annotated
    from uniskel.engine.media.draw import person_colour

    p = spread_person()
    p.keypoints[:, 1] += 200.0
    p.keypoints[0, :2] = (100.0, 1.0)  # the nose, at the top edge
    frame = np.zeros((240, 320, 3), np.uint8)
    colour = np.array(person_colour(p.track_id))

    def id_pixels(show_ids: bool) -> int:
        opts = OverlayOptions(subset="all", threshold=0.0, show_ids=show_ids,
                              side_colours=False, line_width=1)
        img = qimage_to_numpy(render_annotated(frame, [p], opts))[..., :3]
        band = img[:14, 104:130]  # right of the nose's dot, along the top edge
        return int((np.abs(band.astype(int) - colour).sum(-1) < 90).sum())

    assert id_pixels(False) == 0
    assert id_pixels(True) > 5
