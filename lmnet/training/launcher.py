"""Starts N training workers on this machine (127.0.0.1) for a multi-worker run, and stops them all.

Each worker is a child process running the same training command with its own ``TF_CONFIG``
(cluster of N workers on free local ports, its task index) and ``--strategy multi_worker``.
Their output is streamed with a ``[worker i]`` prefix. When a worker fails, or the run exceeds
its time limit, or the launcher is interrupted, every worker still running is stopped: SIGTERM
to its process group, then SIGKILL after a grace period. No worker outlives the launcher.

This is for tests and small clusters on one host; on several machines, set ``TF_CONFIG`` on
each and start the training command there (see the distributed training docs).
"""
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from lmnet.errors import DistributionError

GRACE_SECONDS = 5.0


class LaunchError(DistributionError):
    """A worker failed or the run timed out; the message says which and how."""


def free_ports(count):
    """``count`` distinct TCP ports free on 127.0.0.1 at the time of the call."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def tf_config(addresses, index):
    """The ``TF_CONFIG`` JSON of worker ``index`` in a cluster of ``addresses``."""
    return json.dumps({"cluster": {"worker": list(addresses)}, "task": {"type": "worker", "index": index}})


@dataclasses.dataclass
class Worker:
    """One launched worker process."""

    index: int
    process: subprocess.Popen
    reader: threading.Thread = None

    @property
    def pid(self):
        """Process id (also its process group id)."""
        return self.process.pid


def _stream(worker, output):
    """Copies a worker's output to ``output`` line by line with a ``[worker i]`` prefix."""
    for line in iter(worker.process.stdout.readline, b""):
        text = line.decode(errors="replace").rstrip("\r\n")
        output.write(f"[worker {worker.index}] {text}\n")
        output.flush()


def _describe_exit(code):
    return f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"


class Launcher:
    """Runs ``command`` as ``num_workers`` local workers and waits for them.

    Args:
        command: the worker command line (list), e.g. ``[python, executor/train.py, -c, …]``.
        num_workers: processes to start (at least 2).
        timeout: seconds before the whole run is stopped (``None``: no limit).
        output: where worker output goes (default ``sys.stdout``).
        env: environment of the workers (default this process's).
    """

    def __init__(self, command, num_workers, timeout=None, output=None, env=None):
        if num_workers < 2:
            raise LaunchError(f"--workers must be at least 2, got {num_workers}")
        self.command = list(command)
        self.num_workers = num_workers
        self.timeout = timeout
        self.output = output or sys.stdout
        self.env = dict(os.environ if env is None else env)
        self.workers = []

    def start(self):
        """Starts the workers, each in its own process group."""
        addresses = [f"127.0.0.1:{port}" for port in free_ports(self.num_workers)]
        for index in range(self.num_workers):
            env = dict(self.env, TF_CONFIG=tf_config(addresses, index), PYTHONUNBUFFERED="1")
            process = subprocess.Popen(self.command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       start_new_session=True)
            worker = Worker(index, process)
            worker.reader = threading.Thread(target=_stream, args=(worker, self.output), daemon=True)
            worker.reader.start()
            self.workers.append(worker)
        self.output.write(f"launched {self.num_workers} workers on {', '.join(addresses)} "
                          f"(pids {', '.join(str(w.pid) for w in self.workers)})\n")

    def wait(self, poll_seconds=0.2):
        """Waits until every worker succeeded; stops them all at the first failure or at the time limit.

        Raises:
            LaunchError: a worker failed (named, with its exit code or signal) or the time ran out.
        """
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while True:
            codes = [worker.process.poll() for worker in self.workers]
            failed = [(w, c) for w, c in zip(self.workers, codes) if c not in (None, 0)]
            if failed:
                worker, code = failed[0]
                self.stop()
                raise LaunchError(f"worker {worker.index} (pid {worker.pid}) {_describe_exit(code)}; "
                                  f"stopped the other workers")
            if all(code == 0 for code in codes):
                self._join_readers()
                return
            if deadline is not None and time.monotonic() > deadline:
                self.stop()
                raise LaunchError(f"the workers did not finish within {self.timeout:g} s; stopped them all")
            time.sleep(poll_seconds)

    def stop(self):
        """Stops every worker still running: SIGTERM to its process group, SIGKILL after a grace period."""
        running = [worker for worker in self.workers if worker.process.poll() is None]
        for worker in running:
            _signal_group(worker.pid, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for worker in running:
            try:
                worker.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(worker.pid, signal.SIGKILL)
                worker.process.wait()
        for worker in self.workers:  # children the workers may have left in their groups
            _signal_group(worker.pid, signal.SIGKILL)
        self._join_readers()

    def _join_readers(self):
        for worker in self.workers:
            worker.reader.join(timeout=GRACE_SECONDS)

    def run(self):
        """Starts the workers and waits for them; stops them all on any failure or interruption."""
        self.start()
        try:
            self.wait()
        except BaseException:
            self.stop()
            raise


def _signal_group(pid, signum):
    try:
        os.killpg(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass
