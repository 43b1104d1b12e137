"""Error types that executors turn into one-line messages (exit code 2)."""
import errno


class LmnetError(Exception):
    """Base class of every error that is the user's input's fault, not a bug."""


class ConfigError(LmnetError):
    """A config module or YAML file is invalid: unknown key, missing key, wrong type or value."""


class DatasetError(LmnetError):
    """A dataset is missing or broken: the message names the file and what was expected."""


class ExperimentError(LmnetError):
    """An experiment directory is in a state that does not allow the requested action."""


class DistributionError(LmnetError):
    """A distributed run cannot go on: a worker failed, timed out or lost its peers."""


class TrainingError(LmnetError):
    """Training cannot go on: the loss or the weights stopped being finite numbers."""


class OutputError(LmnetError):
    """Results cannot be written where asked: the folder holds another run's results, or the file system refused."""


#: errno values that mean the file system, not lmnet, refused: no space, read-only, no permission, quota.
FILE_SYSTEM_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT})


def user_message(error):
    """The one-line message for an error that is the user's input's or machine's fault, else ``None``.

    An :class:`LmnetError` gives its own message. An ``OSError`` of the file system (permission, disk full,
    read-only, not a folder, …) that names its path gives ``<path>: <reason>``; one that names no path is
    given only when its ``errno`` is in :data:`FILE_SYSTEM_ERRNOS`. Anything else is a bug and gets ``None``
    (the caller lets its traceback through).
    """
    if isinstance(error, LmnetError):
        return str(error)
    if isinstance(error, OSError) and error.filename is not None:
        target = f" -> {error.filename2}" if error.filename2 is not None else ""
        return f"{error.filename}{target}: {error.strerror or error}"
    if isinstance(error, OSError) and error.errno in FILE_SYSTEM_ERRNOS:
        return f"file system error: {error.strerror or error}"
    return None
