"""What the ``privmarket`` subcommands declare alike, declared once.

Every subcommand is added by :func:`add_command`, which takes its one-line help
and its description from the handler's docstring, so that a command's text sits
with its code and every command is added the same way. Options that mean the
same in several commands (the output folder, the backend that runs the model)
are declared here, so that their names, defaults and help read the same
wherever they appear.
"""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable

#: A subcommand's handler: the parsed arguments in, the exit status out.
Handler = Callable[[argparse.Namespace], int]


def add_command(
    sub: argparse._SubParsersAction,
    name: str,
    handler: Handler,
    description: str | None = None,
) -> argparse.ArgumentParser:
    """The parser of subcommand ``name``, which runs ``handler``.

    The handler's docstring says what the command does: its first line, with a
    lower-case first letter and no closing full stop, is the help shown in
    ``privmarket --help``; the paragraphs after it are the description shown in
    ``privmarket NAME --help``, unless ``description`` is given.
    """
    summary, _, rest = inspect.getdoc(handler).partition("\n")
    summary = summary.strip().removesuffix(".")
    parser = sub.add_parser(
        name,
        help=summary[:1].lower() + summary[1:],
        description=description or rest.strip() or None,
    )
    parser.set_defaults(func=handler)
    return parser


def add_output_arguments(
    parser: argparse.ArgumentParser, command: str, default: str, memory: bool = True
) -> None:
    """The options every command that writes a results folder shares: ``--out``,
    ``--overwrite`` and (for commands that run the model) ``--force``."""
    parser.add_argument(
        "--out",
        metavar="DIR",
        help=f"output folder (default: {default}); it must be new, empty, or an earlier "
        f"`privmarket {command}` output",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help=f"replace the files an earlier `privmarket {command}` wrote in --out "
        "(other files are kept)",
    )
    if memory:
        add_force_argument(parser)


def add_force_argument(
    parser: argparse.ArgumentParser, estimate: str = "the memory estimate"
) -> None:
    """``--force``: run although ``estimate`` (what the command expects to need) is more
    memory than the machine has available (see :mod:`privmarket.experiments.resources`)."""
    parser.add_argument(
        "--force",
        action="store_true",
        help=f"run even if {estimate} exceeds the memory available",
    )


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """``--backend``, ``--workers`` and ``--scheduler``: where the model runs, for the
    commands that run it many times (see :mod:`privmarket.experiments.sweep.backends`)."""
    from privmarket.experiments.sweep.backends import BACKENDS

    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="local",
        help="local process pool (default), dask, or serial (in this process, for debugging)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes (default: the cores available; with dask, the LocalCluster's)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with --backend dask: an existing scheduler, e.g. tcp://10.0.0.5:8786 "
        "(default: start a LocalCluster on 127.0.0.1)",
    )
