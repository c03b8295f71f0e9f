"""Will a run fit in memory? An estimate from the measured bytes per user, checked up front.

``privmarket bench`` measures the model's peak memory per user at 10 million
users: 132 bytes a user with contacts at the default mean degree of 10
(docs/performance.md). About 80 of them are the contact graph (each contact is
an ``int32`` in the forward and in the reverse graph), the rest the user
columns. The estimate is therefore ``FIXED + users * (PER_USER + PER_CONTACT *
degree)``, where ``FIXED`` covers the interpreter, numpy, pandas and Mesa. A run
whose estimate exceeds the memory available is refused before it starts (the
operating system would otherwise kill it part-way, or the machine would swap);
``--force`` runs it anyway.

>>> estimate_bytes(1_000_000, 10) // 10**6
382
"""

from __future__ import annotations

from pathlib import Path

FIXED = 250_000_000
PER_USER = 52
PER_CONTACT = 8
#: Below this, a run is never refused (the estimate is mostly the fixed part).
SMALL = 1_000_000


class MemoryRefused(OSError):
    """A run whose estimated memory exceeds what is available (the message says both)."""


def estimate_bytes(users: int, degree: int, processes: int = 1) -> int:
    """Peak memory of ``processes`` runs of ``users`` users at mean degree ``degree`` at once."""
    return processes * (FIXED + users * (PER_USER + PER_CONTACT * degree))


def _cgroup_room() -> int | None:
    """Memory this process's cgroup (v2) may still take, or None without a limit."""
    base = Path("/sys/fs/cgroup")
    try:
        limit = (base / "memory.max").read_text().strip()
        used = int((base / "memory.current").read_text().strip())
    except (OSError, ValueError):
        return None
    if limit == "max":
        return None
    try:
        return max(0, int(limit) - used)
    except ValueError:
        return None


def available_bytes() -> int | None:
    """Memory available to new work now (the smaller of the machine's and the cgroup's)."""
    try:
        import psutil

        free = int(psutil.virtual_memory().available)
    except Exception:  # no psutil or no /proc: no estimate can be checked
        return None
    room = _cgroup_room()
    return free if room is None else min(free, room)


def _gb(n: int) -> str:
    return f"{n / 1e9:.1f} GB"


def check_memory(
    users: int,
    degree: int,
    *,
    processes: int = 1,
    force: bool = False,
    available: int | None = None,
    what: str = "the run",
) -> int:
    """Refuse (:class:`MemoryRefused`) if ``what`` would not fit; return the estimate."""
    need = estimate_bytes(users, degree, processes)
    if force or users < SMALL:
        return need
    free = available_bytes() if available is None else available
    if free is not None and need > free:
        each = f"{processes} runs at once, each " if processes > 1 else ""
        raise MemoryRefused(
            f"{what} needs about {_gb(need)} of memory ({each}{users:,} users at "
            f"{PER_USER + PER_CONTACT * degree} bytes a user with {degree} contacts each, "
            f"plus {_gb(FIXED)}), and {_gb(free)} is available; use fewer users"
            + (" or workers" if processes > 1 else "")
            + ", or --force to try anyway"
        )
    return need
