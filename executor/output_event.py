"""Write an experiment's TensorBoard scalars as CSV and markdown tables, one pair per event subfolder, and their
curves (curves.png)."""
import os

import click

from lmnet.cli import quiet_tensorflow, user_errors_exit_2, verbose_option

quiet_tensorflow()

from lmnet.curves import write_curves  # noqa: E402
from lmnet.environment import Environment  # noqa: E402
from lmnet.errors import ExperimentError  # noqa: E402
from lmnet.events import output_events  # noqa: E402


def run(experiment_id, output_dir=None, tags=(), steps=()):
    """Writes the chosen scalar tags at the chosen steps of ``experiment_id`` as tables and as ``curves.png``;
    returns the written paths (the tables, then the curves).

    A damaged event file is read as far as it is valid and named on stderr (``warning: skipped …``).

    Raises:
        ExperimentError: the experiment does not exist, has no event files, or none of them holds a
            readable scalar (the message names the damaged files).
        lmnet.events.EventSelectionError: an unknown tag or step.
    """
    paths = Environment.from_env().experiment(experiment_id)
    if not paths.exists():
        raise ExperimentError(f"experiment {paths.root} not found")
    output_dir = output_dir or paths.output_event
    written = output_events(paths.tensorboard, output_dir, tags=tags, steps=steps,
                            log=lambda line: click.echo(line, err=True))
    written.append(os.path.join(output_dir, os.path.basename(paths.curves)))  # curves.png beside the tables
    write_curves(paths.tensorboard, written[-1], tags=tags, steps=steps)
    for path in written:
        click.echo(f"wrote {path}")
    return written


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-i", "--experiment_id", required=True, help="id of the experiment whose event files to read")
@click.option("-o", "--output_dir", help="folder of the tables and curves.png (default <experiment>/output_event)")
@click.option("--tags", multiple=True, help="scalar tag to write (repeatable; default all)")
@click.option("--steps", type=int, multiple=True, help="step to write (repeatable; default all)")
@verbose_option
def main(experiment_id, output_dir, tags, steps):
    """Write an experiment's scalars as tables and curves.

    CSV and markdown tables of its TensorBoard scalars, and curves.png.
    """
    user_errors_exit_2(run)(experiment_id, output_dir, tags, steps)


if __name__ == "__main__":
    main()
