"""The exception types users see: each message is a single line naming the file and the field."""


class CompassError(Exception):
    """A problem with the user's input (config, data, paths). Exit code 2, no traceback."""

    exit_code = 2


class TaskFailed(CompassError):
    """One or more tasks failed after their retries. Exit code 1."""

    exit_code = 1


class TransientError(Exception):
    """A failure that may pass if tried again later (a server still failing after its retries, a lost
    connection). Workers exit 1 on it, never 2, so the runner retries the task."""


class PartialResults(Exception):
    """Raised by a model backend when some requests of a batch finished and others failed for good:
    ``done`` maps request index -> result, so the caller keeps the finished ones before re-raising
    ``cause``."""

    def __init__(self, done: dict, cause: BaseException):
        super().__init__(str(cause))
        self.done = done
        self.cause = cause
