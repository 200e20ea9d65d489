"""Records stay cheap: an untouched record adds two small objects to its PV (its fields
object, and the PV's instance dict holding what a plain PV leaves to its class: the record
type), and a field costs memory only once touched.

The figures come from ``benchmarks/record_memory.py`` run in a fresh interpreter: inside the
test process the session's server thread and client callbacks allocate objects of their
own while a measurement runs.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def figures():
    out = subprocess.run([sys.executable, "-m", "benchmarks.record_memory", "--count", "300",
                          "--json"], cwd=ROOT, capture_output=True, text=True, check=True,
                         timeout=120).stdout
    return json.loads(out)


def test_an_untouched_ai_record_costs_little_over_a_plain_pv(figures):
    plain = figures["plain float pvproperty"]
    record = figures["record='ai', no field touched"]
    assert record["bytes_per_pv"] - plain["bytes_per_pv"] < 450
    assert record["objects_per_pv"] - plain["objects_per_pv"] <= 2.05


def test_touched_fields_cost_per_field(figures):
    untouched = figures["record='ai', no field touched"]
    touched = figures["record='ai', 4 fields touched"]
    # about one gc-tracked object per touched field (4 here), plus the dict of the fields
    # made so far (an untouched record has none)
    assert 4.9 <= touched["objects_per_pv"] - untouched["objects_per_pv"] <= 5.5
