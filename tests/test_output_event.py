"""output_event: TensorBoard scalars of a real short training as CSV / markdown, equal to TensorBoard's own reading."""
import csv
import os

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util

from executor import evaluate as evaluate_executor, output_event as output_event_executor, train as train_executor
from lmnet.curves import PANEL_SIZE, curves_figure, training_curves
from lmnet.events import read_experiment_scalars, select_table, write_csv
from tests.conftest import write_tiny_config


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny experiment trained 10 steps (validation at 5 and 10, train_validation_saving) and evaluated."""
    root = tmp_path_factory.mktemp("events")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OUTPUT_DIR", str(root / "saved"))
        patch.setenv("DATA_DIR", str(root / "dataset"))
        path = write_tiny_config(str(root), max_steps=10, save_steps=5, test_steps=5, tvs=8)
        train_executor.run(path, "demo", progress=False)
        evaluate_executor.run("demo", progress=False)
    return root


@pytest.fixture
def experiment_env(trained, monkeypatch):
    monkeypatch.setenv("OUTPUT_DIR", str(trained / "saved"))
    return trained / "saved" / "demo"


def reference_scalars(directory):
    """``{tag: {step: float32}}`` read independently with TensorBoard's EventAccumulator."""
    accumulator = event_accumulator.EventAccumulator(str(directory), size_guidance={event_accumulator.TENSORS: 0})
    accumulator.Reload()
    values = {}
    for tag in accumulator.Tags()["tensors"]:
        for event in accumulator.Tensors(tag):
            array = tensor_util.make_ndarray(event.tensor_proto)
            if array.shape == () and array.dtype.kind == "f":
                values.setdefault(tag, {})[event.step] = np.float32(array)
    return values


def read_csv(path):
    with open(path, newline="") as stream:
        rows = list(csv.reader(stream))
    return rows[0], rows[1:]


def test_tables_equal_tensorboard_values(experiment_env):
    written = output_event_executor.run("demo")
    out = experiment_env / "output_event"
    names = ["train", "validation", "train_validation_saving", "evaluate"]
    tables = [str(out / f"{name}.{ext}") for name in names for ext in ("csv", "md")]
    assert written == tables + [str(out / "curves.png")]
    for name in names:
        reference = reference_scalars(experiment_env / "tensorboard" / name)
        header, rows = read_csv(out / f"{name}.csv")
        assert header == ["step"] + sorted(reference)
        assert [int(row[0]) for row in rows] == sorted({s for values in reference.values() for s in values})
        for row in rows:
            for tag, cell in zip(header[1:], row[1:]):
                expected = reference[tag].get(int(row[0]))
                assert (cell == "") if expected is None else (np.float32(cell) == expected), (name, tag, row)
        markdown = (out / f"{name}.md").read_text().splitlines()
        assert markdown[2] == "| " + " | ".join(header) + " |"
        assert markdown[4:] == ["| " + " | ".join(row) + " |" for row in rows]
    _, validation_rows = read_csv(out / "validation.csv")
    assert [row[0] for row in validation_rows] == ["5", "10"]


def test_chosen_tags_and_steps(experiment_env, tmp_path):
    written = output_event_executor.run("demo", output_dir=str(tmp_path), tags=["accuracy", "loss"], steps=[10])
    assert sorted(os.path.basename(p) for p in written) == sorted(
        [f"{name}.{ext}" for name in ("train", "validation", "train_validation_saving", "evaluate")
         for ext in ("csv", "md")] + ["curves.png"])
    header, rows = read_csv(tmp_path / "validation.csv")
    reference = reference_scalars(experiment_env / "tensorboard" / "validation")
    assert header == ["step", "accuracy", "loss"] and [row[0] for row in rows] == ["10"]
    assert np.float32(rows[0][2]) == reference["loss"][10]
    header, rows = read_csv(tmp_path / "train_validation_saving.csv")
    assert header == ["step", "accuracy", "loss"] and [row[0] for row in rows] == ["10"]


def test_empty_cell_when_a_tag_has_no_value_at_a_step(experiment_env, tmp_path):
    output_event_executor.run("demo", output_dir=str(tmp_path), tags=["loss", "learning_rate"], steps=[5, 10])
    header, rows = read_csv(tmp_path / "evaluate.csv")
    assert header == ["step", "loss"] and [row[0] for row in rows] == ["10"]
    header, rows = read_csv(tmp_path / "train.csv")
    assert header == ["step", "loss", "learning_rate"] and all(row[1] and row[2] for row in rows)
    columns, table = select_table({"a": {1: np.float32(0.1)}, "b": {2: np.float32(2.0)}})
    assert columns == ["a", "b"] and table == [[1, np.float32(0.1), None], [2, None, np.float32(2.0)]]
    write_csv(tmp_path / "gaps.csv", columns, table)
    assert read_csv(tmp_path / "gaps.csv") == (["step", "a", "b"], [["1", "0.1", ""], ["2", "", "2.0"]])


@pytest.mark.parametrize("args, message", [
    (["--tags", "nope"], "error: unknown tag 'nope'; available tags: accuracy, learning_rate, loss, top5_accuracy"),
    (["--steps", "7"], "error: unknown step 7; available steps: 5, 10"),
])
def test_unknown_tag_or_step_exits_2(experiment_env, args, message):
    result = CliRunner().invoke(output_event_executor.main, ["-i", "demo", *args])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [message]


def test_cli_prints_where_it_wrote(experiment_env, tmp_path):
    result = CliRunner().invoke(output_event_executor.main, ["-i", "demo", "-o", str(tmp_path), "--tags", "loss"])
    assert result.exit_code == 0, result.output
    assert f"wrote {tmp_path / 'validation.csv'}" in result.output


def test_missing_experiment_exits_2(experiment_env):
    result = CliRunner().invoke(output_event_executor.main, ["-i", "nothing"])
    assert result.exit_code == 2 and "not found" in result.stderr


def test_curves_draw_the_event_values(experiment_env):
    """curves.png beside the tables: one panel per tag (loss and learning rate first), one line per event
    subfolder, whose points are exactly the values TensorBoard reads."""
    written = output_event_executor.run("demo")
    assert written[-1] == str(experiment_env / "output_event" / "curves.png")
    panels = training_curves(read_experiment_scalars(str(experiment_env / "tensorboard")))
    assert [panel.tag for panel in panels] == ["loss", "learning_rate", "accuracy", "top5_accuracy"]
    references = {name: reference_scalars(experiment_env / "tensorboard" / name)
                  for name in ("train", "validation", "train_validation_saving", "evaluate")}
    for panel in panels:
        expected = {name: values[panel.tag] for name, values in references.items() if panel.tag in values}
        assert list(panel.series) == list(expected)  # subfolder order
        for name, (steps, values) in panel.series.items():
            assert list(steps) == sorted(expected[name])
            assert [np.float32(value) for value in values] == [expected[name][step] for step in steps]
    assert list(panels[1].series) == ["train"] and panels[0].series["validation"][0] == (5, 10)
    figure = curves_figure(panels)
    for axes, panel in zip(figure.axes, panels):
        assert axes.get_title() == panel.tag
        drawn = {line.get_label(): (tuple(line.get_xdata()), tuple(line.get_ydata())) for line in axes.lines}
        assert drawn == panel.series
    with Image.open(written[-1]) as image:
        assert image.format == "PNG" and image.size == tuple(int(v) for v in figure.get_size_inches() * 100)


def test_curves_follow_the_chosen_tags_and_steps(experiment_env, tmp_path):
    output_event_executor.run("demo", output_dir=str(tmp_path), tags=["loss"], steps=[10])
    with Image.open(tmp_path / "curves.png") as image:  # one panel
        assert image.size == tuple(int(inches * 100) for inches in PANEL_SIZE)
    [panel] = training_curves(read_experiment_scalars(str(experiment_env / "tensorboard")), ["loss"], [10])
    assert panel.tag == "loss" and list(panel.series) == ["train", "validation", "train_validation_saving", "evaluate"]
    assert all(steps == (10,) for steps, _ in panel.series.values())
