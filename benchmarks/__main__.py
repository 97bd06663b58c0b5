"""Run every benchmark module and print our time, the baseline's time (same run) and the ratio."""
from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    ap.add_argument("names", nargs="*", help="only these modules (e.g. bench_graph)")
    ap.add_argument("--quick", action="store_true", help="smaller inputs (seconds, for a smoke check)")
    ap.add_argument("--json", type=Path, help="also write all rows to this JSON file")
    args = ap.parse_args(argv)
    here = Path(__file__).parent
    mods = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    if args.names:
        mods = [m for m in mods if m in args.names or m.removeprefix("bench_") in args.names]
    rows = []
    for name in mods:
        mod = importlib.import_module(f"benchmarks.{name}")
        t0 = time.perf_counter()
        print(f"== {name}", flush=True)
        for r in mod.run(quick=args.quick):
            ours, base = r.get("ours_s"), r.get("baseline_s")
            ratio = (base / ours) if (ours and base) else None
            r = {"module": name, **r, "speedup": ratio}
            rows.append(r)
            fmt = lambda x: "n/a" if x is None else f"{x:9.4f}"  # noqa: E731
            print(f"  {r['stage']:<48} ours {fmt(ours)} s   {r.get('baseline', 'baseline')}: "
                  f"{fmt(base)} s   speedup {'n/a' if ratio is None else f'{ratio:8.1f}x'}"
                  + (f"   ({r['note']})" if r.get("note") else ""), flush=True)
        print(f"   [{name}: {time.perf_counter() - t0:.1f} s]", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
