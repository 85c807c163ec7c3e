"""Copy-on-write pages a forked command worker will write, copied before it is needed.

A child forked from the command server shares the server's memory until it
writes to it; Python writes to nearly every object it touches (reference
counts), so a command's first run in a fresh child takes ~2,000 page faults,
each copying a page — several milliseconds, more than the command's own work.
A waiting worker pays them in advance: after a command, the worker lists the
pages it ended up owning alone (``/proc/self/pagemap``: present and mapped
exclusively), the server keeps the union of those lists, and every new worker
copies exactly those pages (``madvise(MADV_POPULATE_WRITE)``, Linux 5.14+)
before it waits for a request. Everything here is best effort: on any
failure a worker simply faults its pages in as it goes.
"""

from __future__ import annotations

import bisect
import ctypes
import logging
import os
from array import array

log = logging.getLogger("tinytown.cmdserver")
PAGE = os.sysconf("SC_PAGE_SIZE")
MADV_POPULATE_WRITE = 23
PRESENT_EXCLUSIVE = 0x81  # pagemap entry's top byte: bit 63 present, bit 56 mapped exclusively
_OWNED = bytes(int(b & PRESENT_EXCLUSIVE == PRESENT_EXCLUSIVE) for b in range(256))
MAX_REGION = 1 << 30  # never scan a huge (sparse) reservation page by page
MAX_PAGES = 1 << 14  # 64 MiB with 4 KiB pages: far above what a command writes
Ranges = list[tuple[int, int]]  # (first page number, page count)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
_libc.madvise.restype = ctypes.c_int


def writable_regions() -> Ranges:
    """This process's private writable mappings, as page ranges."""
    regions: Ranges = []
    try:
        with open("/proc/self/maps", encoding="ascii", errors="replace") as maps:
            for line in maps:
                fields = line.split(maxsplit=5)
                if len(fields) < 5 or fields[1] != "rw-p":
                    continue
                start, end = (int(x, 16) // PAGE for x in fields[0].split("-"))
                if (end - start) * PAGE <= MAX_REGION:
                    regions.append((start, end - start))
    except OSError as exc:
        log.debug("no memory map: %s", exc)
    return regions


def owned_pages(known: Ranges) -> list[int]:
    """Page numbers of private writable memory this process alone maps (copied or new),
    leaving out those of ``known``."""
    pages: list[int] = []
    try:
        with open("/proc/self/pagemap", "rb", buffering=0) as pagemap:
            for start, count in writable_regions():
                pagemap.seek(start * 8)
                # Entries are little-endian 64-bit: bits 63 and 56 are in their last byte.
                flags = pagemap.read(count * 8)[7::8].translate(_OWNED)
                i = flags.find(1)
                while i >= 0:
                    pages.append(start + i)
                    i = flags.find(1, i + 1)
    except (OSError, ValueError) as exc:
        log.debug("no page map: %s", exc)
    if known:
        skip = {start + i for start, count in known for i in range(count)}
        pages = [p for p in pages if p not in skip]
    return pages


def to_ranges(pages: set[int], within: Ranges) -> Ranges:
    """``pages`` that lie in ``within``, as sorted runs of consecutive pages."""
    runs: Ranges = []
    regions = sorted(within)
    starts = [s for s, _ in regions]
    for page in sorted(pages):
        i = bisect.bisect_right(starts, page) - 1
        if i < 0 or page >= regions[i][0] + regions[i][1]:
            continue  # no longer mapped here
        if runs and runs[-1][0] + runs[-1][1] == page:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((page, 1))
    return runs


def populate(ranges: Ranges) -> int:
    """Copy (prefault writable) every page of ``ranges``; how many ranges failed."""
    failed = 0
    for start, count in ranges:
        if _libc.madvise(start * PAGE, count * PAGE, MADV_POPULATE_WRITE) != 0:
            failed += 1
    return failed


def encode(pages: list[int]) -> bytes:
    return array("Q", pages[:MAX_PAGES]).tobytes()


def decode(data: bytes) -> list[int]:
    pages = array("Q")
    pages.frombytes(data[: len(data) - len(data) % 8])
    return pages.tolist()
