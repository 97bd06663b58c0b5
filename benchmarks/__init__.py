"""Benchmarks: ``python -m benchmarks`` (``make bench``).

Each ``benchmarks/bench_*.py`` module defines ``run(quick: bool = False) -> list[dict]``; each dict has
``stage``, ``ours_s``, ``baseline`` (what the baseline is), ``baseline_s`` and optional ``note``. Both
timings are measured in the same run; the runner prints the ratio. No timing is ever asserted.
"""
