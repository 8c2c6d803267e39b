"""The one exception type a user sees: the CLI prints its message as one line and exits non-zero."""


class SwapcamError(Exception):
    """Bad input or an environment problem, described in one line for the user (no traceback)."""

    exit_code = 2
