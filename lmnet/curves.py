"""Training curves (``curves.png``): loss, learning rate and each metric against step, one small panel per tag.

The values are an experiment's TensorBoard scalars as :func:`lmnet.events.read_experiment_scalars` reads them
(with TensorBoard's own reader). A panel shows one tag; every event subfolder holding that tag (``train``,
``validation``, ``train_validation_saving``, ``evaluate``) is one line of it, in the same colour in every
panel. :func:`training_curves` returns exactly the numbers that are drawn.
"""
import dataclasses
import math

from lmnet import events
from lmnet.errors import ExperimentError
from lmnet.reports.figures import new_figure, write_png

#: Tags drawn first, in this order; the other tags follow in alphabetical order.
LEADING_TAGS = ("loss", "learning_rate")

#: Panels per row of the figure, and the size of one panel (with its margins) in inches.
COLUMNS = 3
PANEL_SIZE = (3.6, 2.5)

#: Margins of each panel in inches, for its tick labels (left, bottom) and title (top). Fixed margins draw in a
#: third of the time matplotlib's layout engines take, which a training run pays at its end.
MARGINS = {"left": 0.5, "right": 0.15, "bottom": 0.45, "top": 0.3}

#: Series with at most this many points are drawn with a marker on each.
MARKER_POINTS = 40


@dataclasses.dataclass(frozen=True)
class Panel:
    """One panel of the figure.

    Attributes:
        tag: the scalar tag (the panel's title).
        series: ``{subfolder: (steps, values)}``, steps increasing, values as floats, for each subfolder
            holding the tag (in :data:`lmnet.events.SUBFOLDERS` order).
    """

    tag: str
    series: dict


def training_curves(scalars, tags=None, steps=None):
    """The panels of ``scalars`` (``{subfolder: {tag: {step: value}}}``, see :mod:`lmnet.events`).

    Args:
        scalars: the experiment's scalars.
        tags: the tags to draw, in this order (default: :data:`LEADING_TAGS`, then the rest sorted).
        steps: the steps to draw (default: all).

    Returns:
        A list of :class:`Panel`, one per tag that has a value at a chosen step.
    """
    present = {tag for folder in scalars.values() for tag in folder}
    if not tags:
        tags = [tag for tag in LEADING_TAGS if tag in present] + sorted(present - set(LEADING_TAGS))
    chosen_steps = set(steps or ())
    panels = []
    for tag in tags:
        series = {}
        for name, folder in scalars.items():
            values = folder.get(tag, {})
            drawn = sorted(step for step in values if not chosen_steps or step in chosen_steps)
            if drawn:
                series[name] = (tuple(drawn), tuple(float(values[step]) for step in drawn))
        if series:
            panels.append(Panel(tag, series))
    return panels


def curves_figure(panels):
    """A matplotlib :class:`~matplotlib.figure.Figure` (Agg canvas) with one axes per panel, in order."""
    columns = max(1, min(COLUMNS, len(panels)))
    rows = max(1, math.ceil(len(panels) / columns))
    width, height = PANEL_SIZE[0] * columns, PANEL_SIZE[1] * rows
    figure = new_figure(width, height, layout=None)
    figure.subplots_adjust(left=MARGINS["left"] / width, right=1 - MARGINS["right"] / width,
                           bottom=MARGINS["bottom"] / height, top=1 - MARGINS["top"] / height,
                           wspace=(MARGINS["left"] + MARGINS["right"]) / (PANEL_SIZE[0] - MARGINS["left"]
                                                                          - MARGINS["right"]),
                           hspace=(MARGINS["bottom"] + MARGINS["top"]) / (PANEL_SIZE[1] - MARGINS["bottom"]
                                                                          - MARGINS["top"]))
    for index, panel in enumerate(panels):
        axes = figure.add_subplot(rows, columns, index + 1)
        for name, (steps, values) in panel.series.items():
            axes.plot(steps, values, label=name, color=f"C{events.SUBFOLDERS.index(name)}",
                      marker="o" if len(steps) <= MARKER_POINTS else None, markersize=3, linewidth=1.2)
        axes.set_title(panel.tag, fontsize=10)
        axes.set_xlabel("step", fontsize=8)
        axes.tick_params(labelsize=7)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
    return figure


def write_curves(tensorboard_dir, path, tags=None, steps=None):
    """Reads the scalars under ``tensorboard_dir`` and writes their curves to ``path`` (PNG, written whole).

    Args:
        tensorboard_dir: an experiment's ``tensorboard`` folder.
        path: the PNG file.
        tags: the tags to draw (default: all, see :func:`training_curves`).
        steps: the steps to draw (default: all).

    Returns:
        The drawn :class:`Panel` list.

    Raises:
        ExperimentError: no event folder, or no scalar to draw.
        OutputError: ``path`` cannot be written.
    """
    panels = training_curves(events.read_experiment_scalars(tensorboard_dir), tags, steps)
    if not panels:
        raise ExperimentError(f"no scalar summaries to draw under {tensorboard_dir}")
    figure = curves_figure(panels)
    write_png(figure, path)
    return panels
