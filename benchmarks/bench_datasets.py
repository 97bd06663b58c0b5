"""How fast the Open Images box CSV is read, and with how much memory.

A synthetic ``*-annotations-bbox.csv`` in the exact V6 format (2,000,000 rows, ``--quick``: 200,000) is
written to a temporary folder with a small test split beside it. Each contender runs in a fresh
process (peak resident memory from ``resource.getrusage``, which includes the ~100 MB interpreter
and library baseline):

* ours: ``nbkit.datasets.openimages.load_openimages`` (streamed in 1M-row chunks, categorical and
  float32 columns, builds the sparse label matrix and the box table), cache off;
* baseline: what the authors' ``OpenImagesBBoxManager`` does, a plain ``pandas.read_csv`` of the
  whole file followed by ``groupby("LabelName").ImageID.unique()``.

The real V6 train file has 14.6 M rows; peak memory grows linearly in the baseline (the whole
frame) but only with the kept arrays (~22 bytes a row) in ours.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


_OURS = """
import json, resource, sys, time
from nbkit.datasets.openimages import load_openimages
t0 = time.perf_counter()
li = load_openimages(sys.argv[1], valid_rule="all", cache=False, progress=False)
dt = time.perf_counter() - t0
print(json.dumps([dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, int(li.Y.nnz)]))
"""

_BASELINE = """
import json, resource, sys, time
from pathlib import Path
import pandas as pd
t0 = time.perf_counter()
df = pd.read_csv(Path(sys.argv[1]) / "oidv6-train-annotations-bbox.csv")
label_to_imgs = {k: set(v) for k, v in df.groupby("LabelName").ImageID.unique().items()}
dt = time.perf_counter() - t0
pairs = sum(len(v) for v in label_to_imgs.values())
print(json.dumps([dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, pairs]))
"""


def _in_fresh_process(code: str, root: Path):
    """Run ``code`` in a new interpreter (so peak RSS is its own); returns its JSON line."""
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code, str(root)], cwd=repo, capture_output=True,
                         text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> list[dict]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from fixtures_formats import OI_BBOX_HEADER, write_synthetic_bbox_csv

    n = 200_000 if quick else 2_000_000
    with tempfile.TemporaryDirectory(prefix="nbkit-bench-oi-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        write_synthetic_bbox_csv(root / "oidv6-train-annotations-bbox.csv", n, seed=0)
        write_synthetic_bbox_csv(root / "test-annotations-bbox.csv", 1000, seed=1, id_offset=2**40)
        gen = time.perf_counter() - t0
        size_mb = (root / "oidv6-train-annotations-bbox.csv").stat().st_size / 2**20
        ours_s, ours_mb, ours_pairs = _in_fresh_process(_OURS, root)
        base_s, base_mb, base_pairs = _in_fresh_process(_BASELINE, root)
    assert OI_BBOX_HEADER  # the file is in the exact V6 format
    note = (f"{n:,} rows, {size_mb:.0f} MB (written in {gen:.1f} s); ours {n / ours_s:,.0f} rows/s, "
            f"peak RSS {ours_mb:.0f} MB, also builds Y ({ours_pairs:,} image-class pairs) and "
            f"boxes; baseline {n / base_s:,.0f} rows/s, peak RSS {base_mb:.0f} MB "
            f"({base_pairs:,} pairs)")
    return [{"stage": f"Open Images bbox CSV read ({n // 1000}k rows)", "ours_s": ours_s,
             "baseline": "pandas.read_csv whole file + groupby", "baseline_s": base_s,
             "note": note, "rows": n, "ours_rows_per_s": n / ours_s, "baseline_rows_per_s": n / base_s,
             "ours_peak_rss_mb": ours_mb, "baseline_peak_rss_mb": base_mb}]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
