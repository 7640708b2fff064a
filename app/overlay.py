"""The frame view: a video frame with the skeleton painted over it by QPainter.

``paint_people`` draws the window and the compare view at screen scale; it returns the
keypoint indices it drew, which is what the tests check. What is written to disk
(recordings, snapshots, ``uniskel infer``) is drawn by ``engine.media.draw.render`` with the
same rules (which points and edges, which colours: ``visible_points``, ``edges_for``,
``person_colour``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import QWidget

from uniskel.engine import skeleton
from uniskel.engine.media.draw import edges_for, person_colour, visible_points

SINGLE_COLOUR = (80, 230, 120)


@dataclass
class OverlayOptions:
    subset: str = "all"          # a key of skeleton.SUBSETS
    threshold: float = skeleton.DRAW_THRESHOLD
    show_names: bool = False
    line_width: int = 3
    mirror: bool = False
    side_colours: bool = True    # left warm / right cool; off: one colour per person
    show_ids: bool = True        # each person's id beside their head, in their colour
    followed: int | None = None  # the person the dashboard follows (drawn a little bolder)


def visible_edges(points: list[int], subset: str) -> list[tuple[int, int, tuple]]:
    """(a, b, rgb) of the subset's edges (the same rule as ``uniskel infer``'s drawing:
    engine.media.draw.edges_for) whose two ends are both visible."""
    shown = set(points)
    return [(a, b, c) for a, b, c in edges_for(subset) if a in shown and b in shown]


def numpy_to_qimage(frame: np.ndarray) -> QImage:
    """RGB uint8 (H, W, 3) -> a QImage that owns its own copy of the pixels."""
    frame = np.ascontiguousarray(frame)
    h, w = frame.shape[:2]
    return QImage(frame.data, w, h, frame.strides[0], QImage.Format.Format_RGB888).copy()


def qimage_to_numpy(image: QImage) -> np.ndarray:
    """QImage -> RGB uint8 (H, W, 3), a copy."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h = image.width(), image.height()
    buf = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.sizeInBytes())
    return buf.reshape(h, image.bytesPerLine())[:, : w * 3].reshape(h, w, 3).copy()


def paint_people(painter: QPainter, people, opts: OverlayOptions, scale: float = 1.0,
                 offset=(0.0, 0.0), frame_width: float = 0.0) -> list[list[int]]:
    """Draw each person's skeleton; frame pixel (x, y) lands at offset + scale * (x, y),
    mirrored about the frame's width when ``opts.mirror``. Returns the drawn indices."""
    ox, oy = offset
    lw = max(1, int(opts.line_width))
    radius = lw + 1.5
    drawn = []
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    font = QFont(painter.font())
    font.setPixelSize(max(10, 4 * lw + 3))
    painter.setFont(font)

    for person in people:
        tid = getattr(person, "track_id", None)
        own = person_colour(tid) if tid is not None else SINGLE_COLOUR

        def colour(rgb):
            return QColor(*(rgb if opts.side_colours else own))

        k = np.asarray(person.keypoints, dtype=np.float64)
        xs = frame_width - k[:, 0] if opts.mirror else k[:, 0]
        pts = [QPointF(ox + scale * x, oy + scale * y) for x, y in zip(xs, k[:, 1])]
        points = visible_points(k, opts.subset, opts.threshold)
        for a, b, rgb in visible_edges(points, opts.subset):
            painter.setPen(QPen(colour(rgb), lw, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
            painter.drawLine(pts[a], pts[b])
        # the dot outlines carry the person's own colour, so ids stay apparent with
        # left/right colours on
        painter.setPen(QPen(QColor(*own) if tid is not None else QColor(20, 20, 20),
                            2 if tid is not None and tid == opts.followed else 1))
        for i in points:
            painter.setBrush(colour(skeleton.KEYPOINT_COLORS[i]))
            painter.drawEllipse(pts[i], radius, radius)
        if opts.show_ids and tid is not None and points:
            top = min(points, key=lambda i: pts[i].y())
            at = pts[top] + QPointF(-radius, -2 * radius - 2)
            at.setY(max(at.y(), oy + font.pixelSize()))  # a head at the top: still shown
            _outlined_text(painter, at, f"#{tid}", QColor(*own))
        if opts.show_names:
            for i in points:
                _outlined_text(painter, pts[i] + QPointF(radius + 2, -radius),
                               skeleton.KEYPOINTS[i])
        painter.setBrush(Qt.BrushStyle.NoBrush)
        drawn.append(points)
    return drawn


def _outlined_text(painter: QPainter, at: QPointF, text: str, colour=QColor(255, 255, 255)):
    painter.setPen(QColor(0, 0, 0))
    for dx, dy in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        painter.drawText(at + QPointF(dx, dy), text)
    painter.setPen(colour)
    painter.drawText(at, text)


def render_annotated(frame: np.ndarray, people, opts: OverlayOptions) -> QImage:
    """The annotated frame at its own resolution (for snapshots and recordings).

    QPainter on a QImage is safe outside the GUI thread, so the recorder calls this in
    its writer thread."""
    image = numpy_to_qimage(frame[:, ::-1] if opts.mirror else frame)
    painter = QPainter(image)
    try:
        paint_people(painter, people, opts, frame_width=frame.shape[1])
    finally:
        painter.end()
    return image


class OverlayView(QWidget):
    """Shows the latest processed frame with its skeletons, plus status text.

    ``set_frame(frame, people, tag)`` shows a frame; when it has first been painted the
    view emits ``painted(tag)`` (once per frame: the window times capture-to-paint from
    it). A left click on the frame emits ``clicked(x, y)`` in frame pixels."""

    painted = Signal(object)         # the tag of a newly set frame, once it is on screen
    clicked = Signal(float, float)   # a left click, in frame pixels (mirror-aware)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.options = OverlayOptions()
        self.setMinimumSize(160, 120)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self._image: QImage | None = None
        self._frame_size = (0, 0)    # (w, h)
        self._people = []
        self.title = ""              # top-left caption (compare view: backend and speed)
        self.status = ""             # bottom status line (large in presenter mode)
        self.banner = ""             # centred message: errors, "camera disconnected"
        self.placeholder = "No source. Open a camera or a file, or drop a video here."
        self.large_text = False      # presenter mode
        self.last_drawn: list[list[int]] = []
        self.frames_painted = 0      # frames set with set_frame that reached the screen
        self._unpainted = False      # a frame was set and has not been painted yet
        self._tag = None             # what painted() carries for the frame shown

    # --- content -------------------------------------------------------------------
    def set_frame(self, frame: np.ndarray | None, people=(), tag=None) -> None:
        """Show ``frame`` with ``people``; ``tag`` comes back with ``painted``. A frame
        replaced before it was painted is never painted (nor reported)."""
        if frame is None:
            self._image, self._frame_size = None, (0, 0)
        else:
            self._image = numpy_to_qimage(frame)
            self._frame_size = (frame.shape[1], frame.shape[0])
        self._people = list(people)
        self._unpainted, self._tag = frame is not None, tag
        self.update()

    @property
    def people(self) -> list:
        """The people drawn now."""
        return list(self._people)

    def set_people(self, people) -> None:
        self._people = list(people)
        self.update()

    def set_options(self, options: OverlayOptions) -> None:
        self.options = options
        self.update()

    def set_text(self, *, title=None, status=None, banner=None) -> None:
        if title is not None:
            self.title = title
        if status is not None:
            self.status = status
        if banner is not None:
            self.banner = banner
        self.update()

    def has_frame(self) -> bool:
        return self._image is not None

    def to_frame(self, wx: float, wy: float):
        """Widget point -> frame pixel (mirror-aware), or None outside the frame."""
        r = self.image_rect()
        if r.isEmpty() or not r.contains(QPointF(wx, wy)):
            return None
        s = r.width() / self._frame_size[0]
        x, y = (wx - r.x()) / s, (wy - r.y()) / s
        if self.options.mirror:
            x = self._frame_size[0] - x
        return x, y

    def mousePressEvent(self, event):  # noqa: N802 (Qt name)
        at = self.to_frame(event.position().x(), event.position().y())
        if at is not None and event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(*at)
        super().mousePressEvent(event)

    # --- painting ------------------------------------------------------------------
    def image_rect(self) -> QRectF:
        """Where the frame lands in the widget (aspect kept, centred)."""
        fw, fh = self._frame_size
        if not fw or not fh:
            return QRectF()
        s = min(self.width() / fw, self.height() / fh)
        w, h = fw * s, fh * s
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paintEvent(self, event):  # noqa: N802 (Qt name)
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(18, 18, 22))
        if self._image is not None:
            r = self.image_rect()
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            image = self._image.mirrored(True, False) if self.options.mirror else self._image
            p.drawImage(r, image)
            s = r.width() / self._frame_size[0]
            p.setClipRect(r)  # points predicted outside the frame stay off the margins
            self.last_drawn = paint_people(p, self._people, self.options, s,
                                           (r.x(), r.y()), self._frame_size[0])
            p.setClipping(False)
        else:
            self.last_drawn = []
            if not self.banner:
                self._centred_text(p, self.placeholder, QColor(170, 170, 180), 0.5)
        self._captions(p)
        p.end()
        if self._unpainted and self._image is not None:
            self._unpainted = False
            self.frames_painted += 1
            self.painted.emit(self._tag)

    def _font(self, p: QPainter, px: int, bold=False) -> None:
        f = QFont(p.font())
        f.setPixelSize(px)
        f.setBold(bold)
        p.setFont(f)

    def _centred_text(self, p: QPainter, text: str, colour: QColor, y_frac: float) -> None:
        self._font(p, 34 if self.large_text else 17, bold=True)
        r = QRectF(20, 0, self.width() - 40, self.height())
        box = p.boundingRect(r, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)
        box.moveCenter(QPointF(self.width() / 2, self.height() * y_frac))
        p.fillRect(box.adjusted(-14, -10, 14, 10), QColor(0, 0, 0, 170))
        p.setPen(colour)
        p.drawText(box, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)

    def _captions(self, p: QPainter) -> None:
        if self.title:
            lines = self.title.splitlines()
            self._font(p, 22 if self.large_text else 14, bold=True)
            fm = p.fontMetrics()
            y = 10 + fm.ascent()
            for i, line in enumerate(lines):
                if i == 1:
                    self._font(p, 18 if self.large_text else 12, bold=False)
                    fm = p.fontMetrics()
                _outlined_text(p, QPointF(10, y), fm.elidedText(
                    line, Qt.TextElideMode.ElideRight, max(self.width() - 20, 20)))
                y += fm.height()
        if self.banner:
            self._centred_text(p, self.banner, QColor(255, 200, 90), 0.18)
        if self.status:
            px = max(26, self.height() // 24) if self.large_text else 13
            self._font(p, px, bold=self.large_text)
            # shrink until the whole line fits: a presenter's status must be readable in full
            while px > 12 and p.fontMetrics().horizontalAdvance(self.status) > self.width() - 24:
                px -= 2
                self._font(p, px, bold=self.large_text)
            h = p.fontMetrics().height() + 12
            band = QRectF(0, self.height() - h, self.width(), h)
            p.fillRect(band, QColor(0, 0, 0, 160))
            p.setPen(QColor(235, 235, 235))
            p.drawText(band.adjusted(12, 0, -12, 0),
                       Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, self.status)
