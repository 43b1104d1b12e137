"""The benchmarks' shared recorder: wall time and CPU-seconds at every validation, and the tables built from them."""
from benchmarks import common
from lmnet import config as config_module
from tests.conftest import write_tiny_config


def test_recording_trainer_records_wall_and_cpu_time_and_the_tables_show_both(tmp_path, environment, capsys):
    config = config_module.load(write_tiny_config(str(tmp_path), max_steps=4, save_steps=2, test_steps=2))
    records = common.train_recording("recorded", config, environment)
    assert [record.step for record in records] == [2, 4]
    assert all(record.cpu_seconds > 0 and record.seconds > 0 for record in records)
    assert records[1].cpu_seconds > records[0].cpu_seconds and records[1].seconds > records[0].seconds
    assert "accuracy" in records[-1].results
    common.report_records("recorded", records, "accuracy")
    table = capsys.readouterr().out
    assert "| step | wall time (s) | CPU-s (user + system) | accuracy" in table
    assert f"| {records[-1].cpu_seconds:.0f} " in table
    row = common.target_row("recorded", records, "accuracy", 2.0, 300)
    assert dict(zip(common.TARGET_HEADERS, row))["total CPU-s"] == f"{records[-1].cpu_seconds:.0f}"
    assert row[-2:] == ("not reached", "no")
