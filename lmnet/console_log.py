"""A copy of a command's console lines in a log file, e.g. ``saved/<id>/train.log``.

While a :class:`ConsoleLog` is active, everything written to ``sys.stdout`` (``click.echo`` and ``print``
lines, the lines ``tqdm.write`` prints above a progress bar) and every Python warning shown is also appended
to the file. Progress bars are not: tqdm draws them on ``sys.stderr``. Each run starts with a separator line
(date, working directory, command line), so a resumed run's lines follow the earlier ones; an exception that
ends the run is the last line. The file is line-buffered: a killed run leaves every line it printed.
"""
import datetime
import io
import os
import shlex
import sys
import warnings

from lmnet.errors import user_message

#: The start of every separator line.
SEPARATOR = "=" * 8


def separator_line(command=None):
    """``======== <date> in <working directory>: <command line>`` (default: this process's command line)."""
    command = shlex.join(sys.argv) if command is None else command
    date = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    return f"{SEPARATOR} {date} in {os.getcwd()}: {command}"


class ConsoleLog:
    """Context manager appending the console lines of the code inside to ``path`` (see the module docstring).

    Args:
        path: the log file (appended to; its folder must exist).
        command: the command line named in the separator line (default: this process's).
    """

    def __init__(self, path, command=None):
        self.path = path
        self.command = command
        self.stream = None
        self._stdout = self._showwarning = None

    def __enter__(self):
        self.stream = open(self.path, "a", encoding="utf-8", buffering=1)
        self.stream.write(separator_line(self.command) + "\n")
        self._stdout, self._showwarning = sys.stdout, warnings.showwarning
        sys.stdout = _Tee(self._stdout, self.stream)
        warnings.showwarning = self._show_warning
        return self

    def __exit__(self, kind, error, traceback):
        sys.stdout.flush()
        sys.stdout, warnings.showwarning = self._stdout, self._showwarning
        if error is not None:
            self.stream.write(ending_line(error) + "\n")
        self.stream.close()
        self.stream = None
        return False

    def _show_warning(self, message, category, filename, lineno, file=None, line=None):
        self._showwarning(message, category, filename, lineno, file, line)
        self.stream.write(warnings.formatwarning(message, category, filename, lineno, line))


def ending_line(error):
    """The log's last line for a run that ``error`` ended: the executors' ``error: …`` line, or the exception."""
    if isinstance(error, KeyboardInterrupt):
        return "interrupted (KeyboardInterrupt)"
    if isinstance(error, SystemExit):
        return f"exited with code {error.code}"
    message = user_message(error)
    if message is None:
        return f"error: {type(error).__name__}: {error} (its traceback is on the console)"
    return f"error: {message}"


class _Tee(io.TextIOBase):
    """A text stream writing to the console stream and to the log file."""

    def __init__(self, console, log):
        self.console, self.log = console, log

    def write(self, text):
        self.log.write(text)
        return self.console.write(text)

    def flush(self):
        self.console.flush()
        self.log.flush()

    def isatty(self):
        return self.console.isatty()

    def fileno(self):
        return self.console.fileno()

    @property
    def encoding(self):
        return self.console.encoding

    @property
    def errors(self):
        return getattr(self.console, "errors", None)
