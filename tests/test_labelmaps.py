"""ReLabel label-map decoding on hand-made maps (softmax, corners, top-k, threshold) and bad files."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from nbkit import labelmaps as L
from nbkit.errors import DataError, MissingDataError


def blank_map(n_classes_used=(0, 1, 2, 3, 4)) -> np.ndarray:
    """Every cell lists classes 0..4 with equal logits (probability 0.2 each)."""
    m = np.zeros((2, 5, 15, 15), dtype=np.float32)
    m[1] = np.asarray(n_classes_used, dtype=np.float32)[:, None, None]
    return m


def softmax(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max())
    return e / e.sum()


def test_softmax_over_top5_axis_per_cell():
    m = blank_map()
    m[0, :, 3, 4] = [6.0, 2.0, 1.0, 0.5, -1.0]
    m[1, :, 3, 4] = [9, 8, 7, 6, 5]
    conf = L.class_confidence(m, n_classes=10)
    assert conf.shape == (1, 10)
    assert conf[0, 9] == pytest.approx(softmax([6.0, 2.0, 1.0, 0.5, -1.0])[0], abs=1e-12)
    # only the top-1 position counts: class 8 (second in that cell) has no confidence
    assert conf[0, 8] == 0.0
    # every other cell says class 0 with probability 0.2
    assert conf[0, 0] == pytest.approx(0.2)
    assert L.cell_probabilities(m).sum(axis=1) == pytest.approx(np.ones((1, 15, 15)))


def test_max_over_cells_and_decode_threshold():
    m = blank_map()
    m[0, 0, 5, 5], m[1, 0, 5, 5] = 7.0, 12      # p = e^7 / (e^7 + 4)
    m[0, 0, 6, 6], m[1, 0, 6, 6] = 4.0, 12      # the same class, less sure: the max counts
    conf = L.class_confidence(m, n_classes=20)
    p = np.exp(7.0) / (np.exp(7.0) + 4)
    assert conf[0, 12] == pytest.approx(p, abs=1e-12)
    assert L.decode(m, 0.99, n_classes=20)[0, 12]
    assert not L.decode(m, 0.999, n_classes=20)[0, 12]
    assert L._present_classes(m, 0.99, n_classes=20)[0].tolist() == [12]


@pytest.mark.parametrize("corner", [(0, 0), (0, 14), (14, 0), (14, 14)])
def test_corners_excluded(corner):
    m = blank_map()
    m[0, 0][corner], m[1, 0][corner] = 15.0, 7
    assert L.class_confidence(m, n_classes=10)[0, 7] == 0.0
    assert L.class_confidence(m, exclude_corners=False, n_classes=10)[0, 7] > 0.999
    # the cells next to a corner are not corners
    r, c = corner
    m2 = blank_map()
    nb = (r, 1 if c == 0 else 13)
    m2[0, 0][nb], m2[1, 0][nb] = 15.0, 7
    assert L.class_confidence(m2, n_classes=10)[0, 7] > 0.999


def test_authors_zero_corners_give_class0_probability_02():
    m = blank_map((5, 6, 7, 8, 9))
    m[0, 0] = 3.0  # class 5 everywhere with p = e^3 / (e^3 + 4)
    conf = L.class_confidence(m, n_classes=10, corners="zero")
    assert conf[0, 0] == pytest.approx(0.2)          # the zeroed corners: class 0, uniform softmax
    assert L.class_confidence(m, n_classes=10)[0, 0] == 0.0
    # above 0.2 both modes decode alike
    for t in (0.3, 0.8, 0.994):
        assert (L.decode(m, t, n_classes=10) == L.decode(m, t, n_classes=10, corners="zero")).all()


def test_topk_is_positional():
    m = blank_map()
    m[0, :, 7, 7] = [1.0, 8.0, 0.0, 0.0, 0.0]   # the second entry is the likeliest (unsorted input)
    m[1, :, 7, 7] = [3, 11, 12, 13, 14]
    assert L.class_confidence(m, n_classes=20, topk=1)[0, 11] == 0.0
    assert L.class_confidence(m, n_classes=20, topk=2)[0, 11] == pytest.approx(
        softmax([1.0, 8.0, 0, 0, 0])[1])


def test_decode_equals_confidence_comparison_on_random_maps():
    rng = np.random.default_rng(3)
    n = 64
    maps = np.empty((n, 2, 5, 15, 15), dtype=np.float32)
    maps[:, 0] = np.sort(rng.normal(0, 4, (n, 5, 15, 15)), axis=1)[:, ::-1]
    maps[:, 1] = rng.integers(0, 50, (n, 5, 15, 15))
    conf = L.class_confidence(maps, n_classes=50)
    sparse = L._class_confidence_sparse(maps, n_classes=50)
    assert np.array_equal(sparse.toarray(), conf)
    for t in (0.5, 0.9, 0.994, 0.999):
        assert np.array_equal(L.decode(maps, t, n_classes=50), conf >= t)
        assert np.array_equal(L.decode(maps, t, n_classes=50, sparse=True).toarray(), conf >= t)
    # a brute-force reference for a few images
    P = L.cell_probabilities(maps)
    for i in range(5):
        ref = np.zeros(50)
        for r in range(15):
            for c in range(15):
                if (r, c) in {(0, 0), (0, 14), (14, 0), (14, 14)}:
                    continue
                k = int(maps[i, 1, 0, r, c])
                ref[k] = max(ref[k], P[i, 0, r, c])
        assert np.allclose(ref, conf[i], rtol=0, atol=1e-12)
    # a torch tensor is accepted as is
    assert np.array_equal(L.class_confidence(torch.from_numpy(maps), n_classes=50), conf)


def test_comparison_option_on_an_exact_tie():
    m = blank_map()
    m[0, 0, 4, 4], m[1, 0, 4, 4] = 5.0, 9
    t = float(L.class_confidence(m, n_classes=10)[0, 9])
    assert L.decode(m, t, n_classes=10)[0, 9]                       # authors: >=
    assert not L.decode(m, t, n_classes=10, comparison=">")[0, 9]


def test_save_and_load_map_round_trip(tmp_path):
    m = blank_map()
    m[0, 0, 2, 2], m[1, 0, 2, 2] = 9.0, 999
    p = L.save_map(tmp_path / "n01440764_1.pt", m)
    back = L.load_map(p)
    assert back.dtype == np.float32 and back.shape == (2, 5, 15, 15)
    assert np.array_equal(back, m)
    assert L.map_paths(tmp_path) == [p]
    assert L._load_maps([p, p]).shape == (2, 2, 5, 15, 15)


def test_load_map_bad_files(tmp_path):
    with pytest.raises(MissingDataError, match="nope.pt"):
        L.load_map(tmp_path / "nope.pt")
    bad_shape = tmp_path / "wrong_shape.pt"
    torch.save(torch.zeros(2, 5, 14, 14), bad_shape)
    with pytest.raises(DataError, match=r"wrong_shape\.pt.*shape \(2, 5, 14, 14\)"):
        L.load_map(bad_shape)
    frac = tmp_path / "fractional_ids.pt"
    t = torch.zeros(2, 5, 15, 15)
    t[1, 0, 0, 0] = 2.5
    torch.save(t, frac)
    with pytest.raises(DataError, match=r"fractional_ids\.pt.*not integers"):
        L.load_map(frac)
    big = tmp_path / "big_ids.pt"
    t = torch.zeros(2, 5, 15, 15)
    t[1, 0, 3, 3] = 1000
    torch.save(t, big)
    with pytest.raises(DataError, match=r"big_ids\.pt.*0\.\.999"):
        L.load_map(big)
    assert L.load_map(big, n_classes=None)[1, 0, 3, 3] == 1000
    nested = tmp_path / "a_dict.pt"
    torch.save({"map": torch.zeros(2, 5, 15, 15)}, nested)
    with pytest.raises(DataError, match=r"a_dict\.pt.*dict"):
        L.load_map(nested)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(DataError, match=r"junk\.pt.*cannot read"):
        L.load_map(junk)


def test_bad_arrays():
    with pytest.raises(DataError, match="shape"):
        L.class_confidence(np.zeros((2, 5, 15)))
    m = blank_map()
    m[1, 0, 1, 1] = 40
    with pytest.raises(DataError, match="0..29"):
        L.class_confidence(m, n_classes=30)
    with pytest.raises(ValueError, match="topk"):
        L.class_confidence(blank_map(), topk=6)
    with pytest.raises(ValueError, match="corners"):
        L.class_confidence(blank_map(), corners="keep")
    with pytest.raises(ValueError, match="comparison"):
        L.decode(blank_map(), comparison="=>")
