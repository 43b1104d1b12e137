"""Matplotlib helpers shared by the reports: figures without pyplot, PNG bytes, a confusion matrix, an image grid.

Figures are :class:`matplotlib.figure.Figure` objects drawn on their own Agg canvas, so no global pyplot state
is touched and nothing needs a display; they are freed with their last reference.
"""
import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from lmnet import outputs

#: Resolution of every saved figure (dots per inch).
DPI = 100

#: Confusion matrices with more rows than this show colours only, no number in each cell.
MAX_ANNOTATED_CELLS = 15

#: Confusion matrices with more rows than this name no class on their axes (they would overprint).
MAX_LABELLED_ROWS = 60


def new_figure(width, height, layout="constrained"):
    """A figure of ``width`` x ``height`` inches on its own Agg canvas.

    ``layout=None`` leaves the margins to the caller (``subplots_adjust``): a fixed layout draws in half the
    time of a constrained one, which matters for figures drawn at the end of every training run.
    """
    figure = Figure(figsize=(width, height), dpi=DPI, layout=layout)
    FigureCanvasAgg(figure)
    return figure


def png_bytes(figure):
    """The figure as PNG bytes."""
    stream = io.BytesIO()
    figure.savefig(stream, format="png", dpi=DPI)
    return stream.getvalue()


def write_png(figure, path):
    """Writes the figure as a PNG file at ``path``, atomically (:func:`lmnet.outputs.write_atomically`)."""
    outputs.write_atomically(path, lambda stream: stream.write(png_bytes(figure)), mode="wb")


def normalise_rows(counts):
    """Each row of ``counts`` divided by its sum (``nan`` for a row without any count)."""
    counts = np.asarray(counts, np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, counts / np.where(totals > 0, totals, 1), np.nan)


def confusion_matrix_figure(counts, labels, title, row_title="true", column_title="predicted"):
    """A confusion matrix normalised per row (each row's counts divided by the row's total).

    Args:
        counts: ``[n, n]`` counts, rows the true labels, columns the predicted ones.
        labels: the ``n`` names of the rows (and columns).
        title: the figure title.
        row_title: title of the vertical axis.
        column_title: title of the horizontal axis.

    Returns:
        The figure. Cells show the row fraction and, below it, the count (when the matrix is small enough
        to read them); rows without any count are left blank.
    """
    fractions = normalise_rows(counts)
    size = len(labels)
    side = min(max(4.0, 0.55 * size + 2.0), 16.0)
    figure = new_figure(side + 1.0, side)
    axes = figure.add_subplot()
    image = axes.imshow(np.ma.masked_invalid(fractions), cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="fraction of the row")
    if size <= MAX_LABELLED_ROWS:
        ticks = np.arange(size)
        axes.set_xticks(ticks, labels, rotation=45, ha="right", rotation_mode="anchor")
        axes.set_yticks(ticks, labels)
    else:
        row_title, column_title = f"{row_title} (class id)", f"{column_title} (class id)"
    axes.set_xlabel(column_title)
    axes.set_ylabel(row_title)
    axes.set_title(title)
    if size <= MAX_ANNOTATED_CELLS:
        _annotate_cells(axes, fractions, np.asarray(counts))
    return figure


def _annotate_cells(axes, fractions, counts):
    fontsize = 9 if len(counts) <= 8 else 7
    for row, column in np.ndindex(fractions.shape):
        if np.isnan(fractions[row, column]) or counts[row, column] == 0:
            continue
        fraction = fractions[row, column]
        axes.text(column, row, f"{fraction:.2f}\n({int(counts[row, column])})", ha="center", va="center",
                  fontsize=fontsize, color="white" if fraction > 0.5 else "black")


def image_grid_figure(images, titles, title, columns=4, cell_inches=3.0):
    """Images in a grid, each with its title, read row by row.

    Args:
        images: RGB ``uint8`` arrays (any sizes).
        titles: one short title per image.
        title: the figure title.
        columns: images per row (fewer when there are fewer images).
        cell_inches: width and height of one cell.
    """
    columns = max(1, min(columns, len(images)))
    rows = max(1, -(-len(images) // columns))
    figure = new_figure(columns * cell_inches, rows * cell_inches + 0.5)
    figure.suptitle(title)
    for index, (image, text) in enumerate(zip(images, titles)):
        axes = figure.add_subplot(rows, columns, index + 1)
        axes.imshow(image)  # "auto": smooth when shrinking (thin lines stay whole), sharp when enlarging
        axes.set_title(text, fontsize=9)
        axes.set_axis_off()
    return figure


def enlarge(image, longest_side):
    """``image`` resized so that its longer side is ``longest_side`` pixels; returns ``(image, factor)``.

    Small images are enlarged pixel by pixel (nearest neighbour, so they stay sharp) and large ones shrunk
    smoothly; boxes drawn afterwards are scaled by ``factor``, so lines and labels keep a readable size.
    """
    height, width = np.asarray(image).shape[:2]
    factor = longest_side / max(height, width, 1)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    resample = Image.NEAREST if factor >= 1 else Image.BILINEAR
    return np.asarray(Image.fromarray(np.asarray(image, np.uint8)).resize(size, resample)), factor


def note_figure(text, title, width=6.0, height=1.5):
    """A small figure that only says ``text`` (a plot that has nothing to show says why)."""
    figure = new_figure(width, height)
    figure.suptitle(title)
    figure.text(0.5, 0.4, text, ha="center", va="center", wrap=True)
    return figure


def class_colors(count):
    """``count`` distinct colours for per-class lines (matplotlib's ``tab10``, or ``tab20`` beyond 10 classes)."""
    from matplotlib import colormaps
    palette = colormaps["tab10" if count <= 10 else "tab20"]
    return [palette(index % palette.N) for index in range(count)]


def curves_figure(entries, width=9.0, height=5.5):
    """A figure for curves with a legend of ``entries`` lines to their right, tall enough for that legend."""
    rows = entries if entries <= 20 else -(-entries // 2)
    return new_figure(width + (1.5 if entries > 20 else 0.0), max(height, 0.17 * rows + 1.0))


def outside_legend(axes, entries):
    """A legend to the right of ``axes`` (in two columns beyond 20 entries), so that it never hides a curve."""
    axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=8 if entries > 10 else 9,
                ncol=1 if entries <= 20 else 2, frameon=False)
