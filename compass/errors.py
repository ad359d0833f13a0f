"""The one exception type users see: its message is a single line naming the file and the field."""


class CompassError(Exception):
    """A problem with the user's input (config, data, paths). Exit code 2, no traceback."""

    exit_code = 2


class TaskFailed(CompassError):
    """One or more tasks failed after their retries. Exit code 1."""

    exit_code = 1
