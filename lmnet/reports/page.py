"""Writing a report: its PNG files, its plotted data as JSON and one self-contained ``report.html``.

The page needs nothing but itself: every image is embedded as a ``data:image/png;base64`` URI, the style
sheet is inline, and there is no script and no link to fetch, so it opens the same without network.
"""
import base64
import dataclasses
import html
import math
import os

from lmnet import outputs
from lmnet.reports.figures import png_bytes

#: The page, written beside ``evaluate.json``.
REPORT_HTML = "report.html"

#: The data every plot of the report was drawn from (curves, matrices, per-image errors), as JSON.
REPORT_DATA = "report_data.json"

_STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f0f0f0; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption, .caption { color: #555; font-size: 0.9em; max-width: 60em; }
.notes li { color: #8a4b00; }
.tables { display: flex; flex-wrap: wrap; gap: 0 3em; align-items: flex-start; }
"""


@dataclasses.dataclass
class Section:
    """One picture of the report.

    Attributes:
        title: its heading.
        image: PNG bytes or a :class:`matplotlib.figure.Figure`.
        caption: what it shows and how it was made (plain text).
        file_name: also saved under this name beside the report (``None``: only embedded in the page).
    """

    title: str
    image: object
    caption: str = ""
    file_name: str = None

    def png(self):
        """The image as PNG bytes."""
        return self.image if isinstance(self.image, (bytes, bytearray)) else png_bytes(self.image)


@dataclasses.dataclass
class Table:
    """A table of the report (cells are shown as given, escaped).

    Attributes:
        title: its heading.
        header: the column titles.
        rows: lists of cells.
        caption: a line under the heading.
    """

    title: str
    header: list
    rows: list
    caption: str = ""


def write_report(output_dir, evaluation, tables, sections, data, notes=(), extra_sections=()):
    """Writes the sections' PNG files, ``report_data.json`` and ``report.html`` into ``output_dir``.

    Args:
        output_dir: the evaluation's output folder (already claimed).
        evaluation: the content of ``evaluate.json``; its metrics form the page's first table.
        tables: :class:`Table` objects shown after the metrics.
        sections: :class:`Section` objects of the task.
        data: the plotted data, written as ``report_data.json``.
        notes: sentences shown above the tables (what is missing or undefined, and why).
        extra_sections: more :class:`Section` objects, shown last (e.g. feature maps).

    Returns:
        The path of ``report.html``.
    """
    rendered = []
    for section in list(sections) + list(extra_sections):
        png = section.png()
        if section.file_name:
            outputs.write_atomically(os.path.join(output_dir, section.file_name), lambda s, png=png: s.write(png),
                                     mode="wb")
        rendered.append((section, png))
    outputs.write_json(os.path.join(output_dir, REPORT_DATA), data)
    path = os.path.join(output_dir, REPORT_HTML)
    page = render_page(evaluation, tables, rendered, notes)
    outputs.write_atomically(path, lambda stream: stream.write(page))
    return path


def render_page(evaluation, tables, rendered, notes=()):
    """The HTML text of the report; ``rendered`` holds ``(Section, png bytes)`` pairs."""
    title = f"Evaluation of {evaluation.get('experiment', '')}"
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{_escape(title)}</title><style>{_STYLE}</style></head><body>",
             f"<h1>{_escape(title)}</h1>", _summary(evaluation)]
    if notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{_escape(note)}</li>" for note in notes) + "</ul>")
    parts.append('<div class="tables">' + _table_html(metrics_table(evaluation), "metrics")
                 + "".join(_table_html(table) for table in tables) + "</div>")
    parts.extend(_section_html(section, png) for section, png in rendered)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def metrics_table(evaluation):
    """The :class:`Table` of ``evaluation["metrics"]`` (the numbers of ``evaluate.json``, 4 decimals)."""
    rows = [[name, format_number(value)] for name, value in evaluation.get("metrics", {}).items()]
    return Table("Metrics", ["metric", "value"], rows, "as written to evaluate.json")


def format_number(value, digits=4):
    """``value`` with ``digits`` decimals; ``n/a`` for ``None`` or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _summary(evaluation):
    fields = [("checkpoint", evaluation.get("checkpoint")), ("step", evaluation.get("step")),
              ("dataset", evaluation.get("dataset")), ("subset", evaluation.get("subset")),
              ("samples", evaluation.get("num_samples")), ("date", evaluation.get("date"))]
    lines = [f"<b>{name}</b>: {_escape(value)}" for name, value in fields if value is not None]
    return "<p>" + "<br>".join(lines) + "</p>"


def _table_html(table, table_id=None):
    id_attribute = f' id="{table_id}"' if table_id else ""
    head = "".join(f"<th>{_escape(cell)}</th>" for cell in table.header)
    body = "".join("<tr>" + "".join(f"<td>{_escape(cell)}</td>" for cell in row) + "</tr>" for row in table.rows)
    caption = f'<p class="caption">{_escape(table.caption)}</p>' if table.caption else ""
    return (f"<div><h2>{_escape(table.title)}</h2>{caption}"
            f"<table{id_attribute}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def _section_html(section, png):
    source = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    saved = f" (saved as {section.file_name})" if section.file_name else ""
    caption = _escape(section.caption) + _escape(saved)
    name = f' data-file="{_escape(section.file_name)}"' if section.file_name else ""
    return (f"<h2>{_escape(section.title)}</h2><figure><img src=\"{source}\" alt=\"{_escape(section.title)}\"{name}>"
            f"<figcaption>{caption}</figcaption></figure>")


def _escape(value):
    return html.escape(str(value), quote=True)
