"""Entry script of the frozen ``uniskel`` (build.spec): the same as the ``uniskel`` command.

``UNISKEL_STARTUP_REPORT=<epoch seconds>`` (set by scripts/build_bundle.sh, never needed
otherwise) prints a line to stderr when the demo window first paints a video frame, and
another when it first paints a skeleton on one (the backend is loaded and has found a
person): ``uniskel: first frame painted N.NN s after launch``, counted from the given launch time
(``date +%s.%N`` just before starting the binary), so it includes the bootloader, Python
start-up, imports, the backend load and the first inference.
"""
import multiprocessing
import os
import sys
import time


def _startup_report(launched: float) -> None:
    from uniskel.app import overlay

    paint = overlay.OverlayView.paintEvent
    seen = set()

    def report(what: str) -> None:
        seen.add(what)
        print(f"uniskel: first {what} painted {time.time() - launched:.2f} s after launch",
              file=sys.stderr, flush=True)

    def paint_and_report(self, event):  # noqa: N802 (Qt name)
        paint(self, event)
        if self.painted and "frame" not in seen:
            report("frame")
        if any(self.last_drawn) and "skeleton" not in seen:
            report("skeleton")

    overlay.OverlayView.paintEvent = paint_and_report


def main() -> int:
    multiprocessing.freeze_support()  # DataLoader workers under `uniskel train` / `eval`
    launched = os.environ.get("UNISKEL_STARTUP_REPORT")
    if launched:
        _startup_report(float(launched))
    from uniskel.commands import console_main as cli_main

    try:
        return cli_main()
    except ModuleNotFoundError as exc:
        if getattr(sys, "frozen", False) and (exc.name or "").split(".")[0] == "torch":
            # the ONNX-only bundle (UNISKEL_BUNDLE_TORCH=0 in build.spec)
            print("uniskel: this build has no PyTorch (ONNX-only): use --backend onnx or "
                  "mediapipe; train/eval/export and .pt models need the full build",
                  file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
