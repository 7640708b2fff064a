"""What the views show: the overlay options (subset, threshold, width, names, colours,
mirror), how many people and whom the dashboard follows, the engines' newest results
into the views, and each painted frame's numbers into the dashboard.

Results reach the views as the bridges' newest-frame-wins slot allows (``take_latest``);
a view reports a frame it has painted with ``painted(tag)``, which is when the
capture-to-paint latency is measured.
"""
from __future__ import annotations

import time
from dataclasses import replace

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QLabel, QSlider, QSpinBox

from uniskel.app.overlay import OverlayOptions


class DisplayController(QObject):
    options_changed = Signal(object)   # a fresh OverlayOptions (a copy, safe to keep)

    def __init__(self, window):
        super().__init__(window)
        self.w = window
        self.followed_id: int | None = None  # the person the dashboard follows
        self.last_result = None              # (packet, FrameResult or None) shown last

        self.threshold = QSlider(Qt.Orientation.Horizontal)
        self.threshold.setRange(0, 100)
        self.threshold.setFixedWidth(110)
        self.threshold.setToolTip("hide keypoints below this confidence ([ and ])")
        self.threshold.valueChanged.connect(self._threshold_changed)
        self.threshold_label = QLabel("0.30")
        self.threshold_label.setMinimumWidth(32)
        self.width_spin = QSpinBox()
        self.width_spin.setRange(1, 12)
        self.width_spin.setToolTip("line width (- and +)")
        self.width_spin.valueChanged.connect(self._width_changed)
        self.people_spin = QSpinBox()
        self.people_spin.setRange(1, 20)
        self.people_spin.setToolTip("the most people shown at once (all of them up to this); "
                                    "P follows only one")
        self.people_spin.valueChanged.connect(self._people_cap_changed)

        window.engine.result_ready.connect(self._show_result)
        window.compare_engine.result_ready.connect(self._show_compare_result)
        window.view.painted.connect(self._on_painted)
        window.view.clicked.connect(self.follow_at)

    def apply_settings(self) -> None:
        s, actions = self.w.settings, self.w.action
        actions[f"subset_{s.subset}"].setChecked(True)
        self.threshold.setValue(round(s.threshold * 100))
        self.width_spin.setValue(s.line_width)
        actions["names"].setChecked(s.show_names)
        actions["mirror"].setChecked(s.mirror)
        actions["colours"].setChecked(True)
        actions["one_person"].setChecked(s.one_person)
        self.people_spin.setValue(s.max_people)
        self.w.engine.max_people = 1 if s.one_person else s.max_people
        actions["dashboard"].setChecked(s.dashboard)
        self.w.dock.setVisible(s.dashboard)
        self.push_options()

    # --- overlay options -------------------------------------------------------------
    def options(self) -> OverlayOptions:
        return self.w.view.options

    def push_options(self) -> None:
        s = self.w.settings
        opts = OverlayOptions(subset=s.subset, threshold=s.threshold, show_names=s.show_names,
                              line_width=s.line_width, mirror=s.mirror,
                              side_colours=self.w.action["colours"].isChecked(),
                              followed=self.followed_id)
        self.w.view.set_options(opts)
        self.w.compare_view.set_options(replace(opts))
        self.options_changed.emit(replace(opts))

    def set_subset(self, key: str) -> None:
        self.w.settings.subset = key
        action = self.w.action[f"subset_{key}"]
        if not action.isChecked():
            action.setChecked(True)
        self.push_options()

    def set_names(self, on) -> None:
        self.w.settings.show_names = bool(on)
        self.push_options()

    def set_mirror(self, on) -> None:
        self.w.settings.mirror = bool(on)
        self.push_options()

    def set_colours(self, on) -> None:
        self.push_options()

    def _threshold_changed(self, v) -> None:
        self.w.settings.threshold = v / 100.0
        self.threshold_label.setText(f"{v / 100:.2f}")
        self.push_options()

    def _width_changed(self, v) -> None:
        self.w.settings.line_width = int(v)
        self.push_options()

    def nudge_width(self, d: int) -> None:
        self.width_spin.setValue(self.width_spin.value() + d)

    def nudge_threshold(self, d: float) -> None:
        self.threshold.setValue(self.threshold.value() + round(d * 100))

    def set_dashboard(self, on) -> None:
        self.w.settings.dashboard = bool(on)
        if not self.w.presenting:
            self.w.dock.setVisible(bool(on))

    # --- people ----------------------------------------------------------------------
    def set_one_person(self, on) -> None:
        """One person (the most prominent, for a presenter) or everyone up to the cap."""
        s = self.w.settings
        s.one_person = bool(on)
        self.w.engine.max_people = 1 if on else s.max_people
        self.w.statusBar().showMessage(
            "following the most prominent person" if on else
            f"showing everyone in the frame (up to {s.max_people})", 3000)

    def _people_cap_changed(self, v) -> None:
        self.w.settings.max_people = int(v)
        if not self.w.settings.one_person:
            self.w.engine.max_people = int(v)

    def follow_at(self, x: float, y: float) -> None:
        """A click on the view (frame pixels): the dashboard follows the person whose box
        is nearest to it (0 inside a box)."""
        people = self.w.view.people
        if not people:
            return

        def distance(p):
            x0, y0, x1, y1 = p.box
            dx, dy = max(x0 - x, 0.0, x - x1), max(y0 - y, 0.0, y - y1)
            return dx * dx + dy * dy

        self.followed_id = min(people, key=distance).track_id
        self.push_options()
        self.w.statusBar().showMessage(f"dashboard follows person #{self.followed_id}", 3000)

    def followed_person(self, people):
        """The person the dashboard shows: the one clicked on while visible, else the most
        prominent (largest box)."""
        for p in people:
            if p.track_id == self.followed_id:
                return p
        if not people:
            return None
        return max(people, key=lambda p: (p.box[2] - p.box[0]) * (p.box[3] - p.box[1]))

    # --- results into the views, painted frames into the dashboard ---------------------
    def reset(self) -> None:
        """A new source: empty views and dashboard."""
        self.w.dashboard.reset()
        self.w.view.set_frame(None)
        self.w.compare_view.set_frame(None)

    def _show_result(self) -> None:
        item = self.w.engine.take_latest()
        if item is None or self.w.closing:
            return
        packet, result = item
        self.last_result = item
        self.w.view.set_frame(packet.frame, result.people if result is not None else [],
                              tag=item)

    def _show_compare_result(self) -> None:
        item = self.w.compare_engine.take_latest()
        if item is None or self.w.closing:
            return
        packet, result = item
        self.w.compare_view.set_frame(packet.frame,
                                      result.people if result is not None else [])

    def _on_painted(self, tag) -> None:
        if tag is None:
            return
        packet, result = tag
        if result is None:
            return
        latency = (time.monotonic() - packet.captured) * 1000.0
        first = self.followed_person(result.people)
        self.w.dashboard.add(latency, dict(result.stages_ms),
                             first.keypoints if first else None,
                             first.quality if first else None,
                             person=first.track_id if first else None,
                             people=len(result.people))
