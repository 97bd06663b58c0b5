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

**Load and scale** (issue #11 §5): the largest real-shaped input, a seeded synthetic label table of
1,700,000 train images x 600 classes (the real boxable MIDs, so the shipped hierarchy and trainable
list apply), ~10 labels per image with Zipf-like class frequencies (one box per label), written in
the upstream CSV format (``class-descriptions-boxable.csv`` + ``oidv6-train-annotations-bbox.csv``
+ a 1/20-size ``test-annotations-bbox.csv``) to a temporary folder. One fresh process runs
``python -m nbkit triggers --dataset openimages:DIR`` on an empty cache (the Open Images adapter
reads, decodes and caches the table; then co-occurrence, centrality and poisonable subsets, i.e.
notebooks 02-04), a second the same command on the warm cache. Each reports its wall time and peak
RSS; the budget is 4 GB. ``--quick``: 100,000 images.
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


def _in_fresh_process(code: str, root: Path, env: dict | None = None):
    """Run ``code`` in a new interpreter (so peak RSS is its own); returns its JSON line."""
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code, str(root)], cwd=repo, capture_output=True,
                         text=True, timeout=3600, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


_TRIGGERS = """
import json, resource, sys, time
from nbkit.cli import main
t0 = time.perf_counter()
rc = main(["triggers", "--dataset", "openimages:" + sys.argv[1], "--top", "10", "--no-progress",
           "--out", sys.argv[1] + "/triggers.json"])
dt = time.perf_counter() - t0
print(json.dumps([dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, rc]))
"""

SCALE_FULL = dict(n_images=1_700_000, n_classes=600, labels_per_image=10.0, zipf=1.0)
SCALE_QUICK = dict(n_images=100_000, n_classes=600, labels_per_image=10.0, zipf=1.0)


def write_openimages_table(root: Path, n_images: int, n_classes: int = 600,
                           labels_per_image: float = 10.0, zipf: float = 1.0, seed: int = 0) -> dict:
    """Write a seeded synthetic Open Images label table in the upstream CSV format under ``root``.

    Classes are the first ``n_classes`` boxable MIDs shipped in ``nbkit/data`` (with their display
    names in ``class-descriptions-boxable.csv``); labels come from
    ``nbkit.graph.synthetic_label_matrix`` (train: ``seed``; test, 1/20 of the images:
    ``seed + 1``), one box row per (image, class), rows grouped by image as in the real files.
    Returns the row and image counts.
    """
    import numpy as np
    import pandas as pd

    from nbkit.datasets import packaged
    from nbkit.graph import synthetic_label_matrix

    from fixtures_formats import OI_BBOX_HEADER

    desc = pd.read_csv(packaged("class-descriptions-boxable.csv"), dtype=str).iloc[:n_classes]
    desc.to_csv(root / "class-descriptions-boxable.csv", index=False)
    mids = desc["LabelName"].to_numpy(dtype=object)
    out = {}
    for split, fname, n, s, off in (("train", "oidv6-train-annotations-bbox.csv", n_images, seed, 0),
                                    ("test", "test-annotations-bbox.csv", max(n_images // 20, 1000),
                                     seed + 1, 2 ** 40)):
        Y = synthetic_label_matrix(n, n_classes, labels_per_image, zipf, seed=s)
        rng = np.random.default_rng(s)
        with open(root / fname, "w", encoding="utf-8") as fh:
            fh.write(OI_BBOX_HEADER + "\n")
            step = 100_000
            for a in range(0, n, step):
                b = min(n, a + step)
                lo, hi = Y.indptr[a], Y.indptr[b]
                rows = np.repeat(np.arange(a, b), np.diff(Y.indptr[a:b + 1]))
                xy = np.sort(rng.random((hi - lo, 2, 2)), axis=2)
                df = pd.DataFrame({"ImageID": [f"{i + off:016x}" for i in rows], "Source": "xclick",
                                   "LabelName": mids[Y.indices[lo:hi]], "Confidence": 1,
                                   "XMin": xy[:, 0, 0], "XMax": xy[:, 0, 1], "YMin": xy[:, 1, 0],
                                   "YMax": xy[:, 1, 1], "IsOccluded": 0, "IsTruncated": 0,
                                   "IsGroupOf": 0, "IsDepiction": 0, "IsInside": 0})
                df.to_csv(fh, header=False, index=False, float_format="%.6f")
        out[split] = {"images": n, "rows": int(Y.nnz)}
    return out


def run_scale(quick: bool = False) -> list[dict]:
    """The #11 §5 load-and-scale check: triggers on a 1.7M-image table, cold and warm cache."""
    import os

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    p = SCALE_QUICK if quick else SCALE_FULL
    with tempfile.TemporaryDirectory(prefix="nbkit-bench-oi-scale-") as tmp:
        root = Path(tmp) / "openimages"
        root.mkdir()
        t0 = time.perf_counter()
        counts = write_openimages_table(root, **p, seed=0)
        gen = time.perf_counter() - t0
        size_mb = sum(f.stat().st_size for f in root.iterdir()) / 2 ** 20
        env = dict(os.environ, NBKIT_CACHE=str(Path(tmp) / "cache"))
        cold_s, cold_mb, rc1 = _in_fresh_process(_TRIGGERS, root, env=env)
        warm_s, warm_mb, rc2 = _in_fresh_process(_TRIGGERS, root, env=env)
        assert rc1 == rc2 == 0, "python -m nbkit triggers failed"
        triggers = json.loads((root / "triggers.json").read_text())
        cache_mb = sum(f.stat().st_size for f in (Path(tmp) / "cache").glob("openimages-*.npz")) / 2 ** 20
    tr = counts["train"]
    shape = (f"{tr['images']:,} train images ({tr['rows']:,} rows, {tr['rows'] / tr['images']:.2f} "
             f"labels/image) + {counts['test']['images']:,} test, {p['n_classes']} classes, Zipf "
             f"{p['zipf']}, seed 0; CSVs {size_mb:.0f} MB written in {gen:.0f} s")
    budget = 4096
    return [
        {"stage": "triggers on Open Images, cold cache (load, cache, 02-04)", "ours_s": cold_s,
         "baseline": "none", "baseline_s": None, "ours_peak_rss_mb": cold_mb,
         "within_4gb": cold_mb <= budget,
         "note": f"{shape}; peak RSS {cold_mb:.0f} MB of {budget} MB; cache {cache_mb:.0f} MB; "
                 f"{len(triggers)} triggers"},
        {"stage": "triggers on Open Images, warm cache (02-04)", "ours_s": warm_s,
         "baseline": "none", "baseline_s": None, "ours_peak_rss_mb": warm_mb,
         "within_4gb": warm_mb <= budget,
         "note": f"peak RSS {warm_mb:.0f} MB of {budget} MB"},
    ]


def run(quick: bool = False) -> list[dict]:
    return run_read(quick) + run_scale(quick)


def run_read(quick: bool = False) -> list[dict]:
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
