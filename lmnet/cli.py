"""Shared plumbing of the executor scripts: one-line errors with exit code 2, quiet TensorFlow logs."""
import functools
import os
import sys

import click

from lmnet.errors import LmnetError


def quiet_tensorflow():
    """Hides TensorFlow's C++ info logs unless the user chose a level."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def user_errors_exit_2(run):
    """Decorator: an :class:`LmnetError` becomes ``error: <message>`` on stderr and exit code 2."""
    @functools.wraps(run)
    def wrapper(*args, **kwargs):
        try:
            return run(*args, **kwargs)
        except LmnetError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(2)
    return wrapper
