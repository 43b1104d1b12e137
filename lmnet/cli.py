"""Shared plumbing of the executor scripts: one-line errors with exit code 2, a quiet TensorFlow start."""
import contextlib
import functools
import os
import re
import sys
import tempfile

import click

from lmnet.errors import user_message

#: The environment variable TensorFlow's C++ logging reads: 0 shows every line, 1 hides INFO, 2 also WARNING,
#: 3 also ERROR.
TF_LOG_LEVEL = "TF_CPP_MIN_LOG_LEVEL"

#: The level the executors use unless the user set one: INFO and WARNING lines hidden.
QUIET_LEVEL = 2

#: The flag that lets TensorFlow's C++ lines through (see :func:`quiet_tensorflow` and :func:`verbose_option`).
VERBOSE_FLAG = "--verbose"

#: A line of TensorFlow's C++ logging: absl's format (``E0000 00:00:1758131045.203198 3722035 cuda_dnn.cc:8579]``),
#: TSL's (``2025-09-17 14:44:05.157831: I external/…/cudart_stub.cc:32]``) or absl's banner before its logging is
#: initialised.
NATIVE_LOG_LINE = re.compile(r"[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^\s\]]+:\d+\] "
                             r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] [^\s\]]+:\d+\] "
                             r"|WARNING: All log messages before absl::InitializeLog\(\) is called"
                             r"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU")


def quiet_tensorflow(argv=None):
    """Starts TensorFlow without its C++ start-up lines, unless the user asked for them.

    TensorFlow's C++ code logs as it loads: CPU features, oneDNN, absl's ``All log messages before
    absl::InitializeLog()`` banner and, in GPU builds, cuDNN/cuFFT/cuBLAS registrations at ERROR level that no
    log level hides. Every executor calls this first, before importing anything that imports TensorFlow:

    - with ``--verbose`` in ``argv``, nothing is hidden (``TF_CPP_MIN_LOG_LEVEL`` is set to 0 when unset, so
      the worker processes a run starts show theirs too);
    - with ``TF_CPP_MIN_LOG_LEVEL`` set by the user below 2, nothing is hidden either (the user's level applies);
    - otherwise ``TF_CPP_MIN_LOG_LEVEL`` defaults to 2 (TensorFlow's INFO and WARNING lines stay hidden for the
      whole run) and TensorFlow is imported now inside :func:`native_log_lines_dropped`, which drops the lines
      its C++ code writes while loading and keeps Python's (warnings, errors).

    Args:
        argv: the command-line arguments (default ``sys.argv[1:]``). ``--verbose`` is looked for here because
            TensorFlow starts when the script imports its modules, before click parses the options.
    """
    argv = sys.argv[1:] if argv is None else argv
    if VERBOSE_FLAG in argv:
        os.environ.setdefault(TF_LOG_LEVEL, "0")
        return
    level = os.environ.setdefault(TF_LOG_LEVEL, str(QUIET_LEVEL))
    if level.strip().isdigit() and int(level) < QUIET_LEVEL:
        return
    with native_log_lines_dropped():
        import tensorflow  # noqa: F401


def native_log_lines_hidden():
    """Like :func:`native_log_lines_dropped` while TensorFlow's logs are quiet (``TF_CPP_MIN_LOG_LEVEL`` 2 or
    more, as :func:`quiet_tensorflow` leaves it without ``--verbose``); a context that hides nothing otherwise.
    For native code that logs when it starts later in a run (TFLite's interpreter announces its XNNPACK delegate).
    """
    level = os.environ.get(TF_LOG_LEVEL, "0").strip()
    quiet = level.isdigit() and int(level) >= QUIET_LEVEL
    return native_log_lines_dropped() if quiet else contextlib.nullcontext()


@contextlib.contextmanager
def native_log_lines_dropped():
    """Context manager: what is written to file descriptor 2 inside is shown at the end, without the lines of
    TensorFlow's C++ logging (:data:`NATIVE_LOG_LINE`).

    C++ code writes to the descriptor directly, bypassing ``sys.stderr``, so the descriptor itself goes to a
    temporary file meanwhile; Python's own lines written there (warnings) are shown afterwards, in order. When
    the block raises, everything is shown (it may say why). Without a descriptor 2, the block just runs.
    """
    _flush_stderr()
    try:
        original = os.dup(2)
    except OSError:
        yield
        return
    failed = True
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
            failed = False
        finally:
            _flush_stderr()
            os.dup2(original, 2)
            os.close(original)
            capture.seek(0)
            text = capture.read().decode(errors="replace")
            shown = text if failed else drop_native_log_lines(text)
            if shown and sys.stderr is not None:
                sys.stderr.write(shown)
                sys.stderr.flush()


def drop_native_log_lines(text):
    """``text`` without the lines of TensorFlow's C++ logging (:data:`NATIVE_LOG_LINE`)."""
    return "".join(line for line in text.splitlines(keepends=True) if not NATIVE_LOG_LINE.match(line))


def _flush_stderr():
    if sys.stderr is not None:
        sys.stderr.flush()


def verbose_option(command):
    """Adds ``--verbose`` (show TensorFlow's C++ log lines) to a click command.

    The flag acts before click parses it: :func:`quiet_tensorflow` reads it from the command line when the
    script starts; click only declares it (for ``--help``) and accepts it.
    """
    return click.option(VERBOSE_FLAG, is_flag=True, expose_value=False,
                        help=f"show TensorFlow's C++ start-up and INFO/WARNING lines (hidden unless "
                             f"{TF_LOG_LEVEL} is set below {QUIET_LEVEL})")(command)


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
                        help="override a config key (repeatable), e.g. --set MAX_STEPS=100, "
                             "--set NETWORK.OPTIMIZER_KWARGS='{momentum: 0.8}' or one key inside it, "
                             "--set NETWORK.LEARNING_RATE_KWARGS.decay_steps=100; VALUE is read as YAML")(command)


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
