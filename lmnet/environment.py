"""Where experiments and datasets live.

Paths are values passed around (``Environment`` and ``ExperimentPaths``), never mutated globals.
``OUTPUT_DIR`` (default ``./saved``) and ``DATA_DIR`` (default ``./dataset``) come from the
process environment.
"""
import dataclasses
import os

from lmnet.errors import ExperimentError


@dataclasses.dataclass(frozen=True)
class Environment:
    """The two root directories of a run.

    Attributes:
        output_dir: root of all experiments (``$OUTPUT_DIR`` or ``./saved``).
        data_dir: root of all datasets (``$DATA_DIR`` or ``./dataset``).
    """

    output_dir: str
    data_dir: str

    @classmethod
    def from_env(cls, environ=None):
        """Reads ``OUTPUT_DIR`` and ``DATA_DIR`` from ``environ`` (default ``os.environ``)."""
        environ = os.environ if environ is None else environ
        return cls(output_dir=os.path.abspath(environ.get("OUTPUT_DIR", "saved")),
                   data_dir=os.path.abspath(environ.get("DATA_DIR", "dataset")))

    def experiment(self, experiment_id):
        """Returns the :class:`ExperimentPaths` of ``experiment_id`` under ``output_dir``.

        Raises:
            ExperimentError: ``experiment_id`` is not a single folder name (see :func:`check_experiment_id`).
        """
        return ExperimentPaths(os.path.join(self.output_dir, check_experiment_id(experiment_id)))


def check_experiment_id(experiment_id):
    """Returns ``experiment_id`` if it names one folder directly inside ``OUTPUT_DIR``.

    An id is one path component: not empty, not ``.`` or ``..``, without ``/`` (or the platform's
    other separator) and without NUL, so that an experiment (and anything deleted with it) never
    lies outside ``OUTPUT_DIR``.

    Raises:
        ExperimentError: naming the id and the rule it breaks.
    """
    if not isinstance(experiment_id, str) or not experiment_id.strip():
        raise ExperimentError(f"experiment id {experiment_id!r}: expected a folder name, got an empty id")
    separators = [sep for sep in (os.sep, os.altsep, "/") if sep]
    if experiment_id in (".", "..") or any(sep in experiment_id for sep in separators) or "\0" in experiment_id:
        raise ExperimentError(f"experiment id {experiment_id!r}: expected one folder name inside OUTPUT_DIR "
                              f"(no '/', not '.' or '..')")
    return experiment_id


@dataclasses.dataclass(frozen=True)
class ExperimentPaths:
    """The files and folders of one experiment directory ``saved/<id>/``.

    Attributes:
        root: the experiment directory.
    """

    root: str

    @property
    def experiment_id(self):
        """The experiment id (the directory's name)."""
        return os.path.basename(os.path.normpath(self.root))

    @property
    def config_py(self):
        """Copy of the Python config module the experiment was trained with."""
        return os.path.join(self.root, "config.py")

    @property
    def config_yaml(self):
        """The validated config as YAML; loading it gives back an equal config."""
        return os.path.join(self.root, "config.yaml")

    @property
    def checkpoints(self):
        """Folder of the rotating checkpoints ``save.ckpt-<step>``."""
        return os.path.join(self.root, "checkpoints")

    @property
    def best_checkpoints(self):
        """Folder of the best checkpoint on the ``train_validation_saving`` subset."""
        return os.path.join(self.root, "checkpoints", "best")

    @property
    def tensorboard(self):
        """Folder of the TensorBoard event files (``train/``, ``validation/``, ``evaluate/``)."""
        return os.path.join(self.root, "tensorboard")

    @property
    def evaluate(self):
        """Default output folder of ``evaluate.py`` (``evaluate.json``); each evaluation replaces the last."""
        return os.path.join(self.root, "evaluate")

    @property
    def lock_file(self):
        """The training lock (see :mod:`lmnet.experiment_lock`); never removed, not among :meth:`lmnet_entries`."""
        return os.path.join(self.root, ".lmnet.lock")

    def exists(self):
        """True when the experiment directory exists."""
        return os.path.isdir(self.root)

    def lmnet_entries(self):
        """Names of the entries of the experiment folder that lmnet's executors write there.

        Training writes ``config.py``, ``config.yaml``, ``checkpoints/`` and ``tensorboard/``;
        ``evaluate.py`` writes ``evaluate/``, ``export.py`` ``export/``, ``measure_latency.py``
        ``measure_latency.json`` and ``profile_model.py`` ``<id>_profile.md`` / ``.json``. Anything
        else in the folder is the user's.
        """
        name = self.experiment_id
        return ("config.py", "config.yaml", "checkpoints", "tensorboard", "evaluate", "export",
                "measure_latency.json", f"{name}_profile.md", f"{name}_profile.json")
