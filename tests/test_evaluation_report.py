"""The evaluation report: plots and report.html beside evaluate.json, drawn from the metrics' own matching."""
import base64
import html.parser
import io
import json
import os
import pathlib
import subprocess

import numpy as np
import pytest
from PIL import Image

from lmnet.datasets.detection_base import Annotation
from lmnet.datasets.synthetic_shapes_detection import SyntheticShapesDetection
from lmnet.errors import OutputError
from lmnet.metrics.classification import ClassificationMetrics
from lmnet.metrics.detection import DetectionMetrics
from lmnet.metrics.voc import voc_evaluate
from lmnet.reports import classification as classification_report, detection as detection_report
from lmnet.reports.network_views import FEATURE_MAPS_PNG
from lmnet.reports.curves import class_curves
from lmnet.reports.matching import match_at_threshold
from lmnet.reports.page import Section
from tests.conftest import patch_output_and_data_dirs, train_experiment, write_tiny_config, write_tiny_detection_config

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """A tiny classifier and a tiny detector, each trained a few steps and evaluated: ``{task: output folder}``."""
    from lmnet.environment import Environment
    from lmnet.evaluator import evaluate_experiment
    root = tmp_path_factory.mktemp("report")
    patch = patch_output_and_data_dirs(root)
    try:
        environment = Environment.from_env()
        no_validation = 1000  # beyond MAX_STEPS: the evaluation below is the only one
        configs = {"classification": write_tiny_config(str(root), max_steps=4, save_steps=4, test_steps=no_validation),
                   "detection": write_tiny_detection_config(str(root), max_steps=2, save_steps=2,
                                                            test_steps=no_validation)}
        folders = {}
        for task, config in configs.items():
            train_experiment(environment, config, task)
            _, json_path, _, html_path = evaluate_experiment(environment, task, progress=False, log=lambda *_: None)
            assert os.path.dirname(html_path) == os.path.dirname(json_path)
            folders[task] = os.path.dirname(json_path)
        yield environment, folders
    finally:
        patch.undo()


class _Images(html.parser.HTMLParser):
    """The ``src`` of every ``<img>`` and the cells of the metrics table of a page."""

    def __init__(self):
        super().__init__()
        self.sources, self.metrics, self._in_metrics, self._cell = [], [], False, None

    def handle_starttag(self, tag, attributes):
        attributes = dict(attributes)
        if tag == "img":
            self.sources.append(attributes["src"])
        elif tag == "table":
            self._in_metrics = attributes.get("id") == "metrics"
        elif tag == "td" and self._in_metrics:
            self._cell = ""

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.metrics.append(self._cell)
            self._cell = None
        elif tag == "table":
            self._in_metrics = False


def _parse(path):
    parser = _Images()
    with open(path) as stream:
        parser.feed(stream.read())
    parser.close()
    return parser


def _read_json(folder, name):
    with open(os.path.join(folder, name)) as stream:
        return json.load(stream)


@pytest.mark.parametrize("task, module", [("classification", classification_report),
                                          ("detection", detection_report)])
def test_evaluation_writes_the_report_beside_evaluate_json(evaluated, task, module):
    folder = evaluated[1][task]
    manifest = _read_json(folder, ".lmnet-outputs.json")
    assert sorted(manifest["entries"]) == sorted(["evaluate.json", FEATURE_MAPS_PNG, *module.REPORT_FILES])
    pngs = [name for name in (FEATURE_MAPS_PNG, *module.REPORT_FILES) if name.endswith(".png")]
    page = _parse(os.path.join(folder, "report.html"))
    assert all(source.startswith("data:image/png;base64,") for source in page.sources)  # nothing to fetch
    embedded = {base64.b64decode(source.split(",", 1)[1]) for source in page.sources}
    for name in pngs:
        with Image.open(os.path.join(folder, name)) as image:
            assert image.format == "PNG" and min(image.size) > 0
        with open(os.path.join(folder, name), "rb") as stream:
            assert stream.read() in embedded, f"report.html does not show {name}"
    metrics = _read_json(folder, "evaluate.json")["metrics"]
    assert page.metrics == [cell for name, value in metrics.items() for cell in (name, f"{value:.4f}")]
    assert _read_json(folder, "report_data.json")["task"] == task


def _all_point_ap(recall, precision):
    """The area under the precision envelope, written out again here (VOC2010+ all-point AP)."""
    area, previous_recall = 0.0, 0.0
    for index, value in enumerate(recall):
        area += (value - previous_recall) * max(precision[index:])
        previous_recall = value
    return area


def _assert_plotted_ap_is_reported_ap(data, per_class_ap):
    assert [curve["class"] for curve in data["curves"]] == list(per_class_ap)
    for curve in data["curves"]:
        reported = per_class_ap[curve["class"]]
        if reported is None or np.isnan(reported):
            assert curve["ap"] is None and curve["objects"] == 0
            continue
        assert curve["ap"] == pytest.approx(reported, abs=1e-6)
        assert _all_point_ap(curve["recall"], curve["precision"]) == pytest.approx(reported, abs=1e-6)


def test_plotted_ap_is_the_reported_ap(evaluated):
    folder = evaluated[1]["detection"]
    _assert_plotted_ap_is_reported_ap(_read_json(folder, "report_data.json"),
                                      _read_json(folder, "evaluate.json")["per_class_ap"])


def test_a_foreign_report_file_is_refused(evaluated, tmp_path):
    from lmnet.evaluator import evaluate_experiment
    environment = evaluated[0]
    (tmp_path / "report.html").write_text("someone else's page")
    with pytest.raises(OutputError, match="report.html, which no lmnet run recorded"):
        evaluate_experiment(environment, "classification", output_dir=str(tmp_path), overwrite=True, progress=False)
    assert (tmp_path / "report.html").read_text() == "someone else's page"


def _annotation(boxes, class_ids, ignore=None):
    ignore = [False] * len(class_ids) if ignore is None else ignore
    return Annotation(np.array(boxes, np.float32).reshape(-1, 4), np.array(class_ids, np.int64),
                      np.array(ignore, bool), (100, 100))


def test_detection_confusion_matrix_on_a_hand_built_case():
    # classes cat 0, dog 1, bird 2; rows of detections (x, y, w, h, class, score)
    annotations = [
        _annotation([[0, 0, 10, 10], [20, 20, 10, 10], [40, 40, 10, 10], [60, 0, 10, 10]], [0, 1, 2, 1],
                    [False, False, True, False]),
        _annotation([[0, 0, 20, 20]], [2]),
        _annotation([[0, 0, 10, 10]], [0]),
    ]
    detections = [
        np.array([[0, 0, 10, 10, 0, 0.9],      # cat on the cat: true positive
                  [1, 0, 10, 10, 0, 0.8],      # a second cat on it: false positive (background)
                  [20, 20, 10, 10, 0, 0.7],    # a cat on the dog: confusion
                  [40, 40, 10, 10, 2, 0.6],    # bird on the difficult bird: counted nowhere
                  [80, 80, 10, 10, 1, 0.3],    # below the threshold
                  [0, 0, 0, 0, -1, 0]]),       # padding
        np.array([[50, 50, 5, 5, 1, 0.95], [0, 0, 20, 20, 2, 0.55]]),
        np.array([[0, 0, 20, 10, 0, 0.9]]),    # IoU exactly 0.5 is no match (strictly above, as the metric)
    ]
    matching = match_at_threshold(detections, annotations, 3, score_threshold=0.5)
    np.testing.assert_array_equal(matching.confusion, [[1, 0, 0, 1],    # true cat: found; missed (image 2)
                                                       [1, 0, 0, 1],    # true dog: taken for a cat; missed
                                                       [0, 0, 1, 0],    # true bird: found (image 1)
                                                       [2, 1, 0, 0]])   # background: 2 cats, 1 dog
    np.testing.assert_array_equal(matching.false_positives, [2, 1, 1])
    np.testing.assert_array_equal(matching.false_negatives, [2, 0, 1])
    np.testing.assert_array_equal(matching.errors, [4, 1, 2])
    # the diagonal is the metric's true positives among the detections scoring at least 0.5
    voc = voc_evaluate(detections, annotations, 3)
    for class_id in range(3):
        kept = int(np.count_nonzero(voc["scores"][class_id] >= 0.5))
        true_positives = round(voc["recall"][class_id][kept - 1] * voc["npos"][class_id]) if kept else 0
        assert matching.confusion[class_id, class_id] == true_positives
    assert detection_report.worst_images(matching.errors, 2) == [0, 2]


def test_classification_confusion_matrix_on_a_hand_built_case():
    metrics = ClassificationMetrics()
    metrics.update(np.array([0, 0, 1]), np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1]]))
    metrics.update(np.array([2, 2, 2]), np.array([[0.1, 0.1, 0.8], [0.5, 0.0, 0.5], [0.0, 0.3, 0.7]]))  # a tie: 0
    counts = classification_report.confusion_counts(metrics.labels, metrics.predictions, 3)
    np.testing.assert_array_equal(counts, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert np.trace(counts) / counts.sum() == metrics.result()["accuracy"]


def _hand_detections(dataset, rng):
    """Per image: every object found with a jittered box, a wrong-class copy, and a stray box."""
    outputs = []
    for index in range(len(dataset)):
        annotation = dataset.annotation(index)
        rows = []
        for box, class_id in zip(annotation.boxes, annotation.class_ids):
            jitter = rng.uniform(-2, 2, 4)
            rows.append([*(box + jitter), class_id, rng.uniform(0.3, 1.0)])
            rows.append([*box, (class_id + 1) % 4, rng.uniform(0.05, 0.6)])
        rows.append([1, 1, 8, 8, rng.integers(4), rng.uniform(0.05, 0.9)])
        outputs.append(np.array(rows))
    return outputs


def _detection_report(tmp_path, outputs, classes=None, extra_sections=()):
    dataset = SyntheticShapesDetection("validation", num_validation=len(outputs), image_size=(48, 48))
    metrics = DetectionMetrics(dataset, classes=classes, use_coco=False)
    for output in outputs:
        metrics.update(None, [output])
    evaluation = {"experiment": "hand", "metrics": metrics.result()}
    path = detection_report.write_detection_report(str(tmp_path), metrics, dataset, evaluation, extra_sections)
    return metrics, _read_json(str(tmp_path), "report_data.json"), path


def test_hand_made_detections_plot_their_ap_with_extra_sections(tmp_path):
    dataset = SyntheticShapesDetection("validation", num_validation=6, image_size=(48, 48))
    extra = Section("Feature maps", _tiny_png(), "an extra section")
    metrics, data, path = _detection_report(tmp_path, _hand_detections(dataset, np.random.default_rng(0)),
                                            extra_sections=[extra])
    assert 0.2 < metrics.voc_result["map"] < 1.0
    _assert_plotted_ap_is_reported_ap(data, metrics.per_class_ap)
    page = _parse(path)
    assert base64.b64encode(_tiny_png()).decode() in [source.split(",", 1)[1] for source in page.sources]
    assert sorted(os.listdir(tmp_path)) == sorted(detection_report.REPORT_FILES)  # extra sections: only embedded
    threshold = data["f1"]["best_threshold"]
    diagonal = np.diag(np.array(data["confusion_matrix"]["counts"]))[:4]
    assert list(diagonal) == [round(curve.at(threshold)[1] * curve.npos)
                              for curve in class_curves(metrics.voc_result, metrics.classes)]


def _tiny_png():
    stream = io.BytesIO()
    Image.new("RGB", (7, 5), (200, 30, 30)).save(stream, format="PNG")
    return stream.getvalue()


def test_no_detections_and_a_class_without_ground_truth_still_make_a_report(tmp_path):
    classes = [*SyntheticShapesDetection.classes, "unicorn"]
    padding = np.array([[0, 0, 0, 0, -1, 0]])
    metrics, data, path = _detection_report(tmp_path, [padding] * 3, classes=classes)
    assert data["f1"]["best_threshold"] is None
    assert data["curves"][-1] == {"class": "unicorn", "ap": None, "objects": 0, "detections": 0, "precision": [],
                                  "recall": [], "scores": []}
    counts = np.array(data["confusion_matrix"]["counts"])
    assert counts[:, -1].sum() == sum(len(metrics.annotations[i]) for i in range(3)) and counts[-1].sum() == 0
    with open(path) as stream:
        page = stream.read()
    assert "unicorn: no ground truth" in page and "no detection" in page
    for name in detection_report.REPORT_FILES:
        assert os.path.getsize(tmp_path / name) > 0


def _chromium(*arguments, user_data_dir):
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", "--no-first-run",
                           f"--user-data-dir={user_data_dir}", *arguments], capture_output=True, text=True,
                          timeout=120, check=True)


_CHECK_SCRIPT = """<script>
window.addEventListener("load", function () {
  var result = {images: Array.from(document.images).map(function (image) {
      return {alt: image.alt, complete: image.complete, width: image.naturalWidth}; }),
    metrics: Array.from(document.querySelectorAll("#metrics tbody tr")).map(function (row) {
      return Array.from(row.cells).map(function (cell) { return cell.textContent; }); })};
  var out = document.createElement("pre");
  out.id = "lmnet-check";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>"""


@pytest.mark.skipif(not os.path.exists(CHROMIUM),
                    reason=f"{CHROMIUM} is missing (the Debian package chromium, which .ci/run installs)")
def test_report_renders_in_headless_chromium(evaluated, tmp_path):
    folder = evaluated[1]["detection"]
    with open(os.path.join(folder, "report.html")) as stream:
        page = stream.read()
    checked = tmp_path / "checked.html"  # a copy with a script that writes what the browser loaded into the page
    checked.write_text(page.replace("</body>", _CHECK_SCRIPT + "</body>"))
    dom = _chromium("--virtual-time-budget=5000", "--dump-dom", checked.as_uri(),
                    user_data_dir=tmp_path / "profile-1").stdout
    found = dom.split('<pre id="lmnet-check">', 1)[1].split("</pre>", 1)[0]
    result = json.loads(html.unescape(found))
    assert len(result["images"]) == len([name for name in os.listdir(folder) if name.endswith(".png")])
    assert all(image["complete"] and image["width"] > 0 for image in result["images"]), result["images"]
    reported = _read_json(folder, "evaluate.json")["metrics"]["mAP@0.5"]
    assert ["mAP@0.5", f"{reported:.4f}"] in result["metrics"]
    screenshot = tmp_path / "report.png"  # the artefact to look at
    _chromium("--hide-scrollbars", "--window-size=1280,2000", f"--screenshot={screenshot}",
              pathlib.Path(folder, "report.html").as_uri(), user_data_dir=tmp_path / "profile-2")
    with Image.open(screenshot) as image:
        assert image.size == (1280, 2000) and len(np.unique(np.asarray(image.convert("L")))) > 16  # not blank
    print(f"screenshot of report.html: {screenshot}")
