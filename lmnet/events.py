"""Reading the scalar summaries of an experiment's TensorBoard event files into CSV and markdown tables.

Event files are read with TensorBoard's own ``EventAccumulator`` (keeping every event). TF2 summaries
store scalars as 0-d tensors; legacy ``simple_value`` scalars are read as well. When a tag has several
values at one step (a resumed run), the last one read wins.

Values are written as the shortest decimal that reads back to the very same number at the precision
it was stored in (NumPy's ``str`` of the float32 or float64 value, e.g. ``0.1`` for float32 0.1):
``numpy.float32(cell) == stored value`` holds exactly for float32 summaries.

Every event file is checked record by record first (:func:`check_event_file`). Like TensorBoard, the
tables hold what can be read; unlike TensorBoard, a damaged file is named: each skipped part is reported,
and when nothing readable is left the run stops with an :class:`~lmnet.errors.ExperimentError`.
"""
import csv
import dataclasses
import os

import numpy as np
import tensorflow as tf
from google.protobuf.message import DecodeError
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.compat.proto import event_pb2
from tensorboard.util import tensor_util

from lmnet.errors import ExperimentError, LmnetError

#: The subfolders of ``tensorboard/`` that training and evaluation write, in this order.
SUBFOLDERS = ("train", "validation", "train_validation_saving", "evaluate")

_SIZE_GUIDANCE = {event_accumulator.SCALARS: 0, event_accumulator.TENSORS: 0, event_accumulator.IMAGES: 1,
                  event_accumulator.HISTOGRAMS: 1, event_accumulator.COMPRESSED_HISTOGRAMS: 1,
                  event_accumulator.AUDIO: 1}


class EventSelectionError(LmnetError):
    """A requested tag or step is not in the event files."""


def event_subfolders(tensorboard_dir):
    """The names of :data:`SUBFOLDERS` that exist under ``tensorboard_dir``."""
    return [name for name in SUBFOLDERS if os.path.isdir(os.path.join(tensorboard_dir, name))]


#: Bytes a TFRecord adds around each event: length (8), its checksum (4) and the data's checksum (4).
_RECORD_OVERHEAD = 16


@dataclasses.dataclass(frozen=True)
class DamagedEventFile:
    """An event file of which only the first ``offset`` bytes (``events`` events) can be read.

    Attributes:
        path: the file.
        offset: the first byte that is not part of a valid event record.
        size: the file's size in bytes.
        events: the number of events before ``offset``.
    """

    path: str
    offset: int
    size: int
    events: int

    def __str__(self):
        if self.events == 0:
            return f"{self.path}: not a TensorBoard event file (no valid event record at byte 0 of {self.size})"
        return (f"{self.path} from byte {self.offset} of {self.size}: not a valid event record "
                f"(the {self.events} events before it were read)")


def event_files(directory):
    """The TensorBoard event files (names holding ``tfevents``) directly in ``directory``, sorted."""
    return sorted(os.path.join(directory, name) for name in os.listdir(directory)
                  if "tfevents" in name and os.path.isfile(os.path.join(directory, name)))


def check_event_file(path):
    """Reads ``path`` record by record, checking every checksum, as TensorBoard does.

    Returns:
        ``None`` when the whole file is valid event records, else a :class:`DamagedEventFile` (a
        truncated, overwritten or foreign file).

    Raises:
        ExperimentError: a record with valid checksums holds something other than an event
            (TensorBoard's reader would stop with a traceback on it).
    """
    offset = events = 0
    records = iter(tf.data.TFRecordDataset(path).as_numpy_iterator())
    while True:
        try:
            record = next(records)
        except (StopIteration, tf.errors.DataLossError, tf.errors.OutOfRangeError):
            break
        try:
            event_pb2.Event.FromString(record)
        except DecodeError:
            raise ExperimentError(f"{path}: the record at byte {offset} is not a TensorBoard event; move the "
                                  f"file out of {os.path.dirname(path)} to read the other event files") from None
        offset += len(record) + _RECORD_OVERHEAD
        events += 1
    size = os.path.getsize(path)
    return None if offset == size else DamagedEventFile(path, offset, size, events)


def damaged_event_files(tensorboard_dir):
    """The :class:`DamagedEventFile` of every event subfolder of ``tensorboard_dir``, in folder order."""
    files = (path for name in event_subfolders(tensorboard_dir)
             for path in event_files(os.path.join(tensorboard_dir, name)))
    return [damage for damage in map(check_event_file, files) if damage is not None]


def _tensor_scalar(tensor_proto):
    """The value of a 0-d numeric tensor proto as a NumPy scalar, or ``None`` for anything else."""
    array = tensor_util.make_ndarray(tensor_proto)
    if array.shape != () or not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        return None
    return array[()]


def read_scalars(directory):
    """Reads every scalar of the event files in ``directory``.

    Returns:
        ``{tag: {step: value}}`` with NumPy scalar values (float32 for ``simple_value`` scalars).
    """
    accumulator = event_accumulator.EventAccumulator(directory, size_guidance=_SIZE_GUIDANCE)
    accumulator.Reload()
    tags = accumulator.Tags()
    scalars = {}
    for tag in tags.get(event_accumulator.SCALARS, []):
        for event in accumulator.Scalars(tag):
            scalars.setdefault(tag, {})[int(event.step)] = np.float32(event.value)
    for tag in tags.get(event_accumulator.TENSORS, []):
        for event in accumulator.Tensors(tag):
            value = _tensor_scalar(event.tensor_proto)
            if value is not None:
                scalars.setdefault(tag, {})[int(event.step)] = value
    return scalars


def read_experiment_scalars(tensorboard_dir):
    """``{subfolder: {tag: {step: value}}}`` for every existing subfolder of ``tensorboard_dir``.

    Raises:
        ExperimentError: there is no event subfolder.
    """
    folders = event_subfolders(tensorboard_dir)
    if not folders:
        raise ExperimentError(f"no TensorBoard event folder ({', '.join(SUBFOLDERS)}) in {tensorboard_dir}; "
                              f"train first")
    return {name: read_scalars(os.path.join(tensorboard_dir, name)) for name in folders}


def _listing(values, limit=30):
    """``a, b, c`` — at most ``limit`` items, then ``…``."""
    values = [str(v) for v in values]
    return ", ".join(values[:limit]) + (", …" if len(values) > limit else "")


def check_selection(scalars, tags=None, steps=None):
    """Checks that every requested tag and step is somewhere in ``scalars`` (``{subfolder: {tag: {step: v}}}``).

    Raises:
        EventSelectionError: one-line message naming the unknown tag or step and the available ones.
    """
    all_tags = sorted({tag for folder in scalars.values() for tag in folder})
    unknown = [tag for tag in tags or () if tag not in all_tags]
    if unknown:
        raise EventSelectionError(f"unknown tag {', '.join(map(repr, unknown))}; available tags: {_listing(all_tags)}")
    chosen = set(tags) if tags else set(all_tags)
    all_steps = sorted({step for folder in scalars.values() for tag, values in folder.items() if tag in chosen
                        for step in values})
    unknown = [step for step in steps or () if step not in all_steps]
    if unknown:
        raise EventSelectionError(f"unknown step {', '.join(map(str, unknown))}; available steps: "
                                  f"{_listing(all_steps)}")


def select_table(folder_scalars, tags=None, steps=None):
    """The table of one subfolder: ``(columns, rows)`` or ``None`` when it holds none of the selection.

    Columns are the chosen tags the folder has (in the requested order, else sorted); rows are
    ``[step, value or None, …]`` for the chosen steps the folder has, in increasing order.
    """
    columns = [tag for tag in (tags or sorted(folder_scalars)) if tag in folder_scalars]
    present = sorted({step for tag in columns for step in folder_scalars[tag]})
    chosen_steps = [step for step in present if not steps or step in set(steps)]
    if not columns or not chosen_steps:
        return None
    rows = [[step] + [folder_scalars[tag].get(step) for tag in columns] for step in chosen_steps]
    return columns, rows


def format_value(value):
    """The shortest decimal that reads back to ``value`` at its stored precision; ``""`` for ``None``."""
    if value is None:
        return ""
    return str(value) if isinstance(value, np.generic) else repr(value)


def write_csv(path, columns, rows):
    """Writes a table as CSV with a ``step`` column first."""
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["step"] + list(columns))
        for row in rows:
            writer.writerow([row[0]] + [format_value(value) for value in row[1:]])


def write_markdown(path, title, columns, rows):
    """Writes a table as markdown with a ``step`` column first."""
    lines = [f"# {title}", "", "| step | " + " | ".join(columns) + " |", "|" + "---|" * (len(columns) + 1)]
    lines += ["| " + " | ".join([str(row[0])] + [format_value(value) for value in row[1:]]) + " |" for row in rows]
    with open(path, "w") as stream:
        stream.write("\n".join(lines) + "\n")


def _check_readable(tensorboard_dir, scalars, damaged, log):
    """Reports each damaged file as skipped; raises when no scalar at all could be read."""
    if not any(scalars.values()):
        where = f"; skipped {'; skipped '.join(map(str, damaged))}" if damaged else "; train first"
        raise ExperimentError(f"no readable scalar summaries in the event files under {tensorboard_dir}{where}")
    for damage in damaged:
        log(f"warning: skipped {damage}")


def output_events(tensorboard_dir, output_dir, tags=None, steps=None, log=print):
    """Writes ``<subfolder>.csv`` and ``<subfolder>.md`` of the chosen scalar tags at the chosen steps.

    Args:
        tensorboard_dir: the experiment's ``tensorboard`` folder.
        output_dir: folder of the tables (created).
        tags: tags to write (default: every scalar tag of each subfolder).
        steps: steps to write (default: every step).
        log: receives one ``warning: skipped …`` line per damaged event file.

    Returns:
        The written paths, in order (never empty).

    Raises:
        ExperimentError: no event folder, no readable scalar in any event file (the message names
            the damaged files), or a file holding a record that is not an event.
        EventSelectionError: an unknown tag or step.
    """
    tags = list(tags or [])
    steps = [int(step) for step in steps or []]
    damaged = damaged_event_files(tensorboard_dir)
    scalars = read_experiment_scalars(tensorboard_dir)
    _check_readable(tensorboard_dir, scalars, damaged, log)
    check_selection(scalars, tags, steps)
    os.makedirs(output_dir, exist_ok=True)
    written = []
    for name, folder_scalars in scalars.items():
        table = select_table(folder_scalars, tags, steps)
        if table is None:
            continue
        csv_path, md_path = (os.path.join(output_dir, f"{name}.{ext}") for ext in ("csv", "md"))
        write_csv(csv_path, *table)
        write_markdown(md_path, name, *table)
        written += [csv_path, md_path]
    return written
