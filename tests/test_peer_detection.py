"""The side-by-side detection benchmark's own logic: the YOLO files it writes and how it reads records.

The peer training itself needs the peer environment (benchmarks/peer/setup_env.sh) and minutes of CPU; it
is run by hand, not here. lmnet's side runs on the tiny detection config.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

from benchmarks import peer_detection
from lmnet import builders, config as config_module
from lmnet.datasets.synthetic_shapes_detection import SyntheticShapesDetection
from lmnet.datasets.yolo_txt import yolo_box
from lmnet.training.freezing import freeze_layers
from tests.conftest import write_tiny_detection_config


def test_written_labels_read_back_through_lmnets_yolo_reader(tmp_path):
    rows = np.array([[3.0, 5.0, 20.0, 10.0, 2.0], [0.0, 0.0, 64.0, 48.0, 0.0], [0, 0, 0, 0, -1]])
    lines = peer_detection.yolo_label_lines(rows, 48, 64)
    assert len(lines) == 2  # the padding row is dropped
    for line, row in zip(lines, rows):
        fields = line.split()
        assert int(fields[0]) == int(row[4])
        np.testing.assert_allclose(yolo_box([float(v) for v in fields[1:]], (48, 64)), row[:4], atol=1e-5)


def test_the_dataset_is_written_once_in_ultralytics_layout(tmp_path):
    config = config_module.load(peer_detection.EXAMPLE_FLOAT)
    options = dict(config.DATASET.OPTIONS or {}, num_train=3, num_validation=2)
    config = config_module.validate(dict(config, DATASET=dict(config.DATASET, OPTIONS=options)))
    data_yaml, val_images, validation = peer_detection.write_yolo_dataset(config, str(tmp_path), str(tmp_path))
    assert sorted(os.listdir(tmp_path / "images" / "train")) == [f"train_{i:06d}.png" for i in range(3)]
    assert len(os.listdir(val_images)) == len(validation) == 2
    text = open(data_yaml).read()
    assert "train: images/train" in text and "0: circle" in text
    label = (tmp_path / "labels" / "val" / "val_000000.txt").read_text().splitlines()
    assert len(label) == len(validation.annotation(0).boxes)


def test_budget_threshold_and_interpolation_helpers():
    records = [peer_detection.DetectionRecord(*values)
               for values in [(16, 100.0, 0.3, 0.1), (32, 200.0, 0.9, 0.5), (48, 300.0, 0.96, 0.7)]]
    assert peer_detection.at_budget(records, 250) == records[1]
    assert peer_detection.at_budget(records, 50) is None
    assert peer_detection.first_reaching(records, 0.85) == "200"
    assert peer_detection.first_reaching(records, 0.99) == "—"
    assert peer_detection.interpolated_ap(records, 250) == pytest.approx(0.6)
    assert peer_detection.interpolated_ap(records, 350) is None


def test_a_chain_names_its_stages_and_a_missing_file_is_refused(tmp_path):
    first, second = tmp_path / "a.py", tmp_path / "b.py"
    first.write_text("")
    second.write_text("")
    assert peer_detection.parse_run(f"{first}+{second}=two stages") == (
        "two stages", [(str(first), ()), (str(second), ())])
    assert peer_detection.parse_run(str(first))[0] == "a"
    with pytest.raises(SystemExit, match="no config file"):
        peer_detection.parse_run(str(tmp_path / "missing.py"))


def test_every_default_run_is_a_valid_config_chain():
    for label, stages in peer_detection.default_runs().items():
        for path, overrides in stages:
            config = config_module.load(path, overrides=overrides)
            assert config.MAX_STEPS > 0, label
    example = config_module.load(peer_detection.EXAMPLE_FLOAT)
    config = config_module.load(peer_detection.EXAMPLE_FLOAT, overrides=peer_detection.whole_cosine(2300))
    assert (config.MAX_STEPS, config.TEST_STEPS) == (2300, 575)
    assert config.NETWORK.LEARNING_RATE_KWARGS == dict(example.NETWORK.LEARNING_RATE_KWARGS, decay_steps=2300)


def test_a_failed_peer_names_its_log(tmp_path):
    records = str(tmp_path / "yolov8n_records.jsonl")
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    with pytest.raises(SystemExit, match=r"exit code 3.*peer\.log"):
        peer_detection.finish_peer(process, records)
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    assert peer_detection.finish_peer(process, records) == records


def test_every_ablation_row_is_a_valid_config():
    from benchmarks import detection_ablation
    for name, (_, overrides) in detection_ablation.FLOAT_LEVERS.items():
        assert config_module.load(peer_detection.EXAMPLE_FLOAT, overrides=overrides).MAX_STEPS > 0, name
    slower = config_module.load(peer_detection.EXAMPLE_FLOAT,
                                overrides=detection_ablation.FLOAT_LEVERS["float-learning-rate-1e-3"][1])
    assert slower.NETWORK.LEARNING_RATE_KWARGS["initial_learning_rate"] == 0.001
    for name, (_, overrides) in detection_ablation.QUANTIZED_LEVERS.items():
        stage2 = detection_ablation.stage2_overrides(overrides, "/nonexistent/checkpoints")
        config = config_module.load(peer_detection.EXAMPLE_QUANTIZED, overrides=stage2)
        assert config.MAX_STEPS > 0, name
        if config.FROZEN_LAYERS:  # the patterns name layers of the network as the recipe builds it
            network = builders.build_network(config, list(SyntheticShapesDetection.classes))
            assert freeze_layers(network.training_model, config.FROZEN_LAYERS), name


def test_a_two_stage_chain_adds_up_images_and_cpu_and_prints_each_validation(tmp_path, environment, capsys):
    stage = write_tiny_detection_config(str(tmp_path), max_steps=4, save_steps=2, test_steps=2)
    records = peer_detection.train_lmnet_chain([(stage, ()), (stage, ())], "tiny (two stages)", environment)
    images = [record.images for record in records]
    cpu = [record.cpu for record in records]
    batch = config_module.load(stage).BATCH_SIZE
    assert images == [2 * batch, 4 * batch, 6 * batch, 8 * batch]  # stage 2 goes on from stage 1's images
    assert all(later > earlier for earlier, later in zip(cpu, cpu[1:]))
    assert all(0.0 <= record.ap <= record.ap50 <= 1.0 for record in records)
    printed = capsys.readouterr().out
    assert printed.count("training CPU-s in this stage, mAP@0.5 ") == 4
    assert os.path.isdir(environment.experiment("tiny_two_stages-stage2").checkpoints)
