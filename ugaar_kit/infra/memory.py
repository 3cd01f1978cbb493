"""Handing freed memory back to the system during a long inference job.

glibc keeps what a process frees in its heap for reuse; when the blocks freed are tensors of
ever new sizes (batches of items of every length), the heap fragments and the process's
resident memory only grows: `embed`'s main process over 10,000 files grew from 0.6 to 1.9 GB.
A `Trimmer` watches the resident memory and, once it is `slack` above what it was when the job
began, returns the heap's free pages (glibc's `malloc_trim`), so memory stays flat at little
cost. (Fixing glibc's mmap threshold kept it flat too, but slowed `embed` by 30%: every large
tensor a fresh mapping.) Where glibc or `/proc` are missing, nothing happens.
"""

from __future__ import annotations

import ctypes
import os
import sys
from typing import Any

SLACK_BYTES = 256 << 20
"""Resident memory a job may gain over its start before its free heap pages go back. Each trim
costs the next batch the page faults of its working set again: at 128 MB `embed` trimmed after
nearly every batch of sheet snippets, and its main process spent as long in the kernel as in the
model (10,000 files: 11.6 s of system time, 8.4 s at 256 MB, for a peak 120 MB higher and as
flat from 1,000 to 10,000 files)."""


def _libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def resident_bytes() -> int:
    """This process's resident memory (0 where `/proc` cannot tell)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def trim() -> bool:
    """Return the heap's free pages to the system (`malloc_trim(0)`); False where it cannot."""
    libc = _libc()
    try:
        return bool(libc.malloc_trim(0)) if libc is not None else False
    except AttributeError:
        return False


class Trimmer:
    """`trimmer()` trims when resident memory is `slack` bytes above where it was at creation."""

    def __init__(self, slack: int = SLACK_BYTES) -> None:
        self.limit = resident_bytes() + slack
        self.trims = 0

    def __call__(self) -> None:
        if self.limit > 0 and resident_bytes() > self.limit and trim():
            self.trims += 1
