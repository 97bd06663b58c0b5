"""Plotting helpers shared by the notebooks (matplotlib and ``wordcloud``).

Every helper returns a ``matplotlib.figure.Figure`` (save it with ``nbkit.runs.save_figure``) and
never calls ``plt.show``; every random choice (layouts, word placement) takes a ``seed``.

* co-occurrence graph (notebook 02): ``distributions_figure`` (degree / weighted degree / edge
  weight distributions), ``core_figure`` (the graph's most connected classes, spring layout);
* centrality (notebook 03, paper Figures 8-11): ``wordclouds_by_measure`` (one figure per
  measure, unweighted | weighted), ``wordcloud_grid`` (all 8 variants in one figure); each cloud
  sizes the words by centrality rank;
* GradCAM (notebook 06, paper Figure 17): ``cam_grid`` (each CAM blended on its image by
  pytorch-grad-cam's ``show_cam_on_image``, with the trigger boxes drawn);
* generic: ``sweep_figure`` (a quantity against a swept parameter).

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import pandas as pd
>>> fig = sweep_figure(pd.DataFrame({"min_overlaps": [1, 5], "edges": [40, 12]}), "min_overlaps",
...                    ["edges"], mark=5)
>>> len(fig.axes)
1
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["distributions_figure", "core_figure", "wordclouds_by_measure", "wordcloud_grid",
           "sweep_figure", "cam_grid"]


def _plt():
    import matplotlib.pyplot as plt

    return plt


# ---------------------------------------------------------------------------------------------
# notebook 02: the co-occurrence graph
# ---------------------------------------------------------------------------------------------
def distributions_figure(dist: dict, title: str | None = None):
    """Degree, weighted degree and edge-weight distributions (log-scaled histograms + CCDF).

    Parameters
    ----------
    dist : dict
        From ``nbkit.graph.degree_weight_distributions``.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Three panels: degree histogram, weighted degree (strength) complementary CDF, edge weight
        (overlaps) complementary CDF, both log-log.
    """
    plt = _plt()
    nodes, w = dist["nodes"], np.asarray(dist["weights"])
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    deg = nodes["degree"].to_numpy()
    axes[0].hist(deg, bins=min(50, max(5, int(deg.max()) + 1)), color="#3b6ea8")
    axes[0].set(xlabel="degree (classes co-occurring)", ylabel="classes",
                title="degree distribution")
    for ax, x, lab in ((axes[1], nodes["strength"].to_numpy(), "weighted degree (sum of overlaps)"),
                       (axes[2], w, "edge weight (images shared)")):
        x = np.sort(x[x > 0])
        if len(x):
            ccdf = 1.0 - np.arange(len(x)) / len(x)
            ax.loglog(x, ccdf, marker=".", lw=0.8, ms=3, color="#a8503b")
        ax.set(xlabel=lab, ylabel="fraction >= x", title="complementary CDF")
    s = dist.get("summary", {})
    if title or s:
        fig.suptitle((title or "") + (f"  ({s.get('vertices')} classes, {s.get('edges')} edges, "
                                      f"{s.get('isolated')} isolated)" if s else ""))
    fig.tight_layout()
    return fig


def core_figure(G, k: int = 30, by: str = "degree", seed: int = 0, ax=None, title: str | None = None):
    """Draw the core of the co-occurrence graph: its ``k`` best-connected classes.

    Vertices are sized by degree (or weighted degree) inside the whole graph, edges drawn with a
    width growing with ``log(overlaps)``; the spring layout is seeded (``seed``) and weighted by
    ``log(1 + overlaps)``, so the same graph always gives the same picture.

    Parameters
    ----------
    G : networkx.Graph
        From ``nbkit.graph.build_graph``.
    k : int
    by : {"degree", "weighted"}
    seed : int
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    import networkx as nx

    from .graph import core_subgraph

    plt = _plt()
    H = core_subgraph(G, k=k, by=by)
    deg = dict(G.degree(weight="overlaps" if by == "weighted" else None))
    for a, b, d in H.edges(data=True):
        d["_w"] = float(np.log1p(d.get("overlaps", 1)))
    pos = nx.spring_layout(H, weight="_w", seed=int(seed))
    if ax is None:
        fig, ax = plt.subplots(figsize=(9, 7.5))
    else:
        fig = ax.figure
    dv = np.array([deg[v] for v in H.nodes], dtype=float)
    size = 80 + 1200 * (dv - dv.min()) / (np.ptp(dv) or 1.0)
    ew = np.array([d["_w"] for _, _, d in H.edges(data=True)])
    widths = 0.3 + 2.5 * (ew - ew.min()) / (np.ptp(ew) or 1.0) if len(ew) else []
    nx.draw_networkx_edges(H, pos, ax=ax, width=widths, alpha=0.35, edge_color="#555555")
    nx.draw_networkx_nodes(H, pos, ax=ax, node_size=size, node_color=dv, cmap="viridis",
                           alpha=0.9)
    nx.draw_networkx_labels(H, pos, ax=ax, labels={v: H.nodes[v].get("name", v) for v in H.nodes},
                            font_size=8)
    ax.set_axis_off()
    ax.set_title(title or f"core of the co-occurrence graph: top {len(H)} classes by "
                          f"{'weighted ' if by == 'weighted' else ''}degree "
                          f"(min_overlaps={G.graph.get('min_overlaps')})")
    return fig


# ---------------------------------------------------------------------------------------------
# notebook 03: word clouds (Figures 8-11)
# ---------------------------------------------------------------------------------------------
def _rank_frequencies(series: pd.Series, names=None, m: int = 50, exclude=()) -> dict:
    """Word weights for a centrality word cloud: the top ``m`` classes, weight ``m - rank + 1``.

    Sizing by *rank* (not by raw value) keeps the clouds of the 8 variants comparable: raw
    betweenness is dominated by one or two classes, raw degree is nearly flat.

    Parameters
    ----------
    series : pandas.Series
        Centrality (index class id), e.g. from ``nbkit.centrality.centrality``.
    names : sequence or mapping, optional
        Class names when ``series.attrs`` lacks them.
    m : int
    exclude : iterable
        Passed to ``nbkit.centrality.top_m``.

    Returns
    -------
    dict
        name -> weight (duplicate names get the class id appended).
    """
    from .centrality import top_m

    t = top_m(series, m, exclude=exclude, names=names)
    nm = t.attrs.get("names") or [str(i) for i in t.index]
    out: dict[str, float] = {}
    for r, (cid, name) in enumerate(zip(t.index, nm)):
        key = name if name not in out else f"{name} ({cid})"
        out[key] = float(len(nm) - r)
    return out


def _wordcloud_image(freqs: Mapping[str, float], seed: int = 0, width: int = 640,
                    height: int = 360, colormap: str = "viridis") -> np.ndarray:
    """Render a word cloud (``wordcloud`` package, its bundled font, no network) to an RGB array.

    Parameters
    ----------
    freqs : mapping word -> weight
    seed : int
        ``random_state`` of the word placement and colours.
    width, height : int
    colormap : str

    Returns
    -------
    numpy.ndarray (height, width, 3) uint8
    """
    from wordcloud import WordCloud

    if not freqs:
        return np.full((height, width, 3), 255, dtype=np.uint8)
    wc = WordCloud(width=width, height=height, background_color="white", random_state=int(seed),
                   colormap=colormap, prefer_horizontal=0.9, max_words=len(freqs),
                   relative_scaling=0.6, min_font_size=6)
    wc.generate_from_frequencies(dict(freqs))
    return wc.to_array()


def _wordcloud_figure(series: pd.Series, names=None, m: int = 50, seed: int = 0, exclude=(),
                     title: str | None = None, ax=None, width: int = 640, height: int = 360):
    """One word cloud of the top-``m`` classes of a centrality variant (paper Figures 8-11).

    Parameters
    ----------
    series : pandas.Series
    names : optional
        Class names when ``series.attrs`` lacks them.
    m, seed : int
    exclude : iterable
        Classes to leave out (e.g. ``nbkit.centrality.BODY_PARTS``).
    title : str, optional
        Default: the series name.
    ax : matplotlib Axes, optional
    width, height : int
        Pixels of the rendered cloud (rendering time grows with the area).

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _plt()
    img = _wordcloud_image(_rank_frequencies(series, names=names, m=m, exclude=exclude), seed=seed,
                          width=width, height=height)
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 4.5))
    else:
        fig = ax.figure
    ax.imshow(img, interpolation="bilinear")
    ax.set_axis_off()
    ax.set_title(title if title is not None else str(series.name))
    return fig


def wordclouds_by_measure(df: pd.DataFrame, m: int = 50, seed: int = 0, exclude=(),
                          names=None, width: int = 640, height: int = 360) -> dict:
    """Figures 8-11: one figure per measure, its unweighted and weighted word clouds side by side.

    Parameters
    ----------
    df : pandas.DataFrame
        From ``nbkit.centrality.all_variants``.
    m, seed : int
    exclude : iterable
    names : optional
    width, height : int
        Pixels per cloud.

    Returns
    -------
    dict
        measure -> Figure.
    """
    from .centrality import MEASURES, variant_name

    plt = _plt()
    figs = {}
    for measure in MEASURES:
        cols = [variant_name(measure, w) for w in (False, True)]
        if not all(c in df.columns for c in cols):
            continue
        fig, axes = plt.subplots(1, 2, figsize=(13, 3.9))
        _clouds_into(df, cols, axes, m, seed, exclude, names, width, height)
        fig.suptitle(f"top {m} classes by {measure} centrality (word size = rank)")
        fig.tight_layout()
        figs[measure] = fig
    return figs


def wordcloud_grid(df: pd.DataFrame, m: int = 50, seed: int = 0, exclude=(), names=None,
                   width: int = 480, height: int = 270, title: str | None = None):
    """All variants of ``df`` in one figure: one row per measure, unweighted | weighted.

    Parameters
    ----------
    df : pandas.DataFrame
        From ``nbkit.centrality.all_variants``.
    m, seed : int
    exclude, names : optional
    width, height : int
        Pixels per cloud.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .centrality import MEASURES, variant_name

    plt = _plt()
    measures = [x for x in MEASURES if variant_name(x, False) in df.columns]
    fig, axes = plt.subplots(len(measures), 2, figsize=(12, 3.4 * len(measures)), squeeze=False)
    for row, measure in zip(axes, measures):
        _clouds_into(df, [variant_name(measure, w) for w in (False, True)], row, m, seed, exclude,
                     names, width, height)
    fig.suptitle(title or f"top {m} classes per centrality variant (word size = rank)")
    fig.tight_layout()
    return fig


def _clouds_into(df, cols, axes, m, seed, exclude, names, width, height):
    from .centrality import parse_variant

    for ax, col in zip(axes, cols):
        measure, weighted = parse_variant(col)
        s = df[col].copy()
        s.attrs = dict(df.attrs)
        _wordcloud_figure(s, names=names, m=m, seed=seed, exclude=exclude, ax=ax, width=width,
                         height=height,
                         title=f"{measure} ({'weighted' if weighted else 'unweighted'})")


# ---------------------------------------------------------------------------------------------
# generic
# ---------------------------------------------------------------------------------------------
def sweep_figure(df: pd.DataFrame, x: str, ys: Sequence[str], mark: float | None = None,
                 xlabel: str | None = None, ylabel: str | None = None, title: str | None = None,
                 logy: bool = False, ax=None):
    """Plot one or more columns of ``df`` against a swept parameter ``x``.

    Parameters
    ----------
    df : pandas.DataFrame
    x : str
        Column of the swept parameter.
    ys : sequence of str
        Columns to draw (one line each, labelled by column name).
    mark : float, optional
        Draw a vertical line at this ``x`` (e.g. the chosen threshold).
    xlabel, ylabel, title : str, optional
    logy : bool
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> df = pd.DataFrame({"t": [0.9, 0.95, 1.0], "fp": [5, 2, 0], "fn": [0, 1, 4]})
    >>> fig = sweep_figure(df, "t", ["fp", "fn"], mark=0.95)
    >>> [l.get_label() for l in fig.axes[0].get_lines()][:2]
    ['fp', 'fn']
    """
    plt = _plt()
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4))
    else:
        fig = ax.figure
    for y in ys:
        ax.plot(df[x], df[y], marker=".", lw=1.2, label=y)
    if mark is not None:
        ax.axvline(mark, color="k", ls="--", lw=0.8)
    if logy:
        ax.set_yscale("log")
    ax.set(xlabel=xlabel or x, ylabel=ylabel or ", ".join(ys), title=title or "")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# notebook 06: GradCAM (Figure 17)
# ---------------------------------------------------------------------------------------------
def _overlay(image: np.ndarray, cam: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """The image with the CAM blended on top (HxWx3 uint8), by ``show_cam_on_image``.

    pytorch-grad-cam's ``show_cam_on_image``: the CAM in OpenCV's jet colours, weighted ``alpha``
    against the image's ``1 - alpha``, rescaled so the brightest pixel is 255. A CAM of another
    size is resized (bilinear) to the image's.

    Examples
    --------
    >>> _overlay(np.zeros((4, 4, 3), np.uint8), np.ones((2, 2))).shape
    (4, 4, 3)
    """
    import cv2
    from pytorch_grad_cam.utils.image import show_cam_on_image

    img = np.asarray(image, dtype=np.float32) / 255.0
    cam = np.asarray(cam, dtype=np.float32)
    if cam.shape != img.shape[:2]:
        cam = cv2.resize(cam, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR)
    return show_cam_on_image(img, np.clip(cam, 0, 1), use_rgb=True, image_weight=1 - alpha)


def _draw_boxes(ax, boxes, H, W, color="lime"):
    from matplotlib.patches import Rectangle

    for x0, y0, x1, y1 in np.asarray(boxes).reshape(-1, 4):
        ax.add_patch(Rectangle((x0 * W - 0.5, y0 * H - 0.5), (x1 - x0) * W, (y1 - y0) * H,
                               fill=False, edgecolor=color, linewidth=1.5))


def _cam_panel(ax, img, cam, boxes, cam_threshold, title):
    """One overlay panel: the CAM blended on the image, the boxes, the thresholded region."""
    H, W = img.shape[:2]
    ax.imshow(_overlay(img, cam))
    _draw_boxes(ax, boxes, H, W)
    if cam_threshold is not None and np.max(cam) > 0:
        ax.contour(cam >= cam_threshold * np.max(cam), levels=[0.5], colors="white", linewidths=0.8)
    if title is not None:
        ax.set_title(str(title), fontsize=8)


def cam_grid(images: Sequence[np.ndarray], cams: Sequence[np.ndarray],
             boxes: Sequence[np.ndarray] | None = None, titles: Sequence[str] | None = None,
             ncols: int = 4, with_image: bool = False, panel_size: float = 2.2,
             cam_threshold: float | None = None):
    """A grid of CAM overlays with the trigger boxes drawn (Figure 17).

    Parameters
    ----------
    images, cams : sequences
        Pixels and their CAMs (``nbkit.audit.gradcam``).
    boxes : sequence of [k, 4] arrays, optional
        Normalised trigger boxes per image (drawn in green).
    titles : sequence of str, optional
        Panel titles.
    ncols : int
        Examples per row (each example takes two panels when ``with_image``).
    with_image : bool
        Show the plain image beside each overlay.
    cam_threshold : float, optional
        Also outline the thresholded CAM region (white contour).

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _plt()
    n = len(images)
    per = 2 if with_image else 1
    ncols = max(1, min(ncols, n)) if n else 1
    nrows = max(1, int(np.ceil(n / ncols)))
    fig, axes = plt.subplots(nrows, ncols * per, figsize=(panel_size * ncols * per, panel_size * nrows),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i in range(n):
        r, c = divmod(i, ncols)
        img = np.asarray(images[i])
        b = boxes[i] if boxes is not None else np.zeros((0, 4))
        if with_image:
            axes[r, c * per].imshow(img)
            _draw_boxes(axes[r, c * per], b, *img.shape[:2])
        _cam_panel(axes[r, c * per + per - 1], img, cams[i], b, cam_threshold,
                   None if titles is None else titles[i])
    fig.tight_layout()
    return fig


def training_curves(history, title: str = ""):
    """Notebook 05's curves: accuracy and loss per epoch of a ``nbkit.train.train`` history (ours and
    the authors' test-set definitions)."""
    import matplotlib.pyplot as plt

    log = pd.DataFrame(list(history))
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 3.8))
    for col, style, label, alpha in [
            ("test_clean_acc", "o-", "clean (test)", 1), ("test_trigger_acc", "s-", "trigger (test, non-target)", 1),
            ("test_clean_acc_authors", "o--", "clean (authors' test set)", .5),
            ("test_trigger_acc_authors", "s--", "trigger (authors')", .5),
            ("train_clean_acc", ":", "clean (train)", 1), ("train_trigger_acc", ":", "trigger (train)", 1)]:
        ax.plot(log.epoch, log[col], style, alpha=alpha, label=label)
    ax.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02), title=title)
    ax.legend(fontsize=7, loc="lower right")
    for col, style, label in [("train_loss", "k-", "train (all)"), ("test_clean_loss", "o-", "clean (test)"),
                              ("test_trigger_loss", "s-", "trigger (test, non-target)")]:
        bx.plot(log.epoch, log[col], style, label=label)
    bx.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    bx.legend(fontsize=7)
    fig.tight_layout()
    return fig
