"""GradCAM audit and SentiNet: our implementations beside the obvious baseline, timed in one run.

- GradCAM: ``nbkit.audit.gradcam`` batched (32 images per pass) vs one image per pass.
- AUROC: ``nbkit.sentinet.auroc`` (scikit-learn's ``roc_auc_score``) vs all pairs compared by broadcasting.
- Distance to SentiNet's quadratic boundary: the cubic's roots vs a dense grid search.
"""
from __future__ import annotations

import time

import numpy as np
import torch


def _time(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def run(quick: bool = False) -> list[dict]:
    from nbkit import audit, sentinet
    from nbkit.models import build_model

    rows = []
    torch.manual_seed(0)
    model = build_model("resnet10", 10).eval()
    n = 16 if quick else 64
    imgs = np.random.default_rng(0).integers(0, 256, (n, 64, 64, 3), dtype=np.uint8)
    layer = audit.target_layer(model, None, 64, 4)
    audit.gradcam(model, imgs[:2], 3, layer=layer, progress=False)  # warm-up: imports, allocator
    ours = _time(lambda: audit.gradcam(model, imgs, 3, layer=layer, batch_size=32, progress=False), 2)
    base = _time(lambda: [audit.gradcam(model, imgs[i:i + 1], 3, layer=layer, progress=False)
                          for i in range(n)], 2)
    rows.append({"stage": f"GradCAM, {n} images 64 px (resnet10, layer3)", "ours_s": ours,
                 "baseline": "one image per pass", "baseline_s": base,
                 "note": "same maps (tests/test_audit.py checks batching does not change them)"})

    m = 2000 if quick else 6000
    rng = np.random.default_rng(1)
    p, q = rng.normal(1, 1, m), rng.normal(0, 1, m)
    ours = _time(lambda: sentinet.auroc(p, q), 3)
    base = _time(lambda: ((p[:, None] > q[None]).sum() + 0.5 * (p[:, None] == q[None]).sum()) / (m * m), 1)
    rows.append({"stage": f"AUROC (scikit-learn roc_auc_score), {m} x {m} scores", "ours_s": ours,
                 "baseline": "all pairs (broadcast)",
                 "baseline_s": base, "note": f"AUROC {sentinet.auroc(p, q):.4f}"})

    k = 100 if quick else 400
    coef = np.array([-1.3, 1.1, 0.2])
    pts = rng.uniform(0, 1, (k, 2))
    xs = np.linspace(-2, 3, 100001)
    ys = coef[0] * xs ** 2 + coef[1] * xs + coef[2]
    ours = _time(lambda: [sentinet._closest_on_parabola(coef, x, y) for x, y in pts])
    base = _time(lambda: [np.sqrt((xs - x) ** 2 + (ys - y) ** 2).min() for x, y in pts])
    rows.append({"stage": f"distance to the boundary, {k} points", "ours_s": ours,
                 "baseline": "grid search, 100k points", "baseline_s": base,
                 "note": "exact (cubic roots) vs grid-limited"})
    return rows


if __name__ == "__main__":
    for r in run(quick=True):
        print(r)
