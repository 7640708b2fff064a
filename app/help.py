"""The shortcut sheet drawn over the view (F1 or ?); its rows come from the window's
action table (app/actions.py: help_rows)."""
from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QWidget

class HelpOverlay(QWidget):
    def __init__(self, rows, parent=None):
        super().__init__(parent)
        self.rows: list[tuple[str, str]] = list(rows)   # (keys, what)
        self.large = False
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, False)

    def mousePressEvent(self, event):  # noqa: N802
        self.hide()

    def paintEvent(self, event):  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor(0, 0, 0, 190))
        px = 26 if self.large else 16
        f = QFont(p.font())
        # shrink until the sheet fits the view
        while px > 9:
            f.setPixelSize(px)
            p.setFont(f)
            what_w = max(p.fontMetrics().horizontalAdvance(w) for _, w in self.rows)
            f.setBold(True)
            p.setFont(f)
            fm = p.fontMetrics()
            keys_w = max(fm.horizontalAdvance(k) for k, _ in self.rows) + px * 2
            f.setBold(False)
            width, row = keys_w + what_w, fm.height() * 1.35
            height = row * (len(self.rows) + 2)
            if width <= self.width() - 20 and height <= self.height() - 10:
                break
            px -= 1
        x0 = (self.width() - width) / 2
        y0 = max(5.0, (self.height() - height) / 2)
        f.setBold(True)
        p.setFont(f)
        p.setPen(QColor(255, 255, 255))
        p.drawText(QRectF(x0, y0, width, row), Qt.AlignmentFlag.AlignLeft,
                   "Keyboard shortcuts (click or Esc to close)")
        for i, (keys, what) in enumerate(self.rows):
            y = y0 + row * (i + 1.5)
            f.setBold(True)
            p.setFont(f)
            p.setPen(QColor(255, 200, 90))
            p.drawText(QRectF(x0, y, keys_w, row), Qt.AlignmentFlag.AlignLeft, keys)
            f.setBold(False)
            p.setFont(f)
            p.setPen(QColor(235, 235, 235))
            p.drawText(QRectF(x0 + keys_w, y, what_w + 4, row), Qt.AlignmentFlag.AlignLeft, what)
        p.end()
