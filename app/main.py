"""Opening the live window and running it until it closes (``uniskel demo``, whose
command line is commands/demo.py).

Light at import time: Qt, OpenCV and the engine are imported inside ``run``.
"""
from __future__ import annotations

import os
import signal
import sys


def prepare_qt_environment() -> None:
    """opencv-contrib (pulled in by mediapipe) points Qt at its own plugins; undo that
    before QApplication exists, or PySide6 loads the wrong platform plugin."""
    import cv2  # noqa: F401 - importing cv2 is what sets the variable
    os.environ.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)


def stop_on_signals(app, window, result: dict) -> None:
    """Ctrl+C, SIGTERM and SIGHUP close the window as its Quit does (a recording finished
    and playable, settings saved) and end ``app.exec()``; ``result["signum"]`` says which.
    Python runs signal handlers only between bytecodes, so a timer gives it a turn while
    Qt's event loop runs."""
    from PySide6.QtCore import QTimer

    from uniskel.engine.errors import STOP_SIGNALS

    def stop(signum, _frame):
        if not result.get("signum"):
            result["signum"] = signum
            QTimer.singleShot(0, lambda: (window.close(), app.quit()))

    for signum in STOP_SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:  # nohup: leave it ignored
            signal.signal(signum, stop)
    tick = QTimer(app)
    tick.timeout.connect(lambda: None)
    tick.start(200)


def run(source: str | None = None, backend: str | None = None, model: str | None = None,
        quit_after: float | None = None, screenshot: str | None = None,
        presenter: bool = False) -> int:
    """Show the window on ``source`` (default: the first camera, else the bundled video)
    until the user closes it, or for ``quit_after`` seconds (saving ``screenshot`` just
    before); the exit code. Everything of ours is stopped and released on return."""
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

    window = MainWindow(model_path=model)
    if backend:
        window.settings.backend = backend
    window.show()
    if presenter:
        window.set_presenter(True)
    window.open_path(source or window.default_source())

    result = {"code": 0}
    stop_on_signals(app, window, result)
    if quit_after is not None:
        def finish():
            if screenshot:
                if not window.grab().save(screenshot):
                    print(f"uniskel demo: error: cannot write {screenshot}",
                          file=sys.stderr)
                    result["code"] = 2
            window.close()
            app.quit()
        QTimer.singleShot(int(quit_after * 1000), finish)
    code = app.exec()
    if result.get("signum"):
        name = signal.Signals(result["signum"]).name
        print(f"uniskel demo: interrupted by {name}; the window closed as on quit "
              f"(recordings finished)", file=sys.stderr)
        result["code"] = 128 + result["signum"]
    # Tear the window down (threads stopped, camera and models released) while Python
    # is fully alive, rather than in the interpreter's final garbage collection.
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    window = None
    gc.collect()
    # A backend still loading (the window closed within seconds of opening) finishes
    # first; the caller then ends the process at once (commands/demo.py: end_process).
    engine_bridge.wait_for_background(10.0)
    return result["code"] or int(code)
