"""Side-by-side performance harness: iochost vs caproto's server vs EPICS' RSRV (softioc).

Run ``python -m benchmarks`` from the repository root (``--quick`` for a smoke run); see
``benchmarks/RESULTS.md`` for the last committed figures.
"""
