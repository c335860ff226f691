"""What every benchmark script shares: the machine line, interleaved timing, the BENCHMARKS.md log.

Timings on a shared 2-core machine are noisy, so each script runs its baseline
and its candidate interleaved (A, B, A, B, ...), several times, and reports
medians and their ratio, together with the load average while it ran.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # `python benchmarks/<name>.py` from anywhere imports this checkout

SHARED = Path(os.environ.get("CLAPDEMO_SHARED", REPO.parent / "shared")).resolve()
os.environ.setdefault("CLAPDEMO_WEIGHTS_DIR", str(SHARED / "weights"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from clapdemo import logs  # noqa: E402 (after the path and the environment above)

logs.to_console()  # benchmark scripts are programs: the library's progress on the console, as before

LOG = REPO / "BENCHMARKS.md"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load_average() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def machine_line() -> str:
    import torch

    return (f"{cpu_model()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, torch {torch.__version__} ({torch.get_num_threads()} threads)")


def interleaved(fns: dict, repeats: int, warmup: bool = True) -> dict[str, list[float]]:
    """Seconds per call of each function, calls interleaved round-robin `repeats` times.

    The order rotates each round, so no function always runs right after the same one."""
    names = list(fns)
    if warmup:
        for name in names:
            fns[name]()
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            start = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - start)
    return times


def median(values) -> float:
    return statistics.median(values)


def verdict(ok: bool, target: str, miss: str = "") -> str:
    return f"target {target}: {'MET' if ok else 'MISSED' + (' ' + miss if miss else '')}"


def record(title: str, lines: list[str], notes: list[str] = ()) -> None:
    """Print the result and append it to BENCHMARKS.md with the machine, the date and the load."""
    block = [f"### {title}", "", f"- machine: {machine_line()}",
             f"- date: {time.strftime('%Y-%m-%d %H:%M')}; load average (1/5/15 min) at the end: {load_average()}",
             *[f"- {line}" for line in lines], *[f"- note: {n}" for n in notes], ""]
    print("\n".join(block))
    if not LOG.exists():
        LOG.write_text("# Benchmarks\n\nAppended by the scripts in `benchmarks/` (newest last). Each line is "
                       "measured in one run on one machine; ratios compare a baseline and a candidate run "
                       "interleaved in that run.\n\n")
    with LOG.open("a") as f:
        f.write("\n".join(block) + "\n")
