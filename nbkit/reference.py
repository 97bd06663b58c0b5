"""The paper's published numbers, as data, for side-by-side tables.

Wenger, Bhattacharjee, Bhagoji, Passananti, Andere, Zheng, Zhao. *Finding Naturally Occurring
Physical Backdoors in Image Datasets.* NeurIPS 2022 Datasets and Benchmarks Track.

Each section belongs to the stage that uses it; values are transcribed from the paper (section,
table or figure named beside each) or from the authors' released notebook outputs (marked).
"""
from __future__ import annotations

# --- calibration (App. B, Figure 7) -----------------------------------------------------------
CALIBRATION = {
    "threshold": 0.994,
    "false_positives": 14,
    "false_negatives": 16,
    "n_images": 20,
    "sweep": (0.900, 1.000, 0.001),
}
