"""The ``lmnet`` command: the executor scripts as sub-commands (``lmnet train …`` runs ``executor/train.py …``).

Each sub-command is the script's own click command, so it takes exactly the script's options. A script is
imported only when its sub-command runs (TensorFlow starts then): ``lmnet --help`` lists the sub-commands
with the first line of each command's docstring, read from the script's source without importing it.
"""
import ast
import importlib
import importlib.util

import click

import lmnet
from lmnet.cli import verbose_option

#: Sub-command name -> ``module:command`` of its executor script, in the order ``lmnet --help`` lists them.
COMMANDS = {
    "train": "executor.train:main",
    "evaluate": "executor.evaluate:main",
    "export": "executor.export:main",
    "predict": "executor.predict:main",
    "profile": "executor.profile_model:main",
    "latency": "executor.measure_latency:main",
    "events": "executor.output_event:main",
    "check": "executor.check_dataset:main",
    "convert-darknet": "executor.convert_weight_from_darknet:main",
}


def summary(target):
    """The first line of the docstring of ``target`` (``module:function``), read from its source file.

    The module is not imported (only its package is, to find the file). Returns ``""`` when the file or the
    docstring is missing.
    """
    module, function = target.split(":")
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin:
        return ""
    with open(spec.origin, encoding="utf-8") as stream:
        tree = ast.parse(stream.read(), filename=spec.origin)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == function:
            return (ast.get_docstring(node) or "").split("\n")[0]
    return ""


class LazyGroup(click.Group):
    """A group whose sub-commands (:data:`COMMANDS`) are imported when one runs."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, command = COMMANDS[name].split(":")
        try:
            return getattr(importlib.import_module(module), command)
        except ModuleNotFoundError as error:
            if error.name != module:
                raise
            raise click.UsageError(f"'lmnet {name}' needs {module.replace('.', '/')}.py, which this "
                                   "installation does not have") from None

    def format_commands(self, ctx, formatter):
        """Lists the sub-commands with :func:`summary` lines (without importing them)."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, summary(COMMANDS[name])) for name in self.list_commands(ctx)])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(lmnet.__version__, "--version", prog_name="lmnet", message="%(prog)s %(version)s")
@verbose_option
def main():
    """lmnet: train, evaluate and export tiny low-bit image classifiers and object detectors.

    Each command takes the options of its script in executor/ (lmnet train = python executor/train.py);
    see lmnet COMMAND --help.
    """


if __name__ == "__main__":
    main()
