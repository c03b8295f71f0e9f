"""The error a command raises for a value the user must fix.

It lives in a module of its own so that every part of the command line (the
sweep's backends, the bench, the dashboard's launcher) can raise it without
importing the command line itself.
"""

from __future__ import annotations


class UsageError(ValueError):
    """A command-line value the user must fix (reported in one line, exit code 2)."""
