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


#: The Markdown and JSON reports of ``profile_model.py`` (``{id}``: the experiment id or config name).
PROFILE_ENTRIES = ("{id}_profile.md", "{id}_profile.json")

#: Every entry that lmnet's tools write directly inside an experiment folder, with the tool that writes it.
#: ``{id}`` stands for the experiment id. ``--recreate`` removes exactly these (and the tools find their
#: outputs through :class:`ExperimentPaths`, which reads this table), so a new output is one line here.
EXPERIMENT_ENTRIES = {
    "config.py": "train.py (a copy of a Python config module)",
    "config.yaml": "train.py (the validated config)",
    "checkpoints": "train.py (save.ckpt-<step> and best/)",
    "tensorboard": "train.py and evaluate.py (event files)",
    "train.log": "train.py (its console lines, appended by each run)",
    "curves.png": "train.py (training curves from the event files)",
    "evaluate": "evaluate.py (evaluate.json and the report: report.html, report_data.json, plots)",
    "export": "export.py (<checkpoint>/<H>x<W>/ export folders)",
    "output_event": "output_event.py (CSV and Markdown tables)",
    "measure_latency.json": "measure_latency.py",
    **{name: "profile_model.py" for name in PROFILE_ENTRIES},
}

#: The training lock (see :mod:`lmnet.experiment_lock`): never removed, so not an entry above.
LOCK_FILE = ".lmnet.lock"


def _entry_property(name):
    """A read-only property giving the path of entry ``name``, documented by its :data:`EXPERIMENT_ENTRIES` line."""
    return property(lambda paths: paths.entry(name), doc=f"``{name}``: written by {EXPERIMENT_ENTRIES[name]}.")


@dataclasses.dataclass(frozen=True)
class ExperimentPaths:
    """The files and folders of one experiment directory ``saved/<id>/``.

    Every path below is one of :data:`EXPERIMENT_ENTRIES` (or inside one).

    Attributes:
        root: the experiment directory.
    """

    root: str

    @property
    def experiment_id(self):
        """The experiment id (the directory's name)."""
        return os.path.basename(os.path.normpath(self.root))

    def entry(self, name):
        """The path of entry ``name`` of :data:`EXPERIMENT_ENTRIES` (``{id}`` filled in).

        Raises:
            KeyError: ``name`` is not in the table (a tool writing an unlisted entry is a bug).
        """
        if name not in EXPERIMENT_ENTRIES:
            raise KeyError(f"{name!r} is not in lmnet.environment.EXPERIMENT_ENTRIES")
        return os.path.join(self.root, name.format(id=self.experiment_id))

    config_py = _entry_property("config.py")
    config_yaml = _entry_property("config.yaml")
    checkpoints = _entry_property("checkpoints")
    tensorboard = _entry_property("tensorboard")
    train_log = _entry_property("train.log")
    curves = _entry_property("curves.png")
    evaluate = _entry_property("evaluate")
    export = _entry_property("export")
    output_event = _entry_property("output_event")
    latency_report = _entry_property("measure_latency.json")

    @property
    def best_checkpoints(self):
        """Folder of the best checkpoint on the ``train_validation_saving`` subset."""
        return os.path.join(self.checkpoints, "best")

    @property
    def profile_files(self):
        """``(Markdown, JSON)`` reports of ``profile_model.py`` for this experiment."""
        return tuple(self.entry(name) for name in PROFILE_ENTRIES)

    @property
    def lock_file(self):
        """The training lock (see :mod:`lmnet.experiment_lock`); never removed, not among :meth:`lmnet_entries`."""
        return os.path.join(self.root, LOCK_FILE)

    def exists(self):
        """True when the experiment directory exists."""
        return os.path.isdir(self.root)

    def lmnet_entries(self):
        """Names of the entries of the experiment folder that lmnet's tools write (:data:`EXPERIMENT_ENTRIES`).

        Anything else in the folder is the user's.
        """
        return tuple(name.format(id=self.experiment_id) for name in EXPERIMENT_ENTRIES)
