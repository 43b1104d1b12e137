"""Error types that executors turn into one-line messages (exit code 2)."""


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
