"""Toy scenes: a seeded, procedurally drawn multi-label image dataset that needs no download.

The whole paper can be walked through on a laptop CPU with it: co-occurrence graph, central
triggers, poisonable subsets, a trained natural backdoor, GradCAM / SentiNet, and the ReLabel
threshold calibration (toy label maps in the exact ReLabel format).

Two generations
---------------
``load_toyscenes(version=2)`` (the default; ``toyscenes`` in a dataset spec) and
``load_toyscenes(version=1)`` (``toyscenes?version=1``), the first generation, kept so that results
made with it stay reproducible (same pixels, labels and boxes; pinned by checksums in the tests).
:func:`generation` returns a generation's :class:`ToyModel` (classes, hubs, themes, labeller).

What is in a scene
------------------
Every class is a (shape, colour, texture) triple that is distinct at 32 x 32 px: ten shapes (disc,
square, triangle, ring, cross, star, bar, diamond, hexagon, crescent), eleven saturated colours,
solid / striped / dotted / checkered fills; no two classes share a shape and a colour. Every image
(default 64 x 64 RGB) has a muted, wavy, noisy background, one large *dominant* object and up to 3
*secondary* objects drawn on top of it (hubs last, so a trigger is never hidden). Every object has a
box ``x0 y0 x1 y1`` (normalised, the square its shape is inscribed in; always inside the image).

Generation 2 (96 classes, 48,000 scenes): graded co-occurrence
--------------------------------------------------------------
Built so that each of the paper's claims *can* hold or fail on the data (issue #10):

- **Pair affinities on a continuum.** 88 regular classes in 11 themes of 8 (``generation().themes``). The
  affinity of two regular classes is ``exp(1.3 z)`` (``z`` standard normal, symmetric: a heavy,
  log-normal tail), times 4 within a theme: themes are a prior, not a wall. A scene's dominant
  class takes Poisson(0.65) regular secondaries in proportion to its affinities. Pair counts then
  spread over every scale (most pairs under 15 images, a long tail above 100; ~15 % of the jeans
  hub's candidate pairs share 15-100 images), so raising the graph threshold W from 20 to 60
  changes the maximum independent set and lets classes that share images into it.
- **Salient secondaries.** Dominant objects 0.46-0.62 of the image side, secondaries 0.28-0.40 and
  hubs 0.30-0.40: a second class in a clean image is really visible (what costs clean accuracy).
- **Hubs with different profiles** (``HUBS``, ``generation().hub_affinity`` = P(hub | dominant class)): two
  *broad* hubs beside every class at ~0.11 (the striped blue bar, "jeans", and the dotted cyan
  diamond, "sunglasses": many medium links), a *strong* hub (black ring, "wheel": 10 classes at
  ~0.75), a *theme* hub central in one dense theme (dotted brown hexagon, "chair"), a *bridge*
  between two themes that otherwise avoid each other (checkered white square, "chain-link fence")
  and three *regional* hubs over 3 themes each ("website", "tree", "window"). At W = 15 the eight
  centrality variants rank three different hubs first, and the two broad hubs' poisonable subsets
  share more than 30 classes (App. D).
- Class frequencies follow a long tail (``(rank + 8) ** -0.8``), so some classes have too few
  clean or poison images to be eligible, as on real data.

The class-level design (theme of each class, affinities, hub rates) comes from a fixed design seed
(``_V2_DESIGN_SEED``): the same for every dataset seed; the dataset seed draws the scenes.

Generation 1 (30 classes, 24,000 scenes): themes as walls
---------------------------------------------------------
26 regular classes in 12 themes; a theme partner with probability 0.5, a random other class with
0.04 (~4 co-occurrences per cross-theme pair, under any edge threshold 15-60), 4 hubs at
0.25-0.30 per theme. Its pair counts are either tiny or in the hundreds, so W = 15-60 gives the
same MIS and all eight centralities pick the same hub; its labeller was tuned to cross near 0.994.

Determinism
-----------
Scene ``row`` of dataset ``seed`` is drawn from its own stream,
``Generator(PCG64(SeedSequence(seed, spawn_key=(row,))))`` (the ``row``-th child of
``SeedSequence(seed).spawn``), so a scene does not depend on ``n_images`` (the first 1,000 scenes of
the 24,000-image dataset are the 1,000-image dataset), and the same seed gives the same labels,
boxes and pixels on any machine (pure numpy drawing, no fonts or OS calls). Pixels are rendered
lazily from the stored layout (``render_batch``, vectorised: several thousand images/s on one core).

Splits: every image is ``"train"``; curation (``nbkit.curate``) draws its own clean/poison
train/test split.

Label maps
----------
:func:`labelmaps` simulates an imperfect ReLabel labeller (per generation: ``LABELLER_V2`` was set
once from its description and never adjusted to a sweep, ``_LABELLER_V1`` was tuned to 0.994) (``2 x 5 x 15 x 15`` maps, toy class ids
``0..len(CLASSES)-1``): cells covered by an object get that class as top-1, surer for larger objects
and better-covered cells; small secondary objects are less sure (false negatives at high
thresholds); each image has a few confusions (a look-alike class, high confidence: false positives
at low thresholds); background cells carry random classes at low confidence; corner cells are
sometimes confidently wrong (which is why the authors exclude them).
"""
from __future__ import annotations

import csv
import dataclasses
import io as _io
import os
from collections import OrderedDict
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import DataError
from ..labelindex import LabelIndex

__all__ = ["CLASSES", "HUBS", "HUB_IDS", "generation", "LABELLER_V2", "load_toyscenes",
           "render_batch", "labelmaps", "write_relabel_sample"]


# ============================================================================ the classes
class _ToyClass(NamedTuple):
    """One toy object class."""

    label: str      #: unique slug, e.g. ``"striped_blue_bar"``
    name: str       #: readable name, e.g. ``"striped blue bar"``
    shape: str
    colour: str
    texture: str    #: solid | striped | dotted | checkered
    theme: str      #: scene theme, or ``"hub"``
    echoes: str     #: for hubs: the paper's trigger it plays (``"jeans"``), else ``""``


_COLOURS = {
    "red": (215, 45, 45), "orange": (245, 145, 35), "yellow": (240, 215, 50),
    "green": (45, 165, 70), "cyan": (45, 195, 210), "blue": (45, 85, 215),
    "purple": (135, 65, 190), "pink": (240, 120, 185), "white": (240, 240, 232),
    "black": (28, 28, 34), "brown": (135, 85, 45),
}
_SHAPES = ("disc", "square", "triangle", "ring", "cross", "star", "bar", "diamond", "hexagon",
          "crescent")
_TEXTURES = ("solid", "striped", "dotted", "checkered")

# hubs first (ids 0-3), then the themes' classes
_V1_HUB_SPECS = [
    ("bar", "blue", "striped", "jeans"),
    ("square", "white", "checkered", "chainlink fence"),
    ("ring", "black", "solid", "wheel"),
    ("hexagon", "brown", "dotted", "chair"),
]
_V1_THEME_SPECS = OrderedDict([
    ("pond", [("disc", "red", "solid"), ("triangle", "green", "solid")]),
    ("orchard", [("star", "yellow", "solid"), ("diamond", "orange", "striped")]),
    ("kitchen", [("cross", "white", "solid"), ("square", "red", "dotted")]),
    ("garden", [("star", "pink", "solid"), ("square", "green", "solid")]),
    ("street", [("triangle", "cyan", "solid"), ("bar", "yellow", "striped")]),
    ("beach", [("disc", "orange", "solid"), ("diamond", "blue", "solid")]),
    ("night", [("crescent", "purple", "solid"), ("hexagon", "white", "solid")]),
    ("playroom", [("cross", "pink", "solid"), ("disc", "cyan", "dotted")]),
    ("workshop", [("hexagon", "green", "solid"), ("bar", "red", "solid")]),
    ("forest", [("triangle", "brown", "solid"), ("ring", "yellow", "solid")]),
    ("desert", [("hexagon", "orange", "striped"), ("diamond", "pink", "solid"),
                ("crescent", "yellow", "solid")]),
    ("snow", [("square", "cyan", "checkered"), ("triangle", "purple", "solid"),
              ("cross", "blue", "solid")]),
])


def _make_class(shape, colour, texture, theme, echoes="") -> _ToyClass:
    words = ([texture] if texture != "solid" else []) + [colour, shape]
    return _ToyClass("_".join(words), " ".join(words), shape, colour, texture, theme, echoes)


V1_CLASSES: tuple[_ToyClass, ...] = tuple(
    [_make_class(s, c, t, "hub", e) for s, c, t, e in _V1_HUB_SPECS]
    + [_make_class(s, c, t, theme) for theme, specs in _V1_THEME_SPECS.items() for s, c, t in specs])
"""The 30 toy classes; the class id is the position in this tuple."""

V1_HUB_IDS: tuple[int, ...] = tuple(i for i, c in enumerate(V1_CLASSES) if c.theme == "hub")
V1_HUBS: dict[str, str] = {V1_CLASSES[i].label: V1_CLASSES[i].echoes for i in V1_HUB_IDS}
"""Hub class label -> the paper's trigger it echoes (most central first)."""

V1_THEMES: dict[str, tuple[int, ...]] = {
    t: tuple(i for i, c in enumerate(V1_CLASSES) if c.theme == t) for t in _V1_THEME_SPECS}
"""Theme name -> class ids of its members."""

_V1_ALL_THEMES = list(_V1_THEME_SPECS)
V1_HUB_AFFINITY: dict[str, dict[str, float]] = {
    "striped_blue_bar": {t: 0.28 for t in _V1_ALL_THEMES if t != "snow"},
    "checkered_white_square": {t: 0.30 for t in ("kitchen", "garden", "street", "night",
                                                 "workshop", "snow")},
    "black_ring": {t: 0.30 for t in ("street", "beach", "playroom", "forest", "desert", "snow")},
    "dotted_brown_hexagon": {t: 0.25 for t in ("orchard", "kitchen", "night", "playroom",
                                               "workshop")},
}
"""P(hub in image | dominant class in theme); missing entries are 0."""

assert len({c.label for c in V1_CLASSES}) == len(V1_CLASSES)
assert len({(c.shape, c.colour) for c in V1_CLASSES}) == len(V1_CLASSES)

# --- scene parameters (documented in the module docstring) ------------------------------------
_V1_P_PARTNER = 0.5        # a theme partner beside a dominant class (split over the other members)
_V1_P_RANDOM = 0.04        # a random class from another theme
_V1_HUB_DOMINANT_WEIGHT = 0.25
_V1_MAX_SECONDARY = 3
_V1_SIZE_DOMINANT = (0.50, 0.68)
_V1_SIZE_HUB = (0.36, 0.46)
_V1_SIZE_SECONDARY = (0.20, 0.28)
# relative frequency of each regular class as the dominant object (a gentle long tail, fixed)
_V1_REGULAR_WEIGHTS = np.linspace(1.25, 0.8, len(V1_CLASSES) - len(V1_HUB_IDS))

_V1_C = len(V1_CLASSES)
_V1_THEME_OF = np.array([(_V1_ALL_THEMES.index(c.theme) if c.theme != "hub" else -1) for c in V1_CLASSES])
_V1_IS_HUB = np.array([c.theme == "hub" for c in V1_CLASSES])
_V1_DOM_P = np.where(_V1_IS_HUB, _V1_HUB_DOMINANT_WEIGHT, 0.0)
_V1_DOM_P[~_V1_IS_HUB] = _V1_REGULAR_WEIGHTS
_V1_DOM_CUM = np.cumsum(_V1_DOM_P / _V1_DOM_P.sum())
_V1_DOM_CUM[-1] = 1.0
_V1_AFF = np.zeros((len(V1_HUB_IDS), len(_V1_ALL_THEMES)))
for _h, _lab in enumerate(V1_CLASSES[i].label for i in V1_HUB_IDS):
    for _t, _p in V1_HUB_AFFINITY[_lab].items():
        _V1_AFF[_h, _V1_ALL_THEMES.index(_t)] = _p
_V1_REGULAR = np.flatnonzero(~_V1_IS_HUB)
# per hub: the regular classes of the themes it likes (secondaries when the hub is dominant)
_V1_HUB_FRIENDS = [np.flatnonzero(np.isin(_V1_THEME_OF, np.flatnonzero(_V1_AFF[h] > 0)))
                for h in range(len(V1_HUB_IDS))]

# rotation range per shape (radians, symmetric); squares/diamonds stay near upright so they
# remain distinct, bars take any orientation
_ROT = {"disc": np.pi, "ring": np.pi, "square": 0.35, "diamond": 0.35, "bar": np.pi,
        "triangle": 0.45, "cross": 0.35, "star": np.pi, "hexagon": 0.5, "crescent": np.pi}

# background palette: muted (low saturation) tones, far from the object colours
_BG = np.array([(118, 128, 104), (150, 140, 116), (108, 120, 134), (132, 132, 128),
                (120, 108, 124), (104, 116, 110), (146, 130, 118), (126, 136, 142)],
               dtype=np.float32)


# ============================================================================ scene layout
@dataclasses.dataclass
class Layout:
    """Every object of a set of scenes, as flat arrays (objects in draw order within an image).

    ``rows`` are the scenes' own row numbers (their ``spawn_key``); objects of ``rows[i]`` are
    ``ptr[i]:ptr[i+1]`` of the object arrays. The first object of each scene is its dominant one.
    """

    seed: int
    rows: np.ndarray        # (n,) int64
    ptr: np.ndarray         # (n+1,) int64
    cls: np.ndarray         # (m,) int16
    cx: np.ndarray          # (m,) float32, normalised centre
    cy: np.ndarray
    size: np.ndarray        # (m,) float32, side of the box (fraction of the image side)
    angle: np.ndarray       # (m,) float32, rotation in steps of 1/256 turn (integer-valued)
    bright: np.ndarray      # (m,) float32, colour gain
    bg: np.ndarray          # (n, 8) float32: tone a, tone b, wave angle (1/256 turns), frequency,
    #                         phase, amplitude, noise tile, tile flip

    def __len__(self) -> int:
        return len(self.rows)

    def slice(self, idx: np.ndarray) -> "Layout":
        """The layout of scenes ``idx`` (positions in this layout)."""
        idx = np.asarray(idx, dtype=np.int64)
        starts, stops = self.ptr[idx], self.ptr[idx + 1]
        counts = stops - starts
        obj = np.repeat(starts - np.r_[0, np.cumsum(counts)[:-1]], counts) + np.arange(counts.sum())
        return Layout(self.seed, self.rows[idx], np.r_[0, np.cumsum(counts)].astype(np.int64),
                      self.cls[obj], self.cx[obj], self.cy[obj], self.size[obj], self.angle[obj],
                      self.bright[obj], self.bg[idx])

    def to_arrays(self) -> dict:
        return {f.name: np.asarray(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _overlap(a, b) -> float:
    """Intersection area of two boxes (cx, cy, s)."""
    ax0, ax1 = a[0] - a[2] / 2, a[0] + a[2] / 2
    ay0, ay1 = a[1] - a[2] / 2, a[1] + a[2] / 2
    bx0, bx1 = b[0] - b[2] / 2, b[0] + b[2] / 2
    by0, by1 = b[1] - b[2] / 2, b[1] + b[2] / 2
    w = min(ax1, bx1) - max(ax0, bx0)
    h = min(ay1, by1) - max(ay0, by0)
    return w * h if (w > 0 and h > 0) else 0.0


def _scene_v1(seed: int, row: int):
    """Version 1: draw scene ``row``: (classes, boxes as (cx, cy, s), angles, gains, background params)."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(row,))))
    dom = int(np.searchsorted(_V1_DOM_CUM, rng.random(), side="right"))
    sec: list[int] = []
    if _V1_IS_HUB[dom]:
        h = V1_HUB_IDS.index(dom)
        if rng.random() < 0.6:
            sec.append(int(rng.choice(_V1_HUB_FRIENDS[h])))
        other = [x for x in V1_HUB_IDS if x != dom]
        if rng.random() < 0.2:
            sec.append(int(other[rng.integers(len(other))]))
    else:
        t = _V1_THEME_OF[dom]
        mates = [m for m in V1_THEMES[_V1_ALL_THEMES[t]] if m != dom]
        p_mate = _V1_P_PARTNER / len(mates)
        for m, u in zip(mates, rng.random(len(mates))):
            if u < p_mate:
                sec.append(m)
        for h, u in zip(V1_HUB_IDS, rng.random(len(V1_HUB_IDS))):
            if u < _V1_AFF[V1_HUB_IDS.index(h), t]:
                sec.append(h)
        if rng.random() < _V1_P_RANDOM:
            pool = _V1_REGULAR[_V1_THEME_OF[_V1_REGULAR] != t]
            sec.append(int(pool[rng.integers(len(pool))]))
    return _place(rng, dom, sec, _V1_MAX_SECONDARY, _V1_IS_HUB, _V1_SIZE_DOMINANT, _V1_SIZE_HUB,
                  _V1_SIZE_SECONDARY, _MODELS[1].rot_of)


def _place(rng, dom, sec, max_secondary, is_hub, size_dominant, size_hub, size_secondary, rot_of):
    """The rest of a scene whose classes are drawn: at most ``max_secondary`` secondaries (a random
    choice), draw order, boxes, angles, gains and background (the same draws in every generation).

    Returns ``(classes, boxes, angles, gains, background)``.
    """
    if len(sec) > max_secondary:
        keep = np.sort(rng.choice(len(sec), max_secondary, replace=False))
        sec = [sec[i] for i in keep]
    # draw order: dominant, regular secondaries, hubs (on top)
    sec.sort(key=lambda c: (bool(is_hub[c]), c))
    classes = [dom] + sec
    s0 = rng.uniform(*size_dominant)
    boxes = [(rng.uniform(s0 / 2, 1 - s0 / 2), rng.uniform(s0 / 2, 1 - s0 / 2), s0)]
    for c in sec:
        s = rng.uniform(*(size_hub if is_hub[c] else size_secondary))
        best, best_bad = None, np.inf
        for _ in range(12):
            cand = (rng.uniform(s / 2, 1 - s / 2), rng.uniform(s / 2, 1 - s / 2), s)
            # keep most of the dominant object and of the other secondaries visible
            bad = max(0.0, _overlap(cand, boxes[0]) / s0 ** 2 - 0.35)
            for b in boxes[1:]:
                bad += max(0.0, _overlap(cand, b) / min(s, b[2]) ** 2 - 0.15)
            if bad < best_bad:
                best, best_bad = cand, bad
            if bad == 0.0:
                break
        boxes.append(best)
    k = len(classes)
    # rotation in steps of 1/256 turn (the renderer looks cos / sin up in a table)
    angles = np.round((rng.random(k) * 2 - 1) * rot_of[classes] * (_TURN / (2 * np.pi)))
    gains = np.round(rng.uniform(0.85, 1.1, k), 3)
    a, b = rng.choice(len(_BG), 2, replace=False)
    bg = (a, b, rng.integers(0, _TURN // 2), np.round(rng.uniform(1.0, 4.0), 3),
          np.round(rng.random(), 3), np.round(rng.uniform(0.3, 1.0), 3), rng.integers(0, _N_TILES),
          rng.integers(0, 8))
    return classes, boxes, angles, gains, bg


# ============================================================================ the generations
@dataclasses.dataclass(frozen=True, eq=False)
class _ToyModel:
    """One generation of toy scenes: its classes, its scene-drawing rule and its labeller.

    ``version`` 1 is the first generation (30 classes, themes as walls), kept reproducible
    (``toyscenes?version=1``); version 2 is the default (see the module docstring). The per-class
    arrays (shape, texture, colours, rotation range) are what the renderer and the labeller index
    by class id.
    """

    version: int
    classes: tuple
    hub_ids: tuple
    themes: dict
    hub_affinity: dict
    scene: object          #: ``scene(seed, row) -> (classes, boxes, angles, gains, background)``
    structure: tuple       #: everything else that decides a layout (part of the cache key)
    n_images: int          #: default number of scenes
    labeller: dict

    def __post_init__(self):
        cls = self.classes
        put = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 (frozen dataclass)
        put("n_classes", len(cls))
        put("shape_id", np.array([_SHAPES.index(c.shape) for c in cls]))
        put("texture_id", np.array([_TEXTURES.index(c.texture) for c in cls]))
        put("rgb", np.array([_COLOURS[c.colour] for c in cls], dtype=np.float32))
        # the second colour of a textured fill: dark on light colours, light on dark ones
        put("rgb2", np.array([(30, 30, 36) if c.colour in ("white", "yellow", "cyan")
                              else (245, 245, 240) for c in cls], dtype=np.float32))
        put("rot_of", np.array([_ROT[c.shape] for c in cls]))
        put("is_hub", np.array([c.theme == "hub" for c in cls]))
        put("hubs", {cls[i].label: cls[i].echoes for i in self.hub_ids})
        put("lookalike", [_lookalikes(cls, c) for c in range(len(cls))])
        assert len({c.label for c in cls}) == len(cls)
        assert len({(c.shape, c.colour) for c in cls}) == len(cls)

    @property
    def name(self) -> str:
        return f"toyscenes-{self.version}"


def _lookalikes(classes, c: int) -> np.ndarray:
    """Classes sharing a shape or a colour with class ``c`` (the labeller's likely confusions)."""
    same = [j for j, k in enumerate(classes) if j != c and (k.shape == classes[c].shape
                                                             or k.colour == classes[c].colour)]
    return np.asarray(same if same else [j for j in range(len(classes)) if j != c])


# ---------------------------------------------------------------------------- version 2
# Hubs: (shape, colour, texture, paper trigger echoed, profile). Each profile is a different way
# of being central (see the module docstring); the rates are P(hub | the dominant class).
_V2_HUB_SPECS = [
    ("bar", "blue", "striped", "jeans", "broad"),              # many medium links, every theme
    ("diamond", "cyan", "dotted", "sunglasses", "broad"),      # many medium links, every theme
    ("ring", "black", "solid", "wheel", "strong"),             # few, strong links
    ("hexagon", "brown", "dotted", "chair", "theme"),          # central in one dense theme
    ("square", "white", "checkered", "chain-link fence", "bridge"),  # bridges two far themes
    ("star", "purple", "striped", "website", "regional"),      # medium links, 3 themes
    ("cross", "black", "checkered", "tree", "regional"),
    ("crescent", "white", "dotted", "window", "regional"),
]
_V2_THEME_NAMES = ("pond", "orchard", "kitchen", "garden", "street", "beach", "night", "playroom",
                   "workshop", "forest", "snow")
_V2_DESIGN_SEED = 0x76325F32
"""Seed of the class-level design (which class is in which theme, pair affinities, hub rates):
fixed, so the classes and the graph's structure are the same for every dataset seed."""
_V2_N_PER_THEME = 8
_V2_SECONDARY_MEAN = 0.65      # regular secondaries per scene: Poisson(mean)
_V2_AFFINITY_SIGMA = 1.3       # pair affinity exp(sigma * z), z ~ N(0, 1) symmetric (heavy tail)
_V2_THEME_PRIOR = 4.0          # same-theme affinity multiplier (a prior, not a wall)
_V2_FAR_FACTOR = 0.1           # affinity multiplier between the bridge hub's two themes
_V2_HUB_RATES = {"broad": 0.11, "strong": 0.75, "theme": 0.7, "bridge": 0.55, "regional": 0.18}
_V2_RATE_SIGMA = 0.35          # per-class jitter of a hub's rate, exp(sigma * z)
_V2_HUB_DOMINANT_WEIGHT = 0.3  # a hub as the dominant object, relative to a mean regular class
_V2_ZIPF = 0.8                 # dominant-class frequency ~ (rank + 8) ** -zipf (a long tail)
_V2_MAX_SECONDARY = 3
_V2_SIZE_DOMINANT = (0.46, 0.62)
_V2_SIZE_HUB = (0.30, 0.40)
_V2_SIZE_SECONDARY = (0.28, 0.40)   # salient: a second class in a clean image is really visible


def _v2_design():
    """The version-2 class table and its class-level co-occurrence design (deterministic)."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(_V2_DESIGN_SEED)))
    hub_pairs = {(s, c) for s, c, *_ in _V2_HUB_SPECS}
    free = [(s, c) for s in _SHAPES for c in _COLOURS if (s, c) not in hub_pairs]
    n_reg = _V2_N_PER_THEME * len(_V2_THEME_NAMES)
    pick = [free[i] for i in np.sort(rng.choice(len(free), n_reg, replace=False))]
    order = rng.permutation(n_reg)                       # class k -> theme order[k] // 8
    tex = rng.choice(len(_TEXTURES), n_reg, p=[0.55, 0.15, 0.15, 0.15])
    hubs = [_make_class(s, c, t, "hub", e) for s, c, t, e, _ in _V2_HUB_SPECS]
    regular = [_make_class(s, c, _TEXTURES[tex[k]], _V2_THEME_NAMES[order[k] // _V2_N_PER_THEME])
               for k, (s, c) in enumerate(pick)]
    classes = tuple(hubs + regular)
    H = len(hubs)
    theme_of = np.array([-1] * H + [_V2_THEME_NAMES.index(c.theme) for c in regular])
    # regular-regular affinity: log-normal, symmetric, themes multiply it
    z = rng.normal(0.0, 1.0, (n_reg, n_reg))
    z = (z + z.T) / np.sqrt(2.0)
    aff = np.exp(_V2_AFFINITY_SIGMA * z)
    same = theme_of[H:, None] == theme_of[None, H:]
    aff *= np.where(same, _V2_THEME_PRIOR, 1.0)
    np.fill_diagonal(aff, 0.0)
    # hub profiles
    nt = len(_V2_THEME_NAMES)
    th = rng.permutation(nt)
    rates = np.zeros((H, n_reg))
    reg_theme = theme_of[H:]
    bridge_a, bridge_b = th[0], th[1]
    for h, (*_, profile) in enumerate(_V2_HUB_SPECS):
        base = _V2_HUB_RATES[profile]
        if profile == "broad":
            mask = np.ones(n_reg, bool)
        elif profile == "strong":
            mask = np.zeros(n_reg, bool)
            mask[rng.choice(np.flatnonzero(np.isin(reg_theme, th[2:5])), 10, replace=False)] = True
        elif profile == "theme":
            mask = reg_theme == th[9]
            aff[np.ix_(mask, mask)] *= 3.0           # a dense theme: the chair's room
        elif profile == "bridge":
            mask = np.isin(reg_theme, [bridge_a, bridge_b])
            far = np.outer(reg_theme == bridge_a, reg_theme == bridge_b)
            aff[far | far.T] *= _V2_FAR_FACTOR
        else:  # regional: 3 themes, overlapping between the regional hubs
            start = 2 + 3 * (h - 5)
            mask = np.isin(reg_theme, th[np.arange(start, start + 3) % nt])
        rates[h] = np.where(mask, base * np.exp(_V2_RATE_SIGMA * rng.normal(0, 1, n_reg)), 0.0)
    rates = np.clip(rates, 0.0, 0.9)
    ranks = rng.permutation(n_reg)
    w = (ranks + 8.0) ** -_V2_ZIPF
    w = w / w.mean()
    dom_p = np.r_[np.full(H, _V2_HUB_DOMINANT_WEIGHT), w]
    dom_cum = np.cumsum(dom_p / dom_p.sum())
    dom_cum[-1] = 1.0
    aff_cum = np.cumsum(aff / aff.sum(axis=1, keepdims=True), axis=1)
    aff_cum[:, -1] = 1.0
    friends_cum = np.cumsum(rates / np.maximum(rates.sum(axis=1, keepdims=True), 1e-12), axis=1)
    friends_cum[:, -1] = 1.0
    return dict(classes=classes, theme_of=theme_of, aff=aff, rates=rates, dom_cum=dom_cum,
                aff_cum=aff_cum, friends_cum=friends_cum,
                bridge=(_V2_THEME_NAMES[bridge_a], _V2_THEME_NAMES[bridge_b]))


_V2 = _v2_design()
_V2_H = len(_V2_HUB_SPECS)
_V2_IS_HUB = np.array([c.theme == "hub" for c in _V2["classes"]])


def _scene_v2(seed: int, row: int):
    """Version 2: draw scene ``row``: (classes, boxes as (cx, cy, s), angles, gains, background)."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(row,))))
    H = _V2_H
    dom = int(np.searchsorted(_V2["dom_cum"], rng.random(), side="right"))
    sec: list[int] = []
    if dom < H:   # a hub as the dominant object: one or two of the classes it sits with
        for _ in range(1 + int(rng.random() < 0.4)):
            j = H + int(np.searchsorted(_V2["friends_cum"][dom], rng.random(), side="right"))
            if j not in sec:
                sec.append(j)
    else:
        d = dom - H
        for _ in range(int(rng.poisson(_V2_SECONDARY_MEAN))):
            j = H + int(np.searchsorted(_V2["aff_cum"][d], rng.random(), side="right"))
            if j not in sec:
                sec.append(j)
        for h, u in enumerate(rng.random(H)):
            if u < _V2["rates"][h, d]:
                sec.append(h)
    return _place(rng, dom, sec, _V2_MAX_SECONDARY, _V2_IS_HUB, _V2_SIZE_DOMINANT, _V2_SIZE_HUB,
                  _V2_SIZE_SECONDARY, _MODELS[2].rot_of)


def _generate(m: _ToyModel, seed: int, rows: np.ndarray, progress: bool = False) -> Layout:
    from ..progress import tqdm

    cls, box, ang, gain, bgs, ptr = [], [], [], [], [], [0]
    for r in tqdm(rows, desc="toy scenes", unit="scene", disable=not progress, mininterval=0.5):
        c, b, a, g, bg = m.scene(seed, int(r))
        cls += c
        box += b
        ang.append(a)
        gain.append(g)
        bgs.append(bg)
        ptr.append(len(cls))
    box = np.asarray(box, dtype=np.float64).reshape(-1, 3)
    return Layout(int(seed), np.asarray(rows, dtype=np.int64), np.asarray(ptr, dtype=np.int64),
                  np.asarray(cls, dtype=np.int16), box[:, 0].astype(np.float32),
                  box[:, 1].astype(np.float32), box[:, 2].astype(np.float32),
                  np.concatenate(ang).astype(np.float32) if ang else np.zeros(0, np.float32),
                  np.concatenate(gain).astype(np.float32) if gain else np.zeros(0, np.float32),
                  np.asarray(bgs, dtype=np.float32).reshape(-1, 8))


# one full-dataset layout per (version, seed), kept in memory for rendering (~1 MB per 24k scenes)
_LAYOUTS: "OrderedDict[tuple[int, int], Layout]" = OrderedDict()


def _model_fingerprint(m: _ToyModel) -> str:
    """Everything that decides a layout, so a stale cache can never be read back."""
    from ..io import fingerprint

    return fingerprint(m.name, [tuple(c) for c in m.classes], m.hub_affinity, *m.structure, _ROT,
                       len(_BG), _N_TILES, _TURN)


def _layout_cache_path(m: _ToyModel, seed: int, n_images: int) -> Path:
    from ..io import cache_dir, fingerprint

    return cache_dir() / f"toyscenes-{fingerprint(_model_fingerprint(m), seed, n_images)}.npz"


def _full_layout(m: _ToyModel, seed: int, n_images: int, cache: bool, progress: bool) -> Layout:
    from ..io import save_npz

    have = _LAYOUTS.get((m.version, seed))
    if have is not None and len(have) >= n_images:
        return have if len(have) == n_images else have.slice(np.arange(n_images))
    lay = None
    path = _layout_cache_path(m, seed, n_images) if cache else None
    if path is not None and path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                lay = Layout(int(z["seed"]), *(z[f.name] for f in dataclasses.fields(Layout)[1:]))
        except (OSError, KeyError, ValueError):
            lay = None  # an unreadable cache is rebuilt
    if lay is None:
        lay = _generate(m, seed, np.arange(n_images), progress=progress)
        if path is not None:
            save_npz(path, **lay.to_arrays())
    if have is None or len(lay) > len(have):
        _LAYOUTS[(m.version, seed)] = lay
        while len(_LAYOUTS) > 3:
            _LAYOUTS.popitem(last=False)
    return lay


def _layout_for(m: _ToyModel, seed: int, rows: np.ndarray) -> Layout:
    """The layout of scene ``rows`` of ``seed`` (from memory when possible, else drawn now)."""
    rows = np.asarray(rows, dtype=np.int64)
    have = _LAYOUTS.get((m.version, seed))
    if have is not None and len(rows) and rows.max() < len(have) and rows.min() >= 0:
        return have.slice(rows)  # have.rows == arange(len(have))
    return _generate(m, seed, rows)


# ============================================================================ the dataset
def _image_id(seed: int, row: int) -> str:
    return f"toy{seed}_{row:06d}"


def _scene_rows(li: LabelIndex, rows: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
    """The scene number of images ``rows`` (default: all) of a toy-scenes ``LabelIndex``.

    Works after ``subset`` and ``save``/``load`` too: the scene number is part of the image id.
    """
    ids = li.image_ids if rows is None else li.image_ids[np.asarray(rows, dtype=np.int64)]
    try:
        return np.array([int(str(i).rsplit("_", 1)[1]) for i in ids], dtype=np.int64)
    except (IndexError, ValueError):
        raise DataError(li.name, "image ids are not toy-scene ids like 'toy0_000123'",
                        "a LabelIndex made by load_toyscenes") from None


def _dataset_of(li: LabelIndex) -> tuple[_ToyModel, int, int]:
    """(generation, dataset seed, image size) of a toy-scenes ``LabelIndex``."""
    meta = li.meta or {}
    if meta.get("generator") != "toyscenes" or "seed" not in meta:
        raise DataError(li.name, "not a toy-scenes dataset (meta lacks generator='toyscenes' and seed)",
                        "a LabelIndex made by load_toyscenes")
    m = next((m for m in _MODELS.values() if m.name == meta.get("generator_version")), None)
    if m is None:
        raise DataError(li.name, f"toy scenes drawn by {meta.get('generator_version')!r}",
                        f"one of the generator versions {[m.name for m in _MODELS.values()]}",
                        hint="reload with load_toyscenes")
    return m, int(meta["seed"]), int(meta.get("image_size", 64))


def load_toyscenes(seed: int = 0, n_images: int = 0, image_size: int = 64, cache: bool = True,
                   progress: bool = True, version: int = 2) -> LabelIndex:
    """The toy-scenes dataset: labels, boxes and a lazy renderer.

    Parameters
    ----------
    seed : int, default 0
        Dataset seed; the same seed gives the same scenes (labels, boxes, pixels) everywhere.
    n_images : int, default 0
        Number of scenes; 0: the generation's default (version 2: 48,000; version 1: 24,000).
        Scene ``r`` does not depend on ``n_images``.
    image_size : int, default 64
        Side of the rendered RGB images in pixels (the layout is resolution-free).
    cache : bool, default True
        Keep the drawn layout as ``.npz`` in ``nbkit.io.cache_dir()`` (keyed by seed, size and
        generator version); drawing 48,000 scenes takes a few seconds.
    progress : bool
        Show a tqdm bar while drawing.
    version : {2, 1}, default 2
        The generation (``toyscenes?version=1`` in a dataset spec): 2 (default) has graded
        co-occurrences and hubs of different profiles; 1 is the first generation (30 classes,
        themes as walls), kept so that its results stay reproducible.

    Returns
    -------
    LabelIndex
        ``name="toyscenes"``, 96 classes (version 1: 30; ``label`` slugs, readable ``name``), image ids
        ``toy<seed>_<row>``, every split ``"train"``, ``Y`` = ground truth (dominant + secondary
        objects), ``boxes`` with an extra ``role`` column (``dominant`` / ``secondary``),
        ``renderer(row) -> HxWx3 uint8``, and ``meta`` with seed, generator version, hubs, themes.

    Examples
    --------
    >>> li = load_toyscenes(n_images=500, progress=False, cache=False)
    >>> li.n_classes, li.n_images
    (96, 500)
    >>> load_toyscenes(n_images=500, progress=False, cache=False, version=1).n_classes
    30
    >>> li.load_image(0).shape
    (64, 64, 3)
    >>> int(_dominant_class(li)[0]) in set(li.Y[0].indices)
    True
    """
    if int(version) not in _MODELS:
        raise DataError("toyscenes", f"version={version}", f"one of {sorted(_MODELS)}")
    m = _MODELS[int(version)]
    n_images = int(n_images) or m.n_images
    if int(n_images) < 1:
        raise DataError("toyscenes", f"n_images={n_images}", "at least 1 image (0: the default)")
    if int(image_size) < 16:
        raise DataError("toyscenes", f"image_size={image_size}", "at least 16 pixels")
    seed, n_images, image_size = int(seed), int(n_images), int(image_size)
    lay = _full_layout(m, seed, n_images, cache, progress)
    counts = np.diff(lay.ptr)
    img = np.repeat(np.arange(n_images), counts)
    cls = lay.cls.astype(np.int64)
    Y = sp.csr_matrix((np.ones(len(cls), dtype=bool), (img, cls)), shape=(n_images, m.n_classes))
    half = lay.size / 2
    first = np.zeros(len(cls), dtype=bool)
    first[lay.ptr[:-1]] = True
    boxes = pd.DataFrame({"image": img, "class": cls, "x0": lay.cx - half, "y0": lay.cy - half,
                          "x1": lay.cx + half, "y1": lay.cy + half,
                          "role": np.where(first, "dominant", "secondary")})
    meta = {
        "source": f"toyscenes (seed {seed})", "generator": "toyscenes",
        "generator_version": m.name, "version": m.version, "seed": seed, "n_images": n_images,
        "image_size": image_size, "hubs": dict(m.hubs),
        "themes": {t: [m.classes[i].label for i in ids] for t, ids in m.themes.items()},
        "splits": "every image is 'train'; curation draws its own clean/poison train/test split",
        "rng": "numpy Generator(PCG64(SeedSequence(seed, spawn_key=(row,)))) per scene",
    }
    ids = [_image_id(seed, r) for r in range(n_images)]
    li = LabelIndex("toyscenes", [c.label for c in m.classes], [c.name for c in m.classes], ids,
                    ["train"] * n_images, Y, boxes, None, None, meta, None)
    li.renderer = _Renderer(m, seed, image_size)
    return li


class _Renderer:
    """``renderer(row) -> HxWx3 uint8`` for the full dataset (row = scene number)."""

    def __init__(self, m: _ToyModel, seed: int, image_size: int):
        self.model, self.seed, self.image_size = m, seed, image_size

    def __call__(self, row: int) -> np.ndarray:
        lay = _layout_for(self.model, self.seed, np.array([int(row)]))
        return _render(lay, self.image_size, self.model)[0]

    def __repr__(self) -> str:
        return f"{self.model.name} renderer (seed {self.seed}, {self.image_size} px)"


def _dominant_class(li: LabelIndex) -> np.ndarray:
    """The dominant (large) object's class id of every image of a toy-scenes ``LabelIndex``."""
    if li.boxes is not None and "role" in li.boxes.columns:
        b = li.boxes[li.boxes["role"] == "dominant"]
        out = np.full(li.n_images, -1, dtype=np.int64)
        out[b["image"].to_numpy()] = b["class"].to_numpy()
        if (out >= 0).all():
            return out
    m, seed, _ = _dataset_of(li)
    lay = _layout_for(m, seed, _scene_rows(li))
    return lay.cls[lay.ptr[:-1]].astype(np.int64)


# ============================================================================ rendering
_N_TILES = 16
_TURN = 256
# cos / sin of angle steps of 1/256 turn, rounded to 1e-6 so that the last-bit differences between
# maths libraries cannot change a pixel
_COS = np.round(np.cos(np.arange(_TURN) * (2 * np.pi / _TURN)), 6).astype(np.float32)
_SIN = np.round(np.sin(np.arange(_TURN) * (2 * np.pi / _TURN)), 6).astype(np.float32)
_TILES: dict[tuple[int, int], np.ndarray] = {}


def _noise_tiles(seed: int, size: int) -> np.ndarray:
    """The seed's bank of pixel-noise tiles: ``_N_TILES`` tiles x 8 flips/transposes (float32,
    channel-first: ``(_N_TILES * 8) x 3 x size x size``)."""
    key = (seed, size)
    if key not in _TILES:
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 0x6E6F6973, size])))
        t = rng.normal(0.0, 1.0, (_N_TILES, size, size, 1)) * 9.0 + rng.normal(
            0.0, 1.0, (_N_TILES, size, size, 3)) * 4.0
        t = np.clip(np.round(t), -40, 40).astype(np.float32)
        variants = []
        for f in range(8):
            x = t
            if f & 1:
                x = x[:, ::-1]
            if f & 2:
                x = x[:, :, ::-1]
            if f & 4:
                x = x.transpose(0, 2, 1, 3)
            variants.append(x)
        _TILES[key] = np.ascontiguousarray(np.stack(variants, axis=1).reshape(
            _N_TILES * 8, size, size, 3).transpose(0, 3, 1, 2))  # channel-first, as drawn
        if len(_TILES) > 8:
            _TILES.pop(next(iter(_TILES)))
    return _TILES[key]


def _shape_mask(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inside-mask of a shape inscribed in the unit disc, in object coordinates (u right, v down).

    Every shape stays inside the unit disc, so it stays inside its box at any rotation.
    """
    au, av = np.abs(u), np.abs(v)
    if shape == "disc":
        return u * u + v * v <= 1.0
    if shape == "ring":
        r2 = u * u + v * v
        return (r2 <= 1.0) & (r2 >= 0.36)
    if shape == "square":
        return np.maximum(au, av) <= 0.7
    if shape == "triangle":  # equilateral, apex up: vertices (0, -1), (+-0.866, 0.5)
        return (v <= 0.5) & (au * 1.732 <= v + 1.0)
    if shape == "cross":
        return ((au <= 0.3) & (av <= 0.95)) | ((av <= 0.3) & (au <= 0.95))
    if shape == "star":  # r <= 0.38 + 0.6 cos^4(2.5 theta), with cos(5 theta) = Re((u + iv)^5) / r^5
        r2 = u * u + v * v
        u2, v2 = u * u, v * v
        re5 = u * (u2 * u2 - 10.0 * u2 * v2 + 5.0 * v2 * v2)
        r = np.sqrt(r2)
        c5 = re5 / np.maximum(r2 * r2 * r, 1e-12)
        h = (1.0 + c5) * 0.5
        return r <= 0.38 + 0.6 * h * h
    if shape == "bar":
        return (au <= 0.92) & (av <= 0.38)
    if shape == "diamond":
        return au / 0.6 + av <= 0.98
    if shape == "hexagon":
        return (au <= 0.83) & (au * 0.577 + av <= 0.96)
    if shape == "crescent":
        return (u * u + v * v <= 1.0) & ((u - 0.45) ** 2 + (v + 0.1) ** 2 >= 0.62)
    raise ValueError(shape)


def _texture_mask(texture: str, u: np.ndarray, v: np.ndarray) -> np.ndarray | None:
    """Where the *second* colour goes (None for solid)."""
    if texture == "solid":
        return None
    if texture == "striped":
        return (np.floor((u + 2.0) * 2.5) % 2) == 1
    if texture == "dotted":
        fu = (u * 2.4 + 8.0) % 1.0 - 0.5
        fv = (v * 2.4 + 8.0) % 1.0 - 0.5
        return fu * fu + fv * fv <= 0.07
    if texture == "checkered":
        return ((np.floor((u + 2.0) * 2.2) + np.floor((v + 2.0) * 2.2)) % 2) == 1
    raise ValueError(texture)


_CHUNK_PIXELS = 1 << 17  # pixels drawn at once (32 scenes at 64 px): keeps the working set in cache


def _render(lay: Layout, size: int, m: _ToyModel) -> np.ndarray:
    """Pixels of the scenes of a layout (n x size x size x 3 uint8), vectorised over scenes."""
    n = len(lay)
    chunk = max(1, _CHUNK_PIXELS // (size * size))
    if n <= chunk:
        return _render_chunk(lay, size, m)
    out = np.empty((n, size, size, 3), dtype=np.uint8)
    for a in range(0, n, chunk):
        out[a:a + chunk] = _render_chunk(lay.slice(np.arange(a, min(n, a + chunk))), size, m)
    return out


def _render_chunk(lay: Layout, size: int, m: _ToyModel) -> np.ndarray:
    """Draw a few scenes channel-first (n x 3 x S x S float32), return them n x S x S x 3 uint8."""
    from numpy.lib.stride_tricks import sliding_window_view

    n = len(lay)
    f32 = np.float32
    g = ((np.arange(size) + 0.5) / size).astype(f32)
    # --- background: two muted tones blended by a smoothed triangle wave of
    # t = freq * (x cos a + y sin a) + phase. Only exact IEEE arithmetic per pixel (no sin/exp), so
    # the pixels are bit-identical on any machine and in any batch.
    bg = lay.bg
    ca, cb = _BG[bg[:, 0].astype(np.int64)], _BG[bg[:, 1].astype(np.int64)]
    q = bg[:, 2].astype(np.int64) % _TURN
    fx = (bg[:, 3] * _COS[q])[:, None] * g[None, :] + bg[:, 4][:, None]     # n x S (columns)
    fy = (bg[:, 3] * _SIN[q])[:, None] * g[None, :]                         # n x S (rows)
    t = fx[:, None, :] + fy[:, :, None]
    t -= np.floor(t)
    t *= 2.0
    t -= 1.0
    tri = np.abs(t)
    w = tri * tri * (3.0 - 2.0 * tri) - 0.5
    w *= bg[:, 5][:, None, None]
    w += 0.5
    img = ca[:, :, None, None] + (cb - ca)[:, :, None, None] * w[:, None]    # n x 3 x S x S
    # --- objects, slot by slot (slot k = the k-th object of each scene, in draw order), grouped by
    # shape; each object is drawn in a square crop (P x P) around its box
    counts = np.diff(lay.ptr)
    for slot in range(int(counts.max()) if n else 0):
        has = np.flatnonzero(counts > slot)
        obj = lay.ptr[has] + slot
        shapes = m.shape_id[lay.cls[obj]]
        for sid in np.unique(shapes):
            sel = shapes == sid
            im, ob = has[sel], obj[sel]
            c = lay.cls[ob].astype(np.int64)
            P = min(size, int(np.ceil(float(lay.size[ob].max()) * size)) + 2)
            x0 = np.clip(np.floor(lay.cx[ob] * size - P / 2), 0, size - P).astype(np.int64)
            y0 = np.clip(np.floor(lay.cy[ob] * size - P / 2), 0, size - P).astype(np.int64)
            ar = np.arange(P, dtype=f32)
            half = (lay.size[ob] / 2)[:, None]
            gx = ((x0[:, None] + ar[None, :] + 0.5) / size - lay.cx[ob][:, None]) / half  # m x P
            gy = ((y0[:, None] + ar[None, :] + 0.5) / size - lay.cy[ob][:, None]) / half
            q = lay.angle[ob].astype(np.int64) % _TURN
            cs, sn = _COS[q][:, None, None], _SIN[q][:, None, None]
            dx, dy = gx[:, None, :], gy[:, :, None]
            u = dx * cs + dy * sn
            v = dy * cs - dx * sn
            inside = _shape_mask(_SHAPES[sid], u, v)[:, None]                   # m x 1 x P x P
            colour = (m.rgb[c] * lay.bright[ob][:, None])[:, :, None, None]      # m x 3 x 1 x 1
            tex = m.texture_id[c]
            if (tex > 0).any():
                second = np.zeros(inside.shape, dtype=bool)
                for tid in np.unique(tex[tex > 0]):
                    ts = np.flatnonzero(tex == tid)
                    second[ts, 0] = _texture_mask(_TEXTURES[tid], u[ts], v[ts])
                colour2 = (m.rgb2[c] * lay.bright[ob][:, None])[:, :, None, None]
                colour = np.where(second, colour2, colour)
            win = sliding_window_view(img, (P, P), axis=(2, 3), writeable=True)  # n x 3 x . x . x P x P
            cur = win[im, :, y0, x0]                                               # m x 3 x P x P
            win[im, :, y0, x0] = np.where(inside, colour, cur)
    # --- pixel noise: one of the seed's tiles (flipped / transposed) per scene
    img += _noise_tiles(lay.seed, size)[bg[:, 6].astype(np.int64) * 8 + bg[:, 7].astype(np.int64)]
    img += 0.5
    np.clip(img, 0, 255, out=img)
    return img.transpose(0, 2, 3, 1).astype(np.uint8)


def render_batch(li: LabelIndex, rows: Sequence[int] | np.ndarray) -> np.ndarray:
    """Render images ``rows`` of a toy-scenes ``LabelIndex`` at once (vectorised).

    Parameters
    ----------
    li : LabelIndex
        From :func:`load_toyscenes` (also after ``subset`` or ``save``/``load``).
    rows : sequence of int
        Rows of ``li``.

    Returns
    -------
    numpy.ndarray, uint8, shape (n, H, W, 3)
        Identical to ``np.stack([li.load_image(r) for r in rows])``.

    Examples
    --------
    >>> li = load_toyscenes(n_images=100, progress=False, cache=False)
    >>> x = render_batch(li, range(8))
    >>> x.shape, x.dtype
    ((8, 64, 64, 3), dtype('uint8'))
    """
    m, seed, size = _dataset_of(li)
    rows = np.asarray(rows, dtype=np.int64).ravel()
    if len(rows) and (rows.min() < 0 or rows.max() >= li.n_images):
        raise DataError(li.name, f"rows {rows.min()}..{rows.max()} out of range",
                        f"rows in 0..{li.n_images - 1}")
    return _render(_layout_for(m, seed, _scene_rows(li, rows)), size, m)


# ============================================================================ ReLabel-style label maps
# Labeller parameters. Version 1's were tuned (on 2,000 scenes of seed 0) so that the expected FP
# and FN curves of the App. B sweep cross near the paper's 0.994, which made that match circular.
# Version 2's were set once from the description below, before any sweep was run, and were not
# adjusted afterwards: where its curves cross is an outcome (notebook 01 reports it and its spread).
_LABELLER_V1 = dict(
    gap_base=2.6, gap_per_size=8.5, gap_sd=1.3,    # object clarity: base + per_size * side + N(0, sd)
    cover_min=0.3, cover_penalty=2.5, cell_sd=0.35,  # cells an object covers; partial cover is less sure
    bg_gap=(0.5, 0.8),                             # background cells: gap |N(mean, sd)|, random class
    confusions=1.3, confusion_gap=(5.3, 1.2),      # per image Poisson(mean) confusions, gap N(m, sd)
    lookalike=0.7,                                 # share of confusions that mimic a present object
    corner_junk=0.4, corner_gap=(7.5, 1.0),        # corner cells: confidently wrong with this prob.
)
LABELLER_V2 = dict(
    # clarity = a logit margin of 2 plus 10 per unit of box side: a dominant object (side ~0.55)
    # gets ~7.5 (p ~ 0.999), a secondary one (~0.34) ~5.4, with a spread of 1.5 between objects
    gap_base=2.0, gap_per_size=10.0, gap_sd=1.5,
    # a cell must be at least 30 % covered to see the object; a half-covered cell loses 1.5
    cover_min=0.3, cover_penalty=3.0, cell_sd=0.5,
    bg_gap=(0.5, 0.8),                             # background: unsure, random classes
    confusions=1.0, confusion_gap=(5.0, 1.5),      # one confident mistake per image on average
    lookalike=0.5,                                 # half of them a look-alike of a present object
    corner_junk=0.3, corner_gap=(7.0, 1.5),        # corners: confidently wrong 30 % of the time
)
"""The simulated labellers' knobs per generation (``labelmaps(..., **overrides)``). The *gap* is the
logit margin of a cell's top-1 class over its second; the top-1 softmax probability grows with it
(gap 5.3: ~0.99, gap 6.5: ~0.997)."""


def _cover(lay: Layout, i: int) -> tuple[np.ndarray, np.ndarray]:
    """Per object of scene i: the fraction of each of the 15 x 15 cells its shape covers (approx.)."""
    edges = np.linspace(0.0, 1.0, 16)
    a, b = lay.ptr[i], lay.ptr[i + 1]
    half = 0.42 * lay.size[a:b]  # the shape fills ~84 % of its box side
    x0, x1 = lay.cx[a:b] - half, lay.cx[a:b] + half
    y0, y1 = lay.cy[a:b] - half, lay.cy[a:b] + half
    ox = np.clip(np.minimum(x1[:, None], edges[None, 1:]) - np.maximum(x0[:, None], edges[None, :-1]),
                 0, None) * 15
    oy = np.clip(np.minimum(y1[:, None], edges[None, 1:]) - np.maximum(y0[:, None], edges[None, :-1]),
                 0, None) * 15
    return oy[:, :, None] * ox[:, None, :], lay.cls[a:b].astype(np.int64)


def _one_map(lay: Layout, i: int, rng: np.random.Generator, P: dict, m: _ToyModel) -> np.ndarray:
    _C = m.n_classes
    cov, cls = _cover(lay, i)
    size = lay.size[lay.ptr[i]:lay.ptr[i + 1]]
    clarity = P["gap_base"] + P["gap_per_size"] * size + rng.normal(0, P["gap_sd"], len(cls))
    top = rng.integers(0, _C, (15, 15))
    gap = np.abs(rng.normal(P["bg_gap"][0], P["bg_gap"][1], (15, 15)))
    noise = rng.normal(0, P["cell_sd"], (15, 15))
    for k in range(len(cls)):  # draw order: later objects cover earlier ones
        on = cov[k] >= P["cover_min"]
        top[on] = cls[k]
        gap[on] = clarity[k] - P["cover_penalty"] * (1 - np.minimum(cov[k][on], 1.0)) + noise[on]
    for _ in range(rng.poisson(P["confusions"])):
        if rng.random() < P["lookalike"]:
            k = rng.integers(len(cls))
            wrong = int(rng.choice(m.lookalike[cls[k]]))
            cells = np.argwhere(cov[k] >= P["cover_min"])
            if len(cells) == 0:
                cells = np.argwhere(np.ones((15, 15), bool))
        else:
            absent = np.setdiff1d(np.arange(_C), cls)
            wrong = int(rng.choice(absent))
            cells = np.argwhere(np.ones((15, 15), bool))
        r, q = cells[rng.integers(len(cells))]
        g = rng.normal(*P["confusion_gap"])
        for dr, dq in ((0, 0), (0, 1), (1, 0))[: 1 + rng.integers(3)]:
            rr, qq = min(r + dr, 14), min(q + dq, 14)
            top[rr, qq] = wrong
            gap[rr, qq] = g + rng.normal(0, P["cell_sd"])
    for (r, q) in ((0, 0), (0, 14), (14, 0), (14, 14)):
        if rng.random() < P["corner_junk"]:
            top[r, q] = rng.integers(_C)
            gap[r, q] = rng.normal(*P["corner_gap"])
    gap = np.clip(gap, 0.05, 14.0)
    # the other four entries: distinct classes other than the top-1, decreasing logits
    off = np.argsort(rng.random((15, 15, _C - 1)), axis=2)[:, :, :4]
    ids = np.concatenate([top[:, :, None], (top[:, :, None] + 1 + off) % _C], axis=2)
    l1 = rng.normal(11.0, 1.0, (15, 15))
    steps = rng.exponential(0.8, (15, 15, 3))
    logits = np.concatenate([l1[:, :, None], (l1 - gap)[:, :, None],
                             (l1 - gap)[:, :, None] - np.cumsum(steps, axis=2)], axis=2)
    out = np.empty((2, 5, 15, 15), dtype=np.float32)
    out[0] = logits.transpose(2, 0, 1)
    out[1] = ids.transpose(2, 0, 1)
    return out


def labelmaps(li: LabelIndex, rows: Sequence[int] | np.ndarray, seed: int = 0,
              **labeller) -> np.ndarray:
    """Simulated ReLabel label maps of images ``rows`` (deterministic per dataset seed, seed, row).

    Parameters
    ----------
    li : LabelIndex
        A toy-scenes dataset.
    rows : sequence of int
        Rows of ``li``.
    seed : int, default 0
        The labeller's seed (a different seed = a different labelling run of the same images).
    **labeller
        Overrides of the generation's ``labeller`` (e.g. ``confusions=1.0`` for a sloppier labeller).

    Returns
    -------
    numpy.ndarray, float32, shape (n, 2, 5, 15, 15)
        ReLabel layout: ``[0]`` top-5 logits per cell, ``[1]`` the toy class ids (as floats).
        Decode with ``nbkit.labelmaps.decode(maps, threshold, n_classes=len(CLASSES))``.

    Examples
    --------
    >>> li = load_toyscenes(n_images=50, progress=False, cache=False)
    >>> m = labelmaps(li, [0, 1, 2])
    >>> m.shape, m.dtype
    ((3, 2, 5, 15, 15), dtype('float32'))
    """
    m, dseed, _ = _dataset_of(li)
    unknown = set(labeller) - set(m.labeller)
    if unknown:
        raise TypeError(f"unknown labeller options {sorted(unknown)}; known: {sorted(m.labeller)}")
    P = {**m.labeller, **labeller}
    rows = np.asarray(rows, dtype=np.int64).ravel()
    scene = _scene_rows(li, rows)
    lay = _layout_for(m, dseed, scene)
    out = np.empty((len(rows), 2, 5, 15, 15), dtype=np.float32)
    for i, r in enumerate(scene):
        rng = np.random.Generator(np.random.PCG64(
            np.random.SeedSequence([dseed, int(seed), 0x72656C62], spawn_key=(int(r),))))
        out[i] = _one_map(lay, i, rng, P, m)
    return out


def write_relabel_sample(directory: str | os.PathLike, n: int = 20, seed: int = 0,
                         li: LabelIndex | None = None, labeller_seed: int = 0,
                         rows: Sequence[int] | None = None, images: bool = True) -> pd.DataFrame:
    """Write a ReLabel-format sample with hand labels: the input of App. B's calibration.

    Files written into ``directory``:

    - ``<image_id>.pt``: ``torch.save`` of a float32 ``2 x 5 x 15 x 15`` tensor (ReLabel format,
      toy class ids);
    - ``<image_id>.png``: the image, so a person can label it by eye;
    - ``hand_labels.csv``: the ground truth, columns ``image_id,labels`` with the class labels
      (slugs, e.g. ``striped_blue_bar``) separated by ``;`` (the format ``nbkit.calibrate`` reads);
    - ``classes.csv``: ``id,label,name`` (the label space of the class ids in the maps).

    Parameters
    ----------
    directory : path-like
    n : int, default 20
        Number of images (the paper hand-labelled 20).
    seed : int, default 0
        Dataset seed (when ``li`` is None) and the seed of the choice of images.
    li : LabelIndex, optional
        Sample from this toy-scenes dataset instead of ``load_toyscenes(seed)``.
    labeller_seed : int
        Seed of the simulated labeller (:func:`labelmaps`).
    rows : sequence of int, optional
        Exactly these rows instead of a random choice.
    images : bool
        Also write the PNGs.

    Returns
    -------
    pandas.DataFrame
        ``row, image_id, labels`` of the written images.
    """
    from PIL import Image

    from ..io import atomic_path, write_text
    from ..labelmaps import save_map

    if li is None:
        li = load_toyscenes(seed=seed, progress=False)
    if rows is None:
        if not 1 <= n <= li.n_images:
            raise DataError(li.name, f"n={n} images requested", f"1..{li.n_images}")
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), 0x73616D70])))
        rows = np.sort(rng.choice(li.n_images, int(n), replace=False))
    rows = np.asarray(rows, dtype=np.int64)
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    maps = labelmaps(li, rows, seed=labeller_seed)
    pix = render_batch(li, rows) if images else None
    recs = []
    for i, r in enumerate(rows):
        iid = str(li.image_ids[r])
        save_map(d / f"{iid}.pt", maps[i])
        if pix is not None:
            with atomic_path(d / f"{iid}.png", suffix=".png") as tmp:
                Image.fromarray(pix[i]).save(tmp, format="PNG")
        labs = ";".join(li.class_labels[li.Y[r].indices])
        recs.append({"row": int(r), "image_id": iid, "labels": labs})
    df = pd.DataFrame(recs)
    buf = _io.StringIO()
    df[["image_id", "labels"]].to_csv(buf, index=False, quoting=csv.QUOTE_MINIMAL)
    write_text(d / "hand_labels.csv", buf.getvalue())
    buf = _io.StringIO()
    pd.DataFrame({"id": np.arange(li.n_classes), "label": li.class_labels,
                  "name": li.class_names}).to_csv(buf, index=False)
    write_text(d / "classes.csv", buf.getvalue())
    return df


# ============================================================================ the registry
_MODELS: dict[int, _ToyModel] = {
    1: _ToyModel(1, V1_CLASSES, V1_HUB_IDS, V1_THEMES, V1_HUB_AFFINITY, _scene_v1,
                structure=(_V1_P_PARTNER, _V1_P_RANDOM, _V1_HUB_DOMINANT_WEIGHT, _V1_MAX_SECONDARY,
                           _V1_SIZE_DOMINANT, _V1_SIZE_HUB, _V1_SIZE_SECONDARY,
                           _V1_REGULAR_WEIGHTS.tolist()),
                n_images=24000, labeller=_LABELLER_V1),
    2: _ToyModel(2, _V2["classes"], tuple(range(_V2_H)),
                {t: tuple(i for i, c in enumerate(_V2["classes"]) if c.theme == t)
                 for t in _V2_THEME_NAMES},
                {_V2["classes"][h].label: {_V2["classes"][_V2_H + j].label: round(float(r), 6)
                                           for j, r in enumerate(_V2["rates"][h]) if r > 0}
                 for h in range(_V2_H)},
                _scene_v2,
                structure=(_V2_DESIGN_SEED, _V2_N_PER_THEME, _V2_SECONDARY_MEAN, _V2_AFFINITY_SIGMA,
                           _V2_THEME_PRIOR, _V2_FAR_FACTOR, _V2_HUB_RATES, _V2_RATE_SIGMA,
                           _V2_HUB_DOMINANT_WEIGHT, _V2_ZIPF, _V2_MAX_SECONDARY, _V2_SIZE_DOMINANT,
                           _V2_SIZE_HUB, _V2_SIZE_SECONDARY, _V2_HUB_SPECS,
                           np.round(_V2["aff"], 9).tolist()),
                n_images=48000, labeller=LABELLER_V2),
}
_DEFAULT_VERSION = 2


def generation(version: int = _DEFAULT_VERSION) -> _ToyModel:
    """The :class:`ToyModel` of a generation (``classes``, ``hubs``, ``themes``, ``hub_affinity``,
    ``labeller``, ``n_images``); ``generation(1)`` is the first generation."""
    if int(version) not in _MODELS:
        raise DataError("toyscenes", f"version={version}", f"one of {sorted(_MODELS)}")
    return _MODELS[int(version)]


CLASSES: tuple[_ToyClass, ...] = _MODELS[_DEFAULT_VERSION].classes
"""The default generation's classes (96 in version 2); the class id is the position."""
HUB_IDS: tuple[int, ...] = _MODELS[_DEFAULT_VERSION].hub_ids
HUBS: dict[str, str] = _MODELS[_DEFAULT_VERSION].hubs
"""Hub class label -> the paper's trigger it echoes."""
