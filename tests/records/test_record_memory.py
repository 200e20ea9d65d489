"""Records stay cheap: an untouched record adds two small objects to its PV, and a
field costs memory only once touched (benchmarks/record_memory.py measures the same)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.record_memory import measure, touch_some

COUNT = 300


def test_an_untouched_ai_record_costs_little_over_a_plain_pv():
    plain = measure(COUNT, None)
    record = measure(COUNT, "ai")
    assert record["bytes_per_pv"] - plain["bytes_per_pv"] < 300
    assert record["objects_per_pv"] - plain["objects_per_pv"] <= 2.05


def test_touched_fields_cost_per_field():
    untouched = measure(COUNT, "ai")
    touched = measure(COUNT, "ai", touch_some)
    # about one gc-tracked object per touched field (4 here)
    assert 3.9 <= touched["objects_per_pv"] - untouched["objects_per_pv"] <= 4.5
