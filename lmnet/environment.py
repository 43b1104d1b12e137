"""Where experiments and datasets live.

Paths are values passed around (``Environment`` and ``ExperimentPaths``), never mutated globals.
``OUTPUT_DIR`` (default ``./saved``) and ``DATA_DIR`` (default ``./dataset``) come from the
process environment.
"""
import dataclasses
import os


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
        """Returns the :class:`ExperimentPaths` of ``experiment_id`` under ``output_dir``."""
        return ExperimentPaths(os.path.join(self.output_dir, experiment_id))


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

    def exists(self):
        """True when the experiment directory exists."""
        return os.path.isdir(self.root)
