"""Rebuild uniskel.png / uniskel.ico: a 21-keypoint stick figure in the skeleton's colours.

Run from the project root:  QT_QPA_PLATFORM=offscreen .venv/bin/python assets/icons/make_icon.py
"""
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPen

from uniskel.engine import skeleton
from uniskel.engine.draw import edges_for

HERE = Path(__file__).resolve().parent
# a standing figure, arms raised, in a 100 x 100 box (x, y)
POSE = {
    "nose": (50, 20), "left_eye": (53, 17), "right_eye": (47, 17), "left_ear": (57, 19),
    "right_ear": (43, 19), "left_shoulder": (62, 33), "right_shoulder": (38, 33),
    "left_elbow": (75, 22), "right_elbow": (25, 22), "left_wrist": (82, 8),
    "right_wrist": (18, 8), "left_hip": (58, 60), "right_hip": (42, 60), "left_knee": (64, 76),
    "right_knee": (36, 76), "left_ankle": (68, 93), "right_ankle": (32, 93),
    "pelvis": (50, 60), "thorax": (50, 33), "upper_neck": (50, 28), "head_top": (50, 7),
}


def render(size: int) -> QImage:
    img = QImage(size, size, QImage.Format.Format_ARGB32)
    img.fill(Qt.GlobalColor.transparent)
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = size / 100.0
    p.setBrush(QColor(24, 26, 32))
    p.setPen(Qt.PenStyle.NoPen)
    p.drawRoundedRect(QRectF(0, 0, size, size), 18 * s, 18 * s)
    pts = [QPointF(*POSE[n]) * s for n in skeleton.KEYPOINTS]
    for a, b, rgb in edges_for("all"):
        if a <= 4 and b <= 4:
            continue  # the face is too small to draw at icon size
        p.setPen(QPen(QColor(*rgb), 5.5 * s, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        p.drawLine(pts[a], pts[b])
    p.setPen(Qt.PenStyle.NoPen)
    for i in (0, *range(5, 21)):
        p.setBrush(QColor(*skeleton.KEYPOINT_COLORS[i]))
        r = (6.5 if i == 0 else 3.6) * s
        p.drawEllipse(pts[i], r, r)
    p.end()
    return img


def main() -> None:
    app = QGuiApplication([])  # noqa: F841 - QPainter text/antialiasing needs one
    render(256).save(str(HERE / "uniskel.png"))
    render(64).save(str(HERE / "uniskel.ico"))  # small: Qt writes uncompressed ICO
    print("wrote", HERE / "uniskel.png", HERE / "uniskel.ico")


if __name__ == "__main__":
    main()
