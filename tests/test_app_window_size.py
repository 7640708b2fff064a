"""The window fits the screen: a first launch takes two thirds of the screen's free area,
centred; the video gets most of the width and the dashboard beside it a third at most;
a later launch reopens where the window was left; the confidence plot's 21 keypoint
names never overlap (issue #30, item 4).

Sizes only (offscreen Qt, no model, no video): nothing here depends on the machine's speed.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

import cv2  # noqa: F401 - sets QT_QPA_PLATFORM_PLUGIN_PATH, which the app must undo

os.environ.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)
pytest.importorskip("pytestqt")

from PySide6.QtCore import QRect, QSettings, Qt  # noqa: E402

from uniskel.app.placement import first_launch_rect  # noqa: E402
from uniskel.app.window import MainWindow  # noqa: E402
from uniskel.engine import skeleton  # noqa: E402

FULL_HD = QRect(0, 0, 1920, 1080)


def settle(qtbot, window, size=None):
    """Let the layout follow a new size (and the dashboard its new rows)."""
    if size is not None:
        qtbot.waitUntil(lambda: (window.width(), window.height()) == size, timeout=5000)
    plot = window.dashboard.conf_plot
    qtbot.waitUntil(lambda: plot.getViewBox().height() > 0, timeout=5000)
    qtbot.wait(50)  # posted layout requests


def feed_dashboard(window):
    """A few painted results, so that the summary above the plots has all its lines."""
    kp = np.zeros((skeleton.NUM_KEYPOINTS, 3), np.float32)
    kp[:, 2] = np.linspace(0.0, 1.0, skeleton.NUM_KEYPOINTS)
    stages = {"detect": 15.0, "crop": 0.3, "infer": 9.6, "decode": 0.3, "smooth": 0.1}
    for _ in range(5):
        window.dashboard.add(30.0, stages, kp, quality=0.55, person=1, people=3)
    window.dashboard.refresh()


def drawn_names(dashboard):
    """The keypoint names the confidence plot's axis draws, each with the y of its
    centre (px), as pyqtgraph lays them out to paint them."""
    from PySide6.QtGui import QImage, QPainter
    axis = dashboard.conf_plot.getAxis("left")
    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        painter.setFont(axis.style["tickFont"])
        _, _, texts = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [(name, rect.center().y()) for rect, _, name in texts if name]


def line_height(dashboard) -> float:
    from PySide6.QtGui import QFontMetricsF
    return QFontMetricsF(dashboard.conf_plot.getAxis("left").style["tickFont"]).height()


@pytest.mark.parametrize("free", [FULL_HD, QRect(0, 27, 1920, 1053), QRect(1920, 0, 2560, 1400),
                                  QRect(0, 0, 3840, 2112)])
def test_first_launch_is_two_thirds_of_the_free_area_centred(free):
    r = first_launch_rect(free)
    assert abs(r.width() - free.width() * 2 / 3) <= 1
    assert abs(r.height() - free.height() * 2 / 3) <= 1
    assert free.contains(r)
    assert abs(r.center().x() - free.center().x()) <= 1
    assert abs(r.center().y() - free.center().y()) <= 1


@pytest.mark.parametrize("free", [QRect(0, 0, 1366, 768), QRect(0, 0, 1280, 720),
                                  QRect(0, 0, 800, 600), QRect(100, 50, 640, 480)])
def test_a_small_screen_gets_a_usable_window_inside_it(free):
    r = first_launch_rect(free)
    assert free.contains(r)
    assert r.width() >= min(960, 0.9 * free.width() - 1)
    assert r.height() >= min(600, 0.9 * free.height() - 1)
    assert r.width() <= max(960, 0.9 * free.width())
    assert r.height() <= max(600, 0.9 * free.height())
    assert r.width() >= free.width() * 2 / 3 and r.height() >= free.height() * 2 / 3


def test_first_launch_opens_on_its_screens_free_area(window):
    free = window.screen().availableGeometry()
    want = first_launch_rect(free)
    assert window.size() == want.size()
    assert (window.frameGeometry().topLeft() - want.topLeft()).manhattanLength() <= 4
    assert free.contains(window.frameGeometry())


def test_on_a_full_hd_screen_the_video_is_the_largest_thing(qtbot, window):
    window.fit_screen(FULL_HD)
    settle(qtbot, window, (1280, 720))
    assert abs(window.frameGeometry().center().x() - FULL_HD.center().x()) <= 4
    assert abs(window.frameGeometry().center().y() - FULL_HD.center().y()) <= 4
    assert window.dock.isVisible()
    assert window.view.width() > 2 * window.dock.width()
    assert window.dock.width() <= window.width() / 3
    assert window.view.width() * window.view.height() > 2 * (
        window.dock.width() * window.dock.height())


def test_confidence_names_all_readable_at_the_default_size(qtbot, window):
    window.fit_screen(FULL_HD)
    settle(qtbot, window, (1280, 720))
    feed_dashboard(window)
    settle(qtbot, window)
    d = window.dashboard
    line = line_height(d)
    assert d.conf_label_step == 1
    assert d.conf_row_px() >= line
    names = drawn_names(d)
    assert [n for n, _ in names] == list(skeleton.KEYPOINTS)
    gaps = np.diff([y for _, y in names])
    assert gaps.min() >= line - 0.01, f"names {gaps.min():.1f} px apart, a line is {line:.1f}"


def test_a_short_window_names_fewer_rows_never_overlapping(qtbot, window):
    window.fit_screen(QRect(0, 0, 1920, 700))  # 1280 x 600 at most: rows too short for all
    window.resize(1000, 520)
    settle(qtbot, window, (1000, 520))
    feed_dashboard(window)
    settle(qtbot, window)
    d = window.dashboard
    line = line_height(d)
    assert d.conf_label_step >= 2
    assert d.conf_row_px() < line  # all 21 would overlap here
    names = drawn_names(d)
    assert [n for n, _ in names] == list(skeleton.KEYPOINTS)[::d.conf_label_step]
    assert np.diff([y for _, y in names]).min() >= line - 0.01


def test_size_place_and_dashboard_width_are_remembered(qtbot, tmp_path):
    store = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    first = MainWindow(store=store, autoload=False)
    qtbot.addWidget(first)
    first.show()
    left = QRect(30, 40, 740, 560)
    assert left != first.geometry()
    first.setGeometry(left)
    settle(qtbot, first, (740, 560))
    first.resizeDocks([first.dock], [300], Qt.Orientation.Horizontal)  # as a drag does
    qtbot.waitUntil(lambda: first.dock.width() == 300, timeout=5000)
    first.close()

    again = MainWindow(store=store, autoload=False)
    qtbot.addWidget(again)
    again.show()
    settle(qtbot, again, (740, 560))
    assert again.geometry() == left
    qtbot.waitUntil(lambda: again.dock.width() == 300, timeout=5000)
    assert again.dock.isVisible()
    again.close()


def test_closing_in_presenter_mode_reopens_the_normal_window(qtbot, tmp_path):
    store = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    first = MainWindow(store=store, autoload=False)
    qtbot.addWidget(first)
    first.show()
    normal = first.geometry()
    first.set_presenter(True)
    qtbot.waitUntil(lambda: first.isFullScreen(), timeout=5000)
    first.set_presenter(False)
    qtbot.waitUntil(lambda: not first.isFullScreen(), timeout=5000)
    assert first.dock.isVisible() and all(tb.isVisible() for tb in first.toolbars)
    first.close()  # remembers the normal window

    second = MainWindow(store=store, autoload=False)
    qtbot.addWidget(second)
    second.show()
    second.set_presenter(True)
    qtbot.waitUntil(lambda: second.isFullScreen(), timeout=5000)
    second.close()  # full screen, no toolbars: not remembered

    third = MainWindow(store=store, autoload=False)
    qtbot.addWidget(third)
    third.show()
    settle(qtbot, third)
    assert not third.isFullScreen() and third.geometry() == normal
    assert third.dock.isVisible() and all(tb.isVisible() for tb in third.toolbars)
    third.close()
