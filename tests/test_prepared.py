"""Prepared batch inputs: written once, read back by every run, never mistaken for another batch's."""

import pytest

from reportlib.errors import ConfigError
from reportlib.prepared import forget_prepared, load_prepared, save_prepared

BATCH = {"quarter": "2026Q3", "reference_cycle_days": 180}


@pytest.fixture(autouse=True)
def _fresh_cache():
    forget_prepared()
    yield
    forget_prepared()


def test_a_run_reads_what_its_batch_prepared_and_a_second_read_comes_from_memory(tmp_path):
    path = save_prepared({"P001": [1, 2, 3]}, tmp_path / "inputs.pkl", family="qbr", batch=BATCH)
    first = load_prepared(path, family="qbr", expect={"quarter": "2026Q3"})
    assert first == {"P001": [1, 2, 3]}
    assert load_prepared(path, family="qbr") is first
    assert [p.name for p in tmp_path.iterdir()] == ["inputs.pkl"]  # no temporary file left beside it


def test_a_rewritten_file_is_read_again(tmp_path):
    path = save_prepared("old", tmp_path / "inputs.pkl", family="qbr", batch=BATCH)
    assert load_prepared(path, family="qbr") == "old"
    save_prepared("new and longer", path, family="qbr", batch=BATCH)
    assert load_prepared(path, family="qbr") == "new and longer"


def test_inputs_prepared_for_another_family_or_period_are_refused(tmp_path):
    path = save_prepared("x", tmp_path / "inputs.pkl", family="qbr", batch=BATCH)
    with pytest.raises(ConfigError, match="prepared for the qbr family, not statement"):
        load_prepared(path, family="statement")
    with pytest.raises(ConfigError, match="prepared for quarter=2026Q3, but this run has quarter=2026Q2"):
        load_prepared(path, family="qbr", expect={"quarter": "2026Q2"})
    with pytest.raises(ConfigError, match="reference_cycle_days=180, but this run has reference_cycle_days=90"):
        load_prepared(path, family="qbr", expect={"reference_cycle_days": 90})


def test_a_missing_or_foreign_file_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="exist only while their batch runs"):
        load_prepared(tmp_path / "gone.pkl", family="qbr")
    foreign = tmp_path / "foreign.pkl"
    foreign.write_bytes(b"not a pickle at all")
    with pytest.raises(ConfigError, match="is not a reportlib prepared file"):
        load_prepared(foreign, family="qbr")
    import pickle

    other = tmp_path / "other.pkl"
    other.write_bytes(pickle.dumps({"some": "dict"}))
    with pytest.raises(ConfigError, match="is not a reportlib prepared file"):
        load_prepared(other, family="qbr")
