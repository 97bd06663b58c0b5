"""Shared fixtures: the real annotation data in ../shared/realdata (skips with a reason when absent)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _find_realdata() -> Path | None:
    env = os.environ.get("NBKIT_REALDATA")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared" / "realdata", REPO / "shared" / "realdata"]
    for c in candidates:
        if c.is_dir():
            return c
    return None


REALDATA = _find_realdata()


@pytest.fixture(scope="session")
def realdata() -> Path:
    """Path of ../shared/realdata; the test is skipped when it is absent."""
    if REALDATA is None:
        pytest.skip("../shared/realdata is absent (set NBKIT_REALDATA to its path); CI has it")
    return REALDATA


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Each test session caches derived data in a temporary folder, never in ~/.cache."""
    monkeypatch.setenv("NBKIT_CACHE", str(tmp_path_factory.getbasetemp() / "nbkit-cache"))
