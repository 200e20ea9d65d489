"""Memory of record-backed PVs: bytes and live objects per ai record.

    .venv/bin/python -m benchmarks.record_memory [--count 1000] [--json]

Builds one PVGroup of ``count`` float pvproperties three times -- plain, ``record='ai'``,
and ``record='ai'`` with some fields touched as a client would (``.DESC``, ``.SCAN``,
``.HIHI``, ``.SEVR``) and then every field -- and reports the memory each PV costs
(``tracemalloc``, after the group's class and the field tables exist) and the objects the
garbage collector tracks per PV.  No network: the channels are only created.
"""
from __future__ import annotations

import argparse
import gc
import json
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

from iochost import PVGroup, pvproperty
from iochost.records import record_class

TOUCHED = ("DESC", "SCAN", "HIHI", "SEVR")


def ioc_class(count: int, record: str | None) -> type[PVGroup]:
    body = {f"pv{i}": pvproperty(value=0.0, record=record) for i in range(count)}
    return type("Bench", (PVGroup,), body)


def measure(count: int, record: str | None, touch: Callable[[Any], None] | None = None
            ) -> dict[str, float]:
    """Bytes and gc-tracked objects per PV for one group of ``count`` PVs."""
    cls = ioc_class(count, record)
    cls(prefix="warm:")   # the class tables, field specs and interned metadata exist now
    gc.collect()
    objects_before = len(gc.get_objects())
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    ioc = cls(prefix="bench:")
    if touch is not None:
        for channel in ioc.pvdb.values():
            touch(channel)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    objects = len(gc.get_objects()) - objects_before
    result = {"bytes_per_pv": (after - before) / count, "objects_per_pv": objects / count}
    del ioc
    return result


def touch_some(channel: Any) -> None:
    for name in TOUCHED:
        channel.get_field(name)


def touch_all(channel: Any) -> None:
    for name in record_class("ai").served_fields():
        channel.get_field(name)


def run(count: int) -> dict[str, dict[str, float]]:
    plain = measure(count, None)
    results = {
        "plain float pvproperty": plain,
        "record='ai', no field touched": measure(count, "ai"),
        f"record='ai', {len(TOUCHED)} fields touched": measure(count, "ai", touch_some),
        "record='ai', every field touched": measure(count, "ai", touch_all),
    }
    for row in results.values():
        row["extra_bytes_vs_plain"] = row["bytes_per_pv"] - plain["bytes_per_pv"]
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="PVs per group")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    results = run(args.count)
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
        return
    print(f"{'case':<36} {'bytes/PV':>10} {'extra':>10} {'objects/PV':>11}")
    for case, row in results.items():
        print(f"{case:<36} {row['bytes_per_pv']:>10.0f} {row['extra_bytes_vs_plain']:>10.0f} "
              f"{row['objects_per_pv']:>11.1f}")


if __name__ == "__main__":
    main()
