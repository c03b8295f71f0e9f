"""Reading a TOML file safely: bounded size and nesting, values from ``tomllib``, key lines.

Values come from the standard library's ``tomllib`` (the reference parser).
``tomllib`` keeps no positions, so the line of every key is taken from a
second, concrete syntax tree built by tree-sitter's TOML grammar, which keeps
the position of every node. The tree also gives the nesting depth *before*
``tomllib`` (a recursive parser) sees the text, so a file of ten thousand
nested brackets is refused with a message instead of a ``RecursionError``.

>>> data, lines = read_toml('a = 1\\n[t]\\n"x.y" = { low = 2 }\\n')
>>> data
{'a': 1, 't': {'x.y': {'low': 2}}}
>>> lines[("t", "x.y", "low")]
3
"""

from __future__ import annotations

import functools
import re
import tomllib
from typing import Any

#: Largest experiment file read (bytes). Real files are a few kilobytes.
MAX_BYTES = 1_000_000
#: Deepest nesting of the syntax tree (tables, keys, arrays, inline tables).
#: A rich experiment file reaches about 8; 40 leaves ample room.
MAX_DEPTH = 40

_KEY_TYPES = ("bare_key", "quoted_key", "dotted_key")


class TomlError(ValueError):
    """A TOML text that cannot be read; ``line`` is 1-based or None."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@functools.cache
def _parser():
    import tree_sitter_toml
    from tree_sitter import Language, Parser

    return Parser(Language(tree_sitter_toml.language()))


def decode(raw: bytes) -> str:
    """UTF-8 text of ``raw`` (TOML is UTF-8 whatever the locale), or :class:`TomlError`."""
    if len(raw) > MAX_BYTES:
        raise TomlError(f"the file has {len(raw):,} bytes; at most {MAX_BYTES:,} are read")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = exc.object.count(b"\n", 0, exc.start) + 1
        raise TomlError(
            f"not a UTF-8 text file (byte 0x{exc.object[exc.start]:02x}); TOML is UTF-8", line
        ) from None


def _depth(root: Any) -> tuple[int, int]:
    """Deepest node of the tree and its 1-based line (iteratively: no recursion limit)."""
    deepest, line = 0, 1
    stack = [(root, 0)]
    while stack:
        node, d = stack.pop()
        if d > deepest:
            deepest, line = d, node.start_point[0] + 1
        if d <= MAX_DEPTH:  # below the limit there is nothing more to learn
            stack.extend((c, d + 1) for c in node.children)
    return deepest, line


def _key_parts(node: Any) -> tuple[str, ...]:
    """The parts of a key node; quoted parts are decoded by ``tomllib`` itself."""
    if node.type == "dotted_key":
        parts: list[str] = []
        for child in node.children:
            if child.type in _KEY_TYPES:
                parts.extend(_key_parts(child))
        return tuple(parts)
    raw = node.text.decode("utf-8", errors="replace")
    if node.type == "bare_key":
        return (raw,)
    try:
        return tuple(tomllib.loads(f"{raw} = 0"))
    except tomllib.TOMLDecodeError:
        return (raw.strip("\"'"),)


def _lines(root: Any) -> dict[tuple[str, ...], int]:
    out: dict[tuple[str, ...], int] = {}
    todo = [(root, ())]
    while todo:
        node, prefix = todo.pop(0)
        for child in node.children:
            if child.type in ("table", "table_array_element"):
                key = next((c for c in child.children if c.type in _KEY_TYPES), None)
                parts = _key_parts(key) if key is not None else ()
                out.setdefault(parts, child.start_point[0] + 1)
                todo.append((child, parts))
            elif child.type == "pair" and child.children:
                parts = prefix + _key_parts(child.children[0])
                out.setdefault(parts, child.start_point[0] + 1)
                value = child.children[-1]
                if value.type == "inline_table":
                    todo.append((value, parts))
    return out


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Line number (1-based) of every table header and key in a TOML text.

    Keys inside inline tables get the line where they are written.
    """
    return _lines(_parser().parse(text.encode("utf-8")).root_node)


def read_toml(text: str) -> tuple[dict[str, Any], dict[tuple[str, ...], int]]:
    """The values of a TOML text and the line of each key; :class:`TomlError` if unreadable."""
    tree = _parser().parse(text.encode("utf-8"))
    depth, where = _depth(tree.root_node)
    if depth > MAX_DEPTH:
        raise TomlError(
            f"tables, keys or arrays are nested too deeply (more than {MAX_DEPTH} levels)", where
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.12's error carries its position only in the message's tail
        m = re.search(r"\s*\(at line (\d+), column \d+\)$", str(exc))
        msg = str(exc)[: m.start()] if m else str(exc)
        raise TomlError(f"not valid TOML: {msg}", int(m.group(1)) if m else None) from None
    except RecursionError:  # a safety net: the depth check above should prevent it
        raise TomlError("not valid TOML: nested too deeply") from None
    return data, _lines(tree.root_node)
