"""``uniskel demo``: the live window on a camera, a video or an image.

Light at import time (the CLI imports every subcommand for ``--help``): Qt, OpenCV and
the engine are imported inside ``run``.
"""
from __future__ import annotations

import argparse
import os
import sys



def add_arguments(parser: argparse.ArgumentParser) -> None:
    from uniskel.engine.backends import CHOICES

    parser.add_argument("--source", metavar="camera:N|PATH",
                        help="camera number or a video/image file (default: the first camera, "
                             "else the bundled sample video)")
    parser.add_argument("--backend", choices=CHOICES, default=None,
                        help="inference backend (default: the one used last, else auto)")
    parser.add_argument("--model", metavar="PATH",
                        help="student model (.pt or .onnx; default: the bundled one)")
    parser.add_argument("--quit-after", type=float, metavar="SECONDS",
                        help="close the window after this many seconds (demos, smoke tests)")
    parser.add_argument("--screenshot", metavar="FILE.png",
                        help="with --quit-after: save what the window showed just before closing")
    parser.add_argument("--presenter", action="store_true",
                        help="start in presenter mode (full screen, large status line)")


def prepare_qt_environment() -> None:
    """opencv-contrib (pulled in by mediapipe) points Qt at its own plugins; undo that
    before QApplication exists, or PySide6 loads the wrong platform plugin."""
    import cv2  # noqa: F401 - importing cv2 is what sets the variable
    os.environ.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)


def run(args: argparse.Namespace) -> int:
    from uniskel.engine.errors import UniskelError
    if args.screenshot and args.quit_after is None:
        raise UniskelError("--screenshot needs --quit-after SECONDS (when to take it)")
    if args.quit_after is not None and args.quit_after < 0:
        raise UniskelError("--quit-after must be zero or more seconds")
    prepare_qt_environment()

    import gc

    from PySide6.QtCore import QCoreApplication, QEvent, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("uniskel")
    app.setApplicationName("demo")
    from uniskel.app import engine_bridge, qtfix
    app._uniskel_guard = qtfix.install(app)  # lives as long as the application
    from uniskel.app.window import MainWindow

    window = MainWindow(model_path=args.model)
    if args.backend:
        window.settings.backend = args.backend
    window.show()
    if args.presenter:
        window.set_presenter(True)
    window.open_path(args.source or window.default_source())

    result = {"code": 0}
    if args.quit_after is not None:
        def finish():
            if args.screenshot:
                if not window.grab().save(args.screenshot):
                    print(f"uniskel demo: error: cannot write {args.screenshot}",
                          file=sys.stderr)
                    result["code"] = 2
            window.close()
            app.quit()
        QTimer.singleShot(int(args.quit_after * 1000), finish)
    code = app.exec()
    # Tear the window down (threads stopped, camera and models released) while Python
    # is fully alive, rather than in the interpreter's final garbage collection.
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    window = None
    gc.collect()
    # A backend still loading (the window closed within seconds of opening) finishes
    # first; then the process ends without C++ static destructors, which can race with
    # threads that native libraries (Qt Multimedia's FFmpeg backend, ONNX Runtime,
    # mediapipe) leave behind and abort an otherwise clean exit. Everything of ours is
    # already stopped, written and synced above.
    engine_bridge.wait_for_background(10.0)
    return end_process(result["code"] or int(code))


def end_process(code: int) -> int:
    """Flush what Python buffers, then end this process at once with ``code`` (see the
    end of ``run``)."""
    import logging
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    from uniskel.commands import stop_filtering
    stop_filtering()  # pass on every line still in the native log filter
    os._exit(code)
