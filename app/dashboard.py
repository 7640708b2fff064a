"""Live numbers (pyqtgraph): frames per second, capture-to-paint latency, the engine's
per-stage times, each keypoint's confidence over time, and (for a model that has one) the
first person's expected accuracy, its quality estimate (engine/quality.py).

Results are appended as they are painted (cheap: a few deque appends); the plots
redraw on their own timer a few times a second so the dashboard never sets the pace.
"""
from __future__ import annotations

import time
from collections import deque

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, QTimer
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from uniskel.engine import skeleton

HISTORY = 300       # samples kept per series
STAGE_COLOURS = ("#ffb000", "#5ab4ff", "#7ee07e", "#ff6e6e", "#c48bff", "#e0e0e0")


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
        plots = pg.GraphicsLayoutWidget()
        layout.addWidget(plots, 1)

        self.fps_plot = plots.addPlot(row=0, col=0, title="frames per second")
        self.fps_curve = self.fps_plot.plot(pen=pg.mkPen("#7ee07e", width=2))
        self.ms_plot = plots.addPlot(row=1, col=0, title="milliseconds per frame")
        self.ms_plot.addLegend(offset=(-5, 5), labelTextSize="7pt", brush=(22, 22, 26, 200))
        self.latency_curve = self.ms_plot.plot(pen=pg.mkPen("#ffffff", width=2),
                                               name="capture to paint")
        self.stage_curves: dict[str, pg.PlotDataItem] = {}
        self.conf_plot = plots.addPlot(row=2, col=0, title="keypoint confidence (followed person)")
        self.conf_image = pg.ImageItem(axisOrder="row-major")
        self.conf_image.setColorMap(pg.colormap.get("viridis"))
        self.conf_plot.addItem(self.conf_image)
        self.conf_plot.invertY(True)
        self.conf_plot.setYRange(0, skeleton.NUM_KEYPOINTS, padding=0)
        self.conf_plot.setXRange(0, 50, padding=0)
        self.conf_plot.setMouseEnabled(x=False, y=False)
        self.conf_plot.setLabel("bottom", "frames")
        self.conf_plot.getAxis("left").setTicks(
            [[(i + 0.5, name) for i, name in enumerate(skeleton.KEYPOINTS)]])
        self.conf_plot.getAxis("left").setStyle(tickFont=_small_font())
        for p in (self.fps_plot, self.ms_plot):
            p.showGrid(x=True, y=True, alpha=0.2)
            p.setLabel("bottom", "s")
        plots.ci.layout.setRowStretchFactor(2, 2)

        self.timer = QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(refresh_ms)

    def sizeHint(self):  # noqa: N802 - the frame view, not the plots, gets the space
        return QSize(360, 480)

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


def _small_font():
    from PySide6.QtGui import QFont
    f = QFont()
    f.setPixelSize(9)
    return f
