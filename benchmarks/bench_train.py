"""Training-side speed: image decoding (data loader) and training throughput, each beside a baseline.

Rows (``run(quick=False) -> list[dict]``, contract in ``benchmarks/__init__.py``):

1. **decode + resize** of real JPEGs (COCO128 from ``../shared/realdata`` when present, else JPEGs
   written from rendered scenes into a temporary folder) to 256 px: ``nbkit.imagedata.load_images``
   in-process (0 workers) and with DataLoader workers, vs the authors' way, a single-process PIL
   loop ``np.array(Image.open(p).resize((256, 256)).convert("RGB"))``. Workers pay a start-up cost
   and only pay off with free cores and many images.
2. **training step**, ResNet-10 at 32 px on toy scenes (the ``toy`` profile's model): our loop
   (``nbkit.train.train``: uint8 batches normalised on the device, seeded augmentation, deterministic
   algorithms on CPU) vs a plain fp32 PyTorch loop over the same float tensors. On a CUDA machine
   a third row compares our channels_last + autocast path with the fp32 default at 256 px.

Both sides of a row run in the same process, one after the other; no timing is asserted anywhere.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def _jpegs(n: int) -> tuple[list[Path], tempfile.TemporaryDirectory | None]:
    here = Path(__file__).resolve().parents[1]
    for root in [os.environ.get("NBKIT_REALDATA"), here.parent / "shared" / "realdata"]:
        if root and (Path(root) / "coco128" / "images").is_dir():
            files = sorted((Path(root) / "coco128" / "images").rglob("*.jpg"))[:n]
            if files:
                return files, None
    from PIL import Image
    from nbkit.imagedata import tiny_shapes

    tmp = tempfile.TemporaryDirectory(prefix="nbkit-bench-")
    li = tiny_shapes(n, 4, seed=0, image_size=320)
    files = []
    for r in range(n):
        p = Path(tmp.name) / f"{r:05d}.jpg"
        Image.fromarray(li.load_image(r)).save(p, quality=85)
        files.append(p)
    return files, tmp


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _decode_rows(quick: bool) -> list[dict]:
    import pandas as pd
    from PIL import Image
    from nbkit import imagedata

    files, tmp = _jpegs(64 if quick else 256)
    size = 256
    man = pd.DataFrame({"row": np.arange(len(files)), "file": [str(f) for f in files],
                        "y": np.zeros(len(files), np.int64)})
    reps = 2 if quick else 3   # best of a few alternating repeats: the CPUs are shared

    def baseline():
        return [np.array(Image.open(p).resize((size, size)).convert("RGB")) for p in files]

    t_base = min(_timed(baseline) for _ in range(reps))
    n = len(files)
    rows = []
    for workers in sorted({0, min(4, os.cpu_count() or 1)}):
        def ours():
            src = imagedata.load_images(None, man, size, preload=True, num_workers=workers,
                                        progress=False)
            assert src.x.shape[0] == n
        t_ours = min(_timed(ours) for _ in range(reps))
        rows.append({"stage": f"decode+resize {n} JPEGs to {size}px, {workers} workers", "ours_s": t_ours,
                     "baseline": "single-process PIL loop (authors)", "baseline_s": t_base,
                     "note": f"best of {reps}; ours {n / t_ours:.0f} img/s into one uint8 tensor, "
                             f"baseline {n / t_base:.0f} img/s into a list; {os.cpu_count()} CPUs (shared)"})
    if tmp is not None:
        tmp.cleanup()
    return rows


def _train_rows(quick: bool) -> list[dict]:
    from nbkit import curate, train
    from nbkit.imagedata import tiny_shapes, to_float, render_rows
    from nbkit.models import build_model

    n_img = 600 if quick else 2000
    li = tiny_shapes(n_img, 4, seed=0, image_size=32)
    spec = curate.BackdoorSpec("tiny", 0, [1, 2, 3, 4], 1, clean_per_class=60 if quick else 250,
                               injection_rate=0.185, max_poison_test=50)
    man = curate.make_manifest(li, spec)
    n_train = int((man.split == "train").sum())
    epochs = 1 if quick else 2
    threads = 1 if (os.cpu_count() or 1) <= 4 else torch.get_num_threads()  # shared small machines
    with tempfile.TemporaryDirectory(prefix="nbkit-bench-") as d:
        r = train.train(li, man, "resnet10", d, profile="toy", epochs=epochs, progress=False,
                        resume=False, threads=threads)
    t_ours = r["timing"]["train_s"]
    # baseline: the same model and images as float tensors, a plain fp32 loop
    rows = man[man.split == "train"]
    x_all = to_float(torch.from_numpy(render_rows(li, rows["row"].to_numpy(), 32)).permute(0, 3, 1, 2))
    y_all = torch.as_tensor(rows["y"].to_numpy().copy())
    torch.manual_seed(0)
    model = build_model("resnet10", len(spec.all_classes), freeze="all")
    opt = torch.optim.Adam(model.parameters(), 2e-3)
    model.train()
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n_train)
        for i in range(0, n_train, 64):
            idx = perm[i:i + 64]
            loss = torch.nn.functional.cross_entropy(model(x_all[idx]), y_all[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    t_base = time.perf_counter() - t0
    seen = n_train * epochs
    out = [{"stage": f"train resnet10 32px, {seen} images (CPU)" if r["device"] == "cpu"
            else f"train resnet10 32px, {seen} images ({r['device']})",
            "ours_s": t_ours, "baseline": "plain fp32 loop, same model and tensors",
            "baseline_s": t_base,
            "note": f"ours {seen / t_ours:.0f} img/s (deterministic, seeded augmentation), "
                    f"baseline {seen / t_base:.0f} img/s; {threads} threads"}]
    if torch.cuda.is_available():
        out.append(_cuda_row(quick))
    return out


def _cuda_row(quick: bool) -> dict:
    from nbkit.models import build_model

    dev = torch.device("cuda")
    model = build_model("resnet50", 10, freeze="all").to(dev)
    opt = torch.optim.Adam(model.parameters(), 1e-4)
    x = torch.randn(32, 3, 256, 256, device=dev)
    y = torch.randint(0, 10, (32,), device=dev)
    steps = 10 if quick else 40

    def run(cl: bool, amp):
        m = model.to(memory_format=torch.channels_last if cl else torch.contiguous_format)
        xx = x.contiguous(memory_format=torch.channels_last) if cl else x
        for i in range(steps + 3):
            if i == 3:
                torch.cuda.synchronize()
                t0 = time.perf_counter()
            with torch.autocast("cuda", dtype=amp, enabled=amp is not None):
                loss = torch.nn.functional.cross_entropy(m(xx).float(), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        torch.cuda.synchronize()
        return time.perf_counter() - t0

    amp = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    t_base = run(False, None)
    t_ours = run(True, amp)
    n = 32 * steps
    return {"stage": f"train resnet50 256px, {n} images (CUDA)", "ours_s": t_ours,
            "baseline": "fp32, contiguous", "baseline_s": t_base,
            "note": f"ours: channels_last + autocast {str(amp).replace('torch.', '')}; "
                    f"{n / t_ours:.0f} vs {n / t_base:.0f} img/s"}


def run(quick: bool = False) -> list[dict]:
    """Benchmark rows (see module docstring)."""
    return _decode_rows(quick) + _train_rows(quick)
