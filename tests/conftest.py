"""Shared fixtures: the real annotation data in ../shared/realdata (skips with a reason when absent)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import sys

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "notebooks"))
import fixture_schemas  # noqa: E402,F401 - the fixture notebooks' results schemas

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


def pytest_configure(config):
    """The whole test session (session fixtures and papermill kernels included) caches derived data
    in a fresh temporary folder, never in ~/.cache/nbkit."""
    if not os.environ.get("NBKIT_TEST_KEEP_CACHE"):
        os.environ["NBKIT_CACHE"] = tempfile.mkdtemp(prefix="nbkit-test-cache-")
