"""Vendor and country names that can stand in parameter paths and outcome columns.

A name is part of the path ``vendors.NAME.stance`` and of outcome columns such
as ``NAME.alive``: a dot or a ``*`` in it would make both ambiguous, and a name
that is a number would read as an index. The parameter model accepts any
string; every command checks names with :func:`check_names` before any work.

>>> bad_name("Aegis") is None, bad_name("A.B")
(True, "a name cannot contain '.' or '*' (names are parts of parameter paths and outcome columns)")
"""

from __future__ import annotations

from privmarket.sim.params import ParameterError, Params

#: Longest vendor or country name (it names columns and paths).
MAX_NAME = 64


def bad_name(name: str) -> str | None:
    """Why a vendor or country name cannot be used, or None."""
    if not name.strip():
        return "a name cannot be empty"
    if len(name) > MAX_NAME:
        return f"a name may have at most {MAX_NAME} characters"
    if any(c in name for c in ".*"):
        return (
            "a name cannot contain '.' or '*' (names are parts of parameter paths and "
            "outcome columns)"
        )
    if name.isascii() and name.isdigit():
        return "a name cannot be a number (numbers in paths are indices)"
    return None


def name_problems(params: Params) -> list[tuple[str, str]]:
    """(path, why) for every vendor or country name that cannot be used."""
    out = []
    for kind in ("vendors", "countries"):
        for i, item in enumerate(getattr(params, kind)):
            why = bad_name(item.name)
            if why:
                out.append((f"{kind}.{i}.name", f"{kind}.{i}.name = {item.name[:40]!r}: {why}"))
    return out


def check_names(params: Params) -> None:
    """Raise :class:`ParameterError` (one line) for the first unusable name."""
    problems = name_problems(params)
    if problems:
        raise ParameterError(problems[0][1])
