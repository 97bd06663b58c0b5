"""Maximum independent sets of a conflict graph given as a boolean adjacency matrix.

The solvers behind ``nbkit.subsets`` (paper App. E.3: a trigger's poisonable subset is a maximum
independent set (MIS) of the conflict graph among its candidate classes). Nothing here knows about
classes or co-occurrences: every function takes a square symmetric boolean matrix.

Two solvers (``solve(adj, mis=...)``, choices ``METHODS``):

* ``"approx"``, the authors' code: the largest of ``runs`` random maximal independent sets (greedy
  over a seeded random vertex order, like graph-tool's ``max_independent_vertex_set`` /
  networkx's ``maximal_independent_set``). Fast, but may miss the maximum.
* ``"exact"``: an integer program solved by HiGHS (``scipy.optimize.milp``): maximise ``sum x``
  with one constraint ``sum_{i in K} x_i <= 1`` per clique ``K`` of a clique cover of the conflict
  edges (each edge lies in some clique, so this is exactly the edge formulation, only tighter),
  after safe reductions (isolated vertices join, pendant vertices join and drop their neighbour)
  and a split into connected components (``scipy.sparse.csgraph``). The result says honestly
  whether it is proven optimal (``optimal``) and gives an upper bound; under a time limit it
  returns the best set found (never smaller than the approximation) with ``optimal=False``.

Examples
--------
>>> import numpy as np
>>> A = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=bool)   # a path a - b - c
>>> solve(A, "exact")["members"].tolist(), solve(A, "approx", mis_runs=5)["size"]
([0, 2], 2)
"""
from __future__ import annotations

import math
import time
from typing import Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse.csgraph import connected_components

from .errors import GraphError

#: HiGHS presolve speeds up structured models (a 1,000-class co-occurrence graph: 1.5 s instead of
#: 7 s) but on near-random dense ones it does not honour the time limit (40 s over a 3 s limit on a
#: 1,000-vertex graph of density 0.5, whose clique cover has ~19,000 small cliques). Such models are
#: recognised by their many clique rows; presolve is switched off above this many.
_PRESOLVE_MAX_ROWS = 8_000
#: The two solvers: ``"exact"`` (``mis_exact``) and ``"approx"`` (``mis_approx``).
METHODS = ("exact", "approx")


def _check_adj(adj) -> np.ndarray:
    A = np.asarray(adj, dtype=bool)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise GraphError(f"adjacency has shape {A.shape}; expected a square matrix")
    if not (A == A.T).all():
        raise GraphError("adjacency is not symmetric; expected an undirected conflict graph")
    A = A.copy()
    np.fill_diagonal(A, False)
    return A


def _is_independent(adj, members: Iterable[int]) -> bool:
    """Whether no two ``members`` are adjacent in ``adj``.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=bool)
    >>> _is_independent(A, [0, 2]), _is_independent(A, [0, 1])
    (True, False)
    """
    m = np.asarray(list(members), dtype=np.int64)
    if len(m) < 2:
        return True
    sub = np.asarray(adj, dtype=bool)[np.ix_(m, m)]
    np.fill_diagonal(sub, False)
    return not sub.any()


def maximal_independent_set(adj, rng: np.random.Generator) -> np.ndarray:
    """One random maximal independent set: greedy over a random vertex order.

    Parameters
    ----------
    adj : ndarray of bool (n, n)
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of int
        Sorted vertex indices.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.ones((3, 3), dtype=bool) & ~np.eye(3, dtype=bool)   # a triangle
    >>> len(maximal_independent_set(A, np.random.default_rng(0)))
    1
    """
    A = np.asarray(adj, dtype=bool)
    n = A.shape[0]
    blocked = np.zeros(n, dtype=bool)
    take = np.zeros(n, dtype=bool)
    for v in rng.permutation(n):
        if not blocked[v]:
            take[v] = True
            blocked |= A[v]
            blocked[v] = True
    return np.flatnonzero(take)


def mis_approx(adj, runs: int = 20, seed: int | Sequence[int] = 0,
               keep: np.ndarray | None = None) -> dict:
    """The authors' approximation: the largest of ``runs`` random maximal independent sets.

    Parameters
    ----------
    adj : ndarray of bool (n, n)
        Conflict graph.
    runs : int
        Number of random maximal sets drawn (authors: 20).
    seed : int or sequence of int
        Seed of ``numpy.random.default_rng``.
    keep : ndarray of bool (n,), optional
        Applied to every drawn set before comparing sizes (the authors' Feb-2022 "filter after":
        ineligible classes are dropped from each draw).

    Returns
    -------
    dict
        ``members`` (sorted indices), ``size``, ``sizes`` (of every draw), ``upper_bound`` (a clique
        cover bound), ``optimal`` (True only when the size meets that bound), ``solve_s``.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.zeros((4, 4), dtype=bool)
    >>> mis_approx(A, runs=3)["size"]
    4
    """
    t0 = time.perf_counter()
    A = _check_adj(adj)
    if runs < 1:
        raise GraphError(f"runs={runs}; expected at least one random draw")
    rng = np.random.default_rng(seed)
    best = np.zeros(0, dtype=np.int64)
    sizes = []
    for _ in range(int(runs)):
        s = maximal_independent_set(A, rng)
        if keep is not None:
            s = s[np.asarray(keep, dtype=bool)[s]]
        sizes.append(len(s))
        if len(s) > len(best):
            best = s
    sub = A if keep is None else A[np.ix_(np.asarray(keep, bool), np.asarray(keep, bool))]
    ub = _clique_partition_bound(sub)
    return dict(members=np.sort(best), size=int(len(best)), sizes=sizes, upper_bound=int(ub),
                optimal=bool(len(best) >= ub), solve_s=time.perf_counter() - t0)


def _clique_partition_bound(adj) -> int:
    """An upper bound on the independence number: the size of a greedy clique partition.

    An independent set holds at most one vertex of each clique, so the number of cliques that
    partition the vertices bounds every independent set.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.ones((4, 4), dtype=bool); A[:2, 2:] = A[2:, :2] = False   # two disjoint edges
    >>> _clique_partition_bound(A)
    2
    """
    A = _check_adj(adj)                                 # copy without self-loops
    n = A.shape[0]
    if n == 0:
        return 0
    order = np.argsort(-A.sum(axis=1), kind="stable")   # bit i = i-th highest degree
    B = A[np.ix_(order, order)]
    adj_bits = [_bits(B[i]) for i in range(n)]
    left = (1 << n) - 1
    k = 0
    while left:
        v = left.bit_length() - 1                       # a remaining vertex of least degree
        left &= ~(1 << v)
        common = adj_bits[v] & left
        while common:                                   # grow by the highest-degree candidate
            w = (common & -common).bit_length() - 1
            left &= ~(1 << w)
            common &= adj_bits[w]
        k += 1
    return k


def _bits(row: np.ndarray) -> int:
    """A boolean vector as a Python int bitset (bit i = element i)."""
    return int.from_bytes(np.packbits(row, bitorder="little").tobytes(), "little")


def _clique_cover(A: np.ndarray) -> list[np.ndarray]:
    """Greedy cliques that together cover every edge of ``A`` (isolated vertices not included).

    Vertices are taken by decreasing degree; each clique starts at a vertex with uncovered edges
    and grows by common neighbours, preferring those joined to the clique by uncovered edges, then
    high degree: few, large cliques, i.e. strong LP constraints. Bitsets (Python ints) keep every
    growth step O(1) big-int operations.
    """
    n = A.shape[0]
    order = np.argsort(-A.sum(axis=1), kind="stable")      # new label i = old vertex order[i]
    B = A[np.ix_(order, order)]
    adj = [_bits(B[i]) for i in range(n)]
    unc = list(adj)
    cliques = []
    for u in range(n):
        while unc[u]:
            members = [u]
            kbits = 1 << u
            common = adj[u]
            pref = unc[u]
            while common:
                x = common & pref
                x = x if x else common
                w = (x & -x).bit_length() - 1
                members.append(w)
                kbits |= 1 << w
                common &= adj[w]
                pref |= unc[w]
            for a in members:
                unc[a] &= ~kbits
            cliques.append(order[np.asarray(members, dtype=np.int64)])
    return cliques


def _reduce(A: np.ndarray) -> tuple[list[int], np.ndarray]:
    """Safe MIS reductions: isolated vertices join; a pendant vertex joins and its neighbour leaves.

    Returns the vertices taken and the mask of vertices still undecided.
    """
    n = A.shape[0]
    alive = np.ones(n, dtype=bool)
    deg = A.sum(axis=1).astype(np.int64)
    taken: list[int] = []
    changed = True
    while changed:
        changed = False
        iso = np.flatnonzero(alive & (deg == 0))
        if len(iso):
            taken.extend(int(v) for v in iso)
            alive[iso] = False
            changed = True
        for v in np.flatnonzero(alive & (deg == 1)):
            if not alive[v] or deg[v] != 1:
                continue
            u = int(np.flatnonzero(A[v] & alive)[0])
            taken.append(int(v))
            for x in (v, u):
                alive[x] = False
                deg[A[x]] -= 1
            changed = True
    return taken, alive


def _components(A: np.ndarray) -> list[np.ndarray]:
    """Connected components (vertex index arrays, by their smallest vertex) of a dense adjacency."""
    n, labels = connected_components(sp.csr_matrix(A), directed=False)
    return [np.flatnonzero(labels == k) for k in range(n)]


def _greedy_min_degree(A: np.ndarray) -> np.ndarray:
    """Maximal independent set taking, each step, a vertex of least remaining degree."""
    alive = np.ones(A.shape[0], dtype=bool)
    deg = A.sum(axis=1).astype(np.int64)
    take = []
    while alive.any():
        idx = np.flatnonzero(alive)
        v = int(idx[np.argmin(deg[idx])])
        take.append(v)
        gone = A[v] & alive
        gone[v] = True
        alive &= ~gone
        deg -= A[gone].sum(axis=0)
    return np.sort(np.asarray(take, dtype=np.int64))


def _ilp(A: np.ndarray, deadline: float) -> tuple[np.ndarray | None, int, bool, str]:
    """MIS of a connected graph by HiGHS; (members or None, upper bound, optimal, status text)."""
    n = A.shape[0]
    cliques = _clique_cover(A)
    time_limit = deadline - time.perf_counter()
    if time_limit <= 0:
        return None, n, False, "time limit reached while building the model"
    rows = np.concatenate([np.full(len(K), i) for i, K in enumerate(cliques)])
    cols = np.concatenate(cliques)
    C = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(cliques), n))
    res = milp(c=-np.ones(n), integrality=np.ones(n), bounds=Bounds(0, 1),
               constraints=LinearConstraint(C, -np.inf, 1),
               options=dict(time_limit=float(time_limit), mip_rel_gap=0.0,
                            presolve=bool(C.shape[0] <= _PRESOLVE_MAX_ROWS), disp=False))
    members = None
    if res.x is not None:
        members = np.flatnonzero(res.x > 0.5)
    ub = n
    bound = getattr(res, "mip_dual_bound", None)
    if bound is not None and np.isfinite(bound):
        ub = min(n, int(math.floor(-bound + 1e-6)))
    optimal = bool(res.status == 0 and members is not None)
    if optimal:
        ub = len(members)
    elif members is not None and len(members) >= ub:
        optimal = True
    return members, ub, optimal, str(res.message)


def mis_exact(adj, time_limit: float = 10.0, seed: int | Sequence[int] = 0) -> dict:
    """A maximum independent set by integer programming (HiGHS), with an honest ``optimal`` flag.

    Parameters
    ----------
    adj : ndarray of bool (n, n)
        Conflict graph.
    time_limit : float
        Seconds for the whole graph (shared by its components). When it runs out the best set
        found is returned with ``optimal=False``.
    seed : int or sequence of int
        Seed of the randomized fallback / warm comparison (20 random maximal sets): the result is
        never smaller than that approximation.

    Returns
    -------
    dict
        ``members`` (sorted), ``size``, ``optimal`` (proven maximum), ``upper_bound`` (proven bound
        on the maximum), ``components`` (solved by ILP), ``status``, ``solve_s``.

    Examples
    --------
    >>> import numpy as np
    >>> C5 = np.zeros((5, 5), dtype=bool)
    >>> for i in range(5):
    ...     C5[i, (i + 1) % 5] = C5[(i + 1) % 5, i] = True
    >>> r = mis_exact(C5)
    >>> r["size"], r["optimal"]
    (2, True)
    """
    t0 = time.perf_counter()
    A = _check_adj(adj)
    deadline = t0 + float(time_limit)
    taken, alive = _reduce(A)
    members = list(taken)
    ub = len(taken)
    optimal = True
    statuses = []
    rest = np.flatnonzero(alive)
    comps = [rest[c] for c in _components(A[np.ix_(rest, rest)])]
    n_ilp = 0
    for comp in sorted(comps, key=len):
        sub = A[np.ix_(comp, comp)]
        left = deadline - time.perf_counter()
        g = _greedy_min_degree(sub)
        gub = _clique_partition_bound(sub)
        if len(g) >= gub:  # greedy meets a clique-partition bound: proven, no solver needed
            m, u, ok, st = g, gub, True, ""
        elif left <= 0:
            m, u, ok, st = None, len(comp), False, "time limit reached before this component"
        else:
            n_ilp += 1
            m, u, ok, st = _ilp(sub, deadline)
        if not ok:  # time limit: never worse than the approximations, and the best bound we have
            greedy = mis_approx(sub, runs=20, seed=seed)
            for cand in (greedy["members"], g):
                if m is None or len(m) < len(cand):
                    m = cand
            u = min(u, gub)
            ok = len(m) >= u
        members.extend(int(v) for v in comp[m])
        ub += max(u, len(m))
        optimal &= ok
        statuses.append(st)
    members = np.sort(np.asarray(members, dtype=np.int64))
    if not _is_independent(A, members):  # a solver bug must never become a wrong answer
        raise GraphError("internal error: the exact MIS is not independent")
    status = "optimal" if optimal else "; ".join(sorted(set(s for s in statuses if s)))[:300]
    return dict(members=members, size=int(len(members)), optimal=bool(optimal), upper_bound=int(ub),
                components=n_ilp, status=status, solve_s=time.perf_counter() - t0)


def solve(adj, mis: str = "exact", mis_runs: int = 20, seed: int | Sequence[int] = 0,
          time_limit: float = 10.0, keep: np.ndarray | None = None) -> dict:
    """A maximum independent set of ``adj`` by the solver ``mis`` (``"exact"`` or ``"approx"``).

    Parameters
    ----------
    adj : ndarray of bool (n, n)
        Conflict graph.
    mis : {"exact", "approx"}
        ``mis_exact`` (HiGHS; ``time_limit``) or ``mis_approx`` (``mis_runs`` random maximal sets).
    mis_runs, seed, time_limit
        ``mis_approx``'s ``runs`` and ``seed``, ``mis_exact``'s ``time_limit`` (the exact solver's seed drives its fallback draws).
    keep : ndarray of bool (n,), optional
        Vertices that count. ``"approx"`` drops the others from every draw before comparing sizes
        (the authors' Feb-2022 "filter after"); ``"exact"`` solves the MIS of the kept vertices,
        which is the same optimum.

    Returns
    -------
    dict
        The solver's result; ``members`` index ``adj``'s vertices.

    Raises
    ------
    GraphError
        When ``mis`` is not one of ``METHODS``.
    """
    if mis not in METHODS:
        raise GraphError(f"MIS method mis={mis!r}; expected one of {METHODS}")
    if mis == "approx":
        return mis_approx(adj, runs=mis_runs, seed=seed, keep=keep)
    if keep is None:
        return mis_exact(adj, time_limit=time_limit, seed=seed)
    sub = np.flatnonzero(np.asarray(keep, dtype=bool))
    r = mis_exact(np.asarray(adj, dtype=bool)[np.ix_(sub, sub)], time_limit=time_limit, seed=seed)
    r["members"] = sub[r["members"]]
    return r
