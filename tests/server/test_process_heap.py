"""freeze_heap, which a host and a standalone IOC call once they serve, hands the C heap's
free pages back to the system (glibc's malloc_trim), so start-up's temporaries do not stay
in the process's resident memory, and collects the young generation less often."""
import platform
import subprocess
import sys
import textwrap

import pytest

glibc_only = pytest.mark.skipif(
    sys.platform != "linux" or platform.libc_ver()[0] != "glibc",
    reason="malloc_trim is glibc's; elsewhere freeze_heap only freezes")

SCRIPT = textwrap.dedent("""\
    from iochost.server.process import freeze_heap

    def rss_mb():
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) // 1024 for line in status
                        if line.startswith("VmRSS"))

    chunks = [bytes(1000) for _ in range(60_000)]  # ~60 MB of C heap (over pymalloc's 512 B)
    del chunks[:-1]  # freed, but the last one keeps the heap's top where it was
    before = rss_mb()
    freeze_heap()
    print(before, rss_mb())
    """)


@glibc_only
def test_freeze_heap_returns_freed_heap_memory_to_the_system():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    before, after = map(int, out.split())
    assert before - after >= 40, (before, after)


COLLECTIONS = textwrap.dedent("""\
    import gc
    from iochost.server.process import freeze_heap

    class Channel:  # as a circuit's channels: kept, and tracked by the collector
        __slots__ = ("data",)

    def young_collections(n):
        counted = []
        gc.callbacks.append(lambda phase, info: phase == "start" and counted.append(1))
        kept = []
        for _ in range(n):
            kept.append(Channel())
        gc.callbacks.clear()
        return len(counted)

    print(young_collections(5000), end=" ")
    freeze_heap()
    print(young_collections(5000))
    """)


def test_a_serving_process_collects_its_young_objects_less_often():
    # a client connecting thousands of channels makes as many long-lived objects at once
    out = subprocess.run([sys.executable, "-c", COLLECTIONS], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    before, after = map(int, out.split())
    assert before >= 5 and after == 0, (before, after)
