"""One training run per experiment folder: a lock held for the whole run.

The lock is an advisory ``flock`` on ``<experiment>/.lmnet.lock``, whose text names the holder (PID, host,
start time). The kernel releases a ``flock`` when its process dies, however it dies, so a lock file left by
a killed run is recognised as stale (nobody holds it) and taken over with a message, never mistaken for a
live run. A second run while the first is alive is refused, naming the holder.
"""
import datetime
import fcntl
import os
import socket

from lmnet.errors import ExperimentError


class ExperimentLock:
    """Context manager holding the training lock of one experiment folder.

    Args:
        paths: the experiment's :class:`lmnet.environment.ExperimentPaths` (its folder is created).
        log: receives the line about a stale lock taken over.

    Raises:
        ExperimentError: another live process holds the lock (naming its PID and host).
    """

    def __init__(self, paths, log=print):
        self.path = paths.lock_file
        self.log = log
        self.stream = None

    def __enter__(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        stream = open(self.path, "a+")
        try:
            fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(stream)
            stream.close()
            raise ExperimentError(f"experiment {os.path.dirname(self.path)} is being trained by another run "
                                  f"({holder}); wait for it to finish or stop it, or train another -i") from None
        previous = _read_holder(stream)
        if previous:
            self.log(f"taking over the lock {self.path} left by a run that is no longer running ({previous})")
        stream.seek(0)
        stream.truncate()
        stream.write(f"pid {os.getpid()} on {socket.gethostname()} since "
                     f"{datetime.datetime.now().isoformat(timespec='seconds')}\n")
        stream.flush()
        self.stream = stream
        return self

    def __exit__(self, *exc_info):
        self.stream.seek(0)
        self.stream.truncate()  # an empty lock file: released cleanly (the file stays; removing it would race)
        self.stream.flush()
        fcntl.flock(self.stream, fcntl.LOCK_UN)
        self.stream.close()
        self.stream = None
        return False


def _read_holder(stream):
    stream.seek(0)
    return stream.read().strip()
