"""Errors a user can fix. ``python -m mnist_pl`` prints them as one line and exits non-zero."""


class UserError(RuntimeError):
    """A problem the user can fix: the message names the thing and the fix, no traceback."""
