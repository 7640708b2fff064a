"""Soak test: the live pipeline on a looping video for many minutes, checking that it neither
leaks memory nor slows down.

    uniskel soak --source assets/media/sample_astronaut.mp4 --minutes 10

Frames go through ``engine.runtime.worker.EngineWorker`` exactly as in the app: the video is
read in a loop at its own frame rate (like a camera; ``--rate``), submitted without
blocking, and the worker keeps only the newest frame (the others count as dropped).

Measured: frames submitted / processed / dropped, frame errors, resident memory
(``VmRSS`` from ``/proc/self/status``) at launch, after the warm-up, at the end and its
peak, with a sample every 10 s; processed fps in the first and the last window (a minute,
or a third of a short run) after the warm-up; pipeline latency p50/p95; live threads.
Printed, and written as JSON (``--json``).

Exit status: 0 when memory grew at most ``--max-growth-mb`` (default 50) from after the
warm-up to the end, fps in the last window is at most ``--max-fps-drop`` (default 25%)
below the first, and the worker never gave up; 1 otherwise; 2 for a bad source or model.
"""
from __future__ import annotations

import os
import threading
import time

RSS_SAMPLE_S = 10.0


def rss_mb(field: str = "VmRSS") -> float | None:
    """This process's resident memory in MB (``VmHWM`` for the peak); None off Linux."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def thread_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))  # native threads too (ONNX Runtime, Qt)
    except OSError:
        return threading.active_count()


def windows(seconds: float, warmup_s: float) -> tuple[float, float]:
    """(warm-up, window) lengths for a run of ``seconds``: a minute-long window, or a
    third of what follows the warm-up in a short run."""
    warmup = min(warmup_s, 0.1 * seconds)
    return warmup, min(60.0, max(seconds - warmup, 0.0) / 3.0)


def verdict(report: dict, max_growth_mb: float, max_fps_drop: float) -> list[str]:
    """The reasons a soak report fails its limits (empty: it passed)."""
    problems = []
    growth = report["rss_mb"].get("growth")
    if growth is not None and growth > max_growth_mb:
        problems.append(f"memory grew {growth:.1f} MB (limit {max_growth_mb:g} MB)")
    first, last = report["fps"]["first"], report["fps"]["last"]
    if first <= 0:
        problems.append("no frame was processed in the first window")
    elif last < (1.0 - max_fps_drop) * first:
        problems.append(f"fps fell from {first:.1f} to {last:.1f} "
                        f"({100 * (1 - last / first):.0f}%, limit {100 * max_fps_drop:.0f}%)")
    if report["worker"]["state"] == "failed":
        problems.append(f"the engine gave up: {report['worker']['reason']}")
    return problems


def soak(source_spec, backend, seconds: float, rate: float | None = None,
         warmup_s: float = 15.0, max_people: int = 1, progress=None) -> dict:
    """Run ``backend`` through Pipeline + EngineWorker on the looping source for
    ``seconds``; returns the report (without the verdict)."""
    from array import array

    import numpy as np

    from uniskel.engine.runtime.pipeline import Pipeline
    from uniskel.engine.media.playback import play
    from uniskel.engine.media.sources import open_source
    from uniskel.engine.runtime.worker import EngineWorker

    rss_launch = rss_mb()
    source = open_source(source_spec, loop=True)
    rate = source.fps if rate is None else float(rate)
    warmup, window = windows(seconds, warmup_s)
    n_buckets = int(seconds) + 2
    done_per_s = [0] * n_buckets               # results finished in each second of the run
    latencies = array("f")                    # pipeline ms per processed frame (4 B each)
    lock = threading.Lock()
    t0 = time.monotonic()

    def on_result(result):
        k = int(time.monotonic() - t0)
        with lock:
            if k < n_buckets:
                done_per_s[k] += 1
            latencies.append(result.total_ms)

    pipeline = Pipeline(backend, smoothing=True, max_people=max_people, keep_frame=False)
    worker = EngineWorker(pipeline, on_result=on_result, name="uniskel-soak")
    samples, rss_start, threads_start = [], None, None
    source_error = None
    try:
        # as the app does before its first frame: load the detector, warm the backend
        backend.warmup()
        try:
            pipeline.process(next(iter(play(source)))[0], 0.0)
        except Exception:  # noqa: BLE001 - the timed run counts and reports failures
            pass
        pipeline.reset()
        worker.start()
        t0 = time.monotonic()
        next_sample, next_frame = 0.0, 0.0
        try:
            for frame, _, _ in play(source):
                now = time.monotonic() - t0
                if now >= seconds or worker.state == "failed":
                    break
                if rss_start is None and now >= warmup:
                    rss_start, threads_start = rss_mb(), thread_count()
                if now >= next_sample:
                    samples.append([round(now, 1), rss_mb()])
                    next_sample += RSS_SAMPLE_S
                    if progress is not None:
                        progress(now, worker.stats())
                worker.submit(frame, now)
                if rate > 0:
                    next_frame += 1.0 / rate
                    delay = next_frame - (time.monotonic() - t0)
                    if delay > 0:
                        time.sleep(delay)
                    elif delay < -1.0:  # decoding fell behind: do not try to catch up
                        next_frame = time.monotonic() - t0
        except Exception as exc:  # the source broke (a UniskelError says how)
            source_error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        elapsed = time.monotonic() - t0
        rss_end, rss_peak, threads_end = rss_mb(), rss_mb("VmHWM"), thread_count()
    finally:
        worker.stop()
        pipeline.close()
        source.close()
    stats = worker.stats()
    samples.append([round(elapsed, 1), rss_end])
    if rss_start is None:
        rss_start = rss_end

    def fps_between(a: float, b: float) -> float:
        lo, hi = int(a), max(int(a) + 1, int(b))
        with lock:
            n = sum(done_per_s[lo:hi])
        return n / (hi - lo)

    first = fps_between(warmup, warmup + window)
    last = fps_between(elapsed - window, elapsed)
    lat = np.asarray(latencies, dtype=np.float64)
    return {
        "source": str(source_spec),
        "backend": backend.name,
        "description": getattr(backend, "description", "") or backend.name,
        "seconds": round(elapsed, 1),
        "rate": round(rate, 2),
        "frames_submitted": stats.submitted,
        "frames_processed": stats.processed,
        "frames_dropped": stats.dropped,
        "errors": stats.errors,
        "source_error": source_error,
        "worker": {"state": worker.state, "reason": worker.reason},
        "rss_mb": {
            "launch": round1(rss_launch), "start": round1(rss_start), "end": round1(rss_end),
            "peak": round1(rss_peak), "after_stop": round1(rss_mb()),
            "growth": round1(rss_end - rss_start) if rss_end is not None and rss_start is not None
            else None,
        },
        "rss_samples": [[t, round1(m)] for t, m in samples],
        "fps": {"first": round(first, 2), "last": round(last, 2),
                "overall": round(stats.processed / elapsed, 2) if elapsed > 0 else 0.0,
                "window_s": round(window, 1), "warmup_s": round(warmup, 1)},
        "latency_ms": {"p50": round(float(np.percentile(lat, 50)), 2) if lat.size else None,
                       "p95": round(float(np.percentile(lat, 95)), 2) if lat.size else None},
        "threads": {"start": threads_start, "end": threads_end},
        "machine": {"cpus": os.cpu_count(), "pid": os.getpid()},
    }


def round1(v):
    return None if v is None else round(float(v), 1)
