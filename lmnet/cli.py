"""Shared plumbing of the executor scripts: one-line errors with exit code 2, quiet TensorFlow logs."""
import functools
import os
import sys

import click

from lmnet.errors import user_message


def quiet_tensorflow():
    """Hides TensorFlow's C++ info logs unless the user chose a level."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def user_errors_exit_2(run):
    """Decorator: a user's or machine's error becomes ``error: <message>`` on stderr and exit code 2.

    That is an :class:`~lmnet.errors.LmnetError` or a file-system ``OSError`` (see
    :func:`lmnet.errors.user_message`); other exceptions are bugs and keep their traceback. With the
    environment variable ``LMNET_TRACEBACK=1`` every error keeps its traceback.
    """
    @functools.wraps(run)
    def wrapper(*args, **kwargs):
        try:
            return run(*args, **kwargs)
        except Exception as error:
            message = None if os.environ.get("LMNET_TRACEBACK") == "1" else user_message(error)
            if message is None:
                raise
            click.echo(f"error: {message}", err=True)
            sys.exit(2)
    return wrapper


def config_overrides_option(command):
    """Adds ``--set KEY=VALUE`` (repeatable, passed as ``overrides``) to a click command that reads a config."""
    return click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                        help="override a config key (repeatable), e.g. --set MAX_STEPS=100 or "
                             "--set NETWORK.OPTIMIZER_KWARGS='{momentum: 0.8}'; VALUE is read as YAML")(command)


def trained_experiment_options(command):
    """Adds the options that pick a trained experiment and its checkpoint to a click command.

    They are ``-i/--experiment_id`` (required), ``-c/--config_file`` (instead of the experiment's
    ``config.yaml``), ``--restore_path`` (a checkpoint prefix; default the newest checkpoint) and
    ``--set KEY=VALUE`` (:func:`config_overrides_option`).
    """
    for option in reversed((
            click.option("-i", "--experiment_id", required=True, help="id of the trained experiment"),
            click.option("-c", "--config_file", help="config file to use instead of the experiment's config.yaml"),
            click.option("--restore_path", help="checkpoint prefix, e.g. saved/<id>/checkpoints/save.ckpt-1000 "
                         "(default: the newest checkpoint)"),
            config_overrides_option)):
        command = option(command)
    return command


def overwrite_option(command):
    """Adds ``--overwrite`` (replace the results of an earlier run in ``--output_dir``) to a click command."""
    return click.option("--overwrite", is_flag=True,
                        help="replace the results of an earlier run in --output_dir")(command)
