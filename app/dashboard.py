"""Live numbers (pyqtgraph): frames per second, capture-to-paint latency, the engine's
per-stage times, each keypoint's confidence over time, and (for a model that has one) the
first person's expected accuracy, its quality estimate (engine/models/quality.py).

Results are appended as they are painted (cheap: a few deque appends); the plots
redraw on their own timer a few times a second so the dashboard never sets the pace.
"""
from __future__ import annotations

import math
import time
from collections import deque

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, QTimer
from PySide6.QtGui import QFont, QFontMetricsF
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from uniskel.engine import skeleton

HISTORY = 300       # samples kept per series
STAGE_COLOURS = ("#ffb000", "#5ab4ff", "#7ee07e", "#ff6e6e", "#c48bff", "#e0e0e0")
TITLE_SIZE = "9pt"
LABEL_PX = 10       # the confidence plot's keypoint names
PLOT_STRETCH = (3, 4, 10)  # heights: frames per second, milliseconds, confidence rows


class Dashboard(QWidget):
    def __init__(self, parent=None, refresh_ms: int = 200):
        super().__init__(parent)
        pg.setConfigOptions(antialias=True, background="#16161a", foreground="#d0d0d0")
        self.t = deque(maxlen=HISTORY)
        self.fps = deque(maxlen=HISTORY)
        self.latency = deque(maxlen=HISTORY)
        self.stages: dict[str, deque] = {}
        self.conf = deque(maxlen=HISTORY)
        self.quality: float | None = None  # the followed person's expected OKS, latest frame
        self.person: int | None = None  # the followed person's id
        self.people: int | None = None  # people in view
        self._paint_times = deque(maxlen=30)
        self._t0 = time.monotonic()
        self._dirty = False

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.summary = QLabel("waiting for frames")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        # three plot widgets, the confidence rows the tallest (PLOT_STRETCH), so that their
        # 21 names can be read beside a video that gets most of the window
        views = [pg.PlotWidget() for _ in PLOT_STRETCH]
        for view, stretch in zip(views, PLOT_STRETCH):
            layout.addWidget(view, stretch)
        self.fps_plot, self.ms_plot, self.conf_plot = (v.getPlotItem() for v in views)
        self.fps_plot.setTitle("frames per second", size=TITLE_SIZE)
        self.fps_curve = self.fps_plot.plot(pen=pg.mkPen("#7ee07e", width=2))
        self.ms_plot.setTitle("milliseconds per frame", size=TITLE_SIZE)
        self.ms_plot.addLegend(offset=(-2, 1), labelTextSize="7pt", brush=(22, 22, 26, 200),
                            colCount=3, verSpacing=-8)  # six names in two short rows
        self.latency_curve = self.ms_plot.plot(pen=pg.mkPen("#ffffff", width=2),
                                               name="capture to paint")
        self.stage_curves: dict[str, pg.PlotDataItem] = {}
        # each keypoint a row, each frame a column (the newest on the right)
        self._conf_title = None
        self._title_conf_plot()
        self.conf_image = pg.ImageItem(axisOrder="row-major")
        self.conf_image.setColorMap(pg.colormap.get("viridis"))
        self.conf_plot.addItem(self.conf_image)
        self.conf_plot.invertY(True)
        self.conf_plot.setYRange(0, skeleton.NUM_KEYPOINTS, padding=0)
        self.conf_plot.setXRange(0, 50, padding=0)
        self.conf_plot.setMouseEnabled(x=False, y=False)
        self.conf_plot.hideAxis("bottom")
        self.label_font = _small_font()
        self.conf_plot.getAxis("left").setStyle(tickFont=self.label_font)
        self.conf_label_step = 0  # every how many rows a name is written (1: all)
        self.conf_plot.getViewBox().sigResized.connect(self._fit_conf_labels)
        self._fit_conf_labels()
        for p in (self.fps_plot, self.ms_plot):
            p.showGrid(x=True, y=True, alpha=0.2)
            p.getAxis("left").setWidth(34)  # so that the two time axes line up
        self.ms_plot.setLabel("bottom", "s")
        self.fps_plot.setXLink(self.ms_plot)  # one time axis, under the two of them
        self.fps_plot.getAxis("bottom").setStyle(showValues=False)

        self.timer = QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(refresh_ms)

    def sizeHint(self):  # noqa: N802 - the frame view, not the plots, gets the space
        return QSize(360, 480)

    def _title_conf_plot(self) -> None:
        """The confidence plot's title names whose it is ("... of #3"), briefly: the
        dashboard may be narrow."""
        title = ("keypoint confidence" if self.person is None
                 else f"keypoint confidence of #{self.person}")
        if title != self._conf_title:
            self._conf_title = title
            self.conf_plot.setTitle(title, size=TITLE_SIZE)

    def conf_row_px(self) -> float:
        """How tall one keypoint's row of the confidence plot is on screen (px)."""
        return self.conf_plot.getViewBox().height() / skeleton.NUM_KEYPOINTS

    def _fit_conf_labels(self, *_) -> None:
        """Name every keypoint's row where the rows are at least a line of text tall;
        where they are not (a short window), every second (third, ...) row, the others
        keeping an unnamed tick, so that names never overlap."""
        line = QFontMetricsF(self.label_font).height()
        row = self.conf_row_px()
        step = max(1, math.ceil(line / row - 1e-6)) if row > 0 else 1
        if step == self.conf_label_step:
            return
        self.conf_label_step = step
        names = list(enumerate(skeleton.KEYPOINTS))
        self.conf_plot.getAxis("left").setTicks(
            [[(i + 0.5, name) for i, name in names if i % step == 0],
             [(i + 0.5, "") for i, name in names if i % step]])

    def reset(self) -> None:
        for d in (self.t, self.fps, self.latency, self.conf, self._paint_times):
            d.clear()
        self.stages.clear()
        self.quality = None
        for c in self.stage_curves.values():
            self.ms_plot.removeItem(c)
        self.stage_curves.clear()
        self._dirty = True

    def add(self, latency_ms: float, stages_ms: dict, keypoints: np.ndarray | None,
            quality: float | None = None, person: int | None = None,
            people: int | None = None) -> None:
        """Record one painted result: ``keypoints`` and ``quality`` (expected OKS, if
        known) of the followed ``person`` (their id), and how many ``people`` there are."""
        self.person, self.people = person, people
        now = time.monotonic()
        self._paint_times.append(now)
        n = len(self._paint_times)
        fps = (n - 1) / (now - self._paint_times[0]) if n > 1 and now > self._paint_times[0] else 0.0
        self.t.append(now - self._t0)
        self.fps.append(fps)
        self.latency.append(latency_ms)
        for name, ms in stages_ms.items():
            if name not in self.stages:
                self.stages[name] = deque([np.nan] * (len(self.t) - 1), maxlen=HISTORY)
            self.stages[name].append(float(ms))
        for name, d in self.stages.items():
            if name not in stages_ms:
                d.append(np.nan)
        conf = np.full(skeleton.NUM_KEYPOINTS, np.nan, np.float32)
        if keypoints is not None:
            conf[:] = np.asarray(keypoints)[:, 2]
        self.conf.append(conf)
        self.quality = quality
        self._dirty = True

    def current(self) -> dict:
        """The latest numbers, for the status line."""
        if not self.t:
            return {}
        out = {"fps": self.fps[-1], "latency_ms": self.latency[-1]}
        out.update({k: v[-1] for k, v in self.stages.items()})
        if self.quality is not None:
            out["quality"] = self.quality
        return out

    def refresh(self) -> None:
        if not self._dirty or not self.isVisible():
            return
        self._dirty = False
        if not self.t:
            self.summary.setText("waiting for frames")
            self.fps_curve.setData([], [])
            self.latency_curve.setData([], [])
            self.conf_image.clear()
            return
        t = np.fromiter(self.t, float)
        self.fps_curve.setData(t, np.fromiter(self.fps, float))
        self.latency_curve.setData(t, np.fromiter(self.latency, float))
        for i, (name, d) in enumerate(self.stages.items()):
            if name not in self.stage_curves:
                pen = pg.mkPen(STAGE_COLOURS[i % len(STAGE_COLOURS)], width=1.5)
                self.stage_curves[name] = self.ms_plot.plot(pen=pen, name=name,
                                                            connect="finite")
            self.stage_curves[name].setData(t[-len(d):], np.fromiter(d, float))
        conf = np.nan_to_num(np.stack(self.conf, axis=1), nan=0.0)  # (21, T)
        self.conf_image.setImage(conf, levels=(0.0, 1.0), autoLevels=False)
        self.conf_image.setRect(0, 0, conf.shape[1], skeleton.NUM_KEYPOINTS)
        self.conf_plot.setXRange(0, max(conf.shape[1], 50), padding=0)
        self.conf_plot.setYRange(0, skeleton.NUM_KEYPOINTS, padding=0)
        self._title_conf_plot()
        cur = self.current()
        stages = "  ".join(f"{k} {v:.1f}" for k, v in cur.items()
                           if k not in ("fps", "latency_ms", "quality") and np.isfinite(v))
        who = f"person #{self.person}" if self.person is not None else "the person"
        quality = (f"<br>{who}: expected OKS {cur['quality']:.2f} (the model's own "
                   "estimate of its accuracy)" if "quality" in cur else "")
        if self.people is not None:
            quality += (f"<br>{self.people} {'person' if self.people == 1 else 'people'} in view"
                        + (f"; the dashboard follows #{self.person} (click a person to "
                           "follow them)" if self.person is not None else ""))
        self.summary.setText(f"<b>{cur['fps']:.1f} fps</b>, capture to paint "
                             f"{cur['latency_ms']:.0f} ms<br>stages (ms): {stages or '-'}"
                             + quality)


def _small_font() -> QFont:
    f = QFont()
    f.setPixelSize(LABEL_PX)
    return f
