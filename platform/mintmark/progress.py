"""Progress of a long command: a tqdm bar on a terminal, plain lines otherwise.

tqdm redraws one line with carriage returns, which in a log file or a pipe reads as nothing for
minutes and then one unreadable line; an operator tailing `make run > log` needs whole lines."""

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO

from tqdm import tqdm

LINE_EVERY_S = 10.0


def progress(
    items: Iterable, *, desc: str, unit: str, stream: TextIO | None = None, every_s=LINE_EVERY_S
) -> Iterable:
    stream = stream or sys.stderr
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return tqdm(items, desc=desc, unit=unit, file=stream)
    return _progress_lines(items, desc=desc, unit=unit, stream=stream, every_s=every_s)


def _progress_lines(items, *, desc, unit, stream, every_s) -> Iterator:
    total = len(items) if hasattr(items, "__len__") else None
    start = last = time.monotonic()

    def say(done: int) -> None:
        of = f"/{total:,}" if total is not None else ""
        percent = f" ({100 * done / total:.0f} %)" if total else ""
        elapsed = time.monotonic() - start
        stream.write(f"{desc}: {done:,}{of} {unit}s{percent}, {elapsed:.0f} s\n")
        stream.flush()

    done = 0
    say(done)
    for item in items:
        yield item
        done += 1
        now = time.monotonic()
        if now - last >= every_s:
            last = now
            say(done)
    say(done)
