"""Run folders and the writes behind them: completion records, durable atomic writes with the user's
umask, names that cannot leave their root, the one runs-root finder, progress bars in notebooks."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from nbkit import io as nio
from nbkit import runs
from nbkit.errors import DataError, MissingDataError, NbkitError

REPO = Path(__file__).resolve().parents[1]


# --- atomic writes --------------------------------------------------------------------------------
@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_writes_get_the_users_umask(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        assert nio._current_umask() == mask
        nio.write_json(tmp_path / "a.json", {"x": 1})
        nio.write_text(tmp_path / "b.txt", "x")
        nio.save_npz(tmp_path / "c.npz", a=[1, 2])
    finally:
        os.umask(old)
    for f in ("a.json", "b.txt", "c.npz"):
        assert stat.S_IMODE((tmp_path / f).stat().st_mode) == mode, f


def test_atomic_writes_are_fsynced_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    nio.write_json(tmp_path / "r.json", {"x": 1})
    assert events[:2] == ["fsync", "replace"], events
    assert nio.read_json(tmp_path / "r.json") == {"x": 1}


# --- completion -----------------------------------------------------------------------------------
def test_a_truncated_or_unvouched_results_json_is_not_complete(tmp_path):
    d = runs.prepare(tmp_path / "run", {"seed": 0})
    runs.save_results(d, "00_test", {"value": 1.5, "rows": list(range(50))})
    assert runs.is_complete(d) and runs.load_results(d)["value"] == 1.5
    rec = json.loads((d / runs.COMPLETE).read_text())
    assert rec["results_sha256"] == runs._file_sha256(d / runs.RESULTS)
    raw = (d / runs.RESULTS).read_bytes()
    (d / runs.RESULTS).write_bytes(raw[: len(raw) // 2])          # a half-copied file
    assert not runs.is_complete(d)
    with pytest.raises(MissingDataError, match="not complete"):
        runs.load_results(d)
    (d / runs.RESULTS).write_text('{"value": 2}')                  # parses, but is not the one recorded
    assert not runs.is_complete(d)
    (d / runs.COMPLETE).unlink()                                   # results.json alone proves nothing
    runs.save_results(d, "00_test", {"value": 3})
    (d / runs.COMPLETE).unlink()
    assert not runs.is_complete(d)


def test_prepare_withdraws_the_completion_record_first(tmp_path):
    d = runs.prepare(tmp_path / "r", {"a": 1})
    runs.save_results(d, "00_test", {"v": 1})
    runs.prepare(d, {"a": 1})
    assert not (d / runs.COMPLETE).exists() and not (d / runs.RESULTS).exists()
    assert (d / runs.MARKER).is_file()


# --- names and folders ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["..", ".", "../x", "a/b", ".hidden", "", "x\\..\\y", "a b"])
def test_names_that_could_leave_their_folder_are_refused(tmp_path, name):
    with pytest.raises(DataError, match="not a plain folder name"):
        runs.check_name(name, "batch name")
    with pytest.raises(DataError):
        runs.run_dir_for("05_train", {"a": 1}, batch=name, root=tmp_path)
    with pytest.raises(DataError):
        runs.find_run("05_train", batch=name, root=tmp_path)


def test_run_names_show_what_varies_then_a_short_hash():
    p = {"injection_rate": 0.1, "target": 0, "seed": 0, "dataset": "openimages:/data/oi/"}
    name = runs.run_name(p, vary=["injection_rate", "target", "dataset"])
    assert name == f"inj0.1-target0-data=oi-{runs.params_hash(p)[:8]}"
    assert runs.run_name(p) == runs.params_hash(p)[:8]
    long = runs.run_name({"unfrozen_layers": 3, "trigger": "/m/0fly7"}, vary=["unfrozen_layers", "trigger"])
    assert long.startswith("unfrl3-trig=0fly7-") and runs.check_name(long)


def test_clear_folder_only_removes_what_the_kit_created(tmp_path):
    mine = runs._make_run_folder(tmp_path / "mine")
    (mine / "old.png").write_bytes(b"x")
    runs.clear_folder(mine)
    assert sorted(p.name for p in mine.iterdir()) == [runs.MARKER]
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "thesis.tex").write_text("precious")
    with pytest.raises(NbkitError, match="did not create"):
        runs.clear_folder(theirs)
    assert (theirs / "thesis.tex").read_text() == "precious"
    link = tmp_path / "link"
    link.symlink_to(mine)
    with pytest.raises(NbkitError, match="symbolic link"):
        runs.clear_folder(link)
    # a folder that already holds someone's files is used but never marked
    runs.prepare(theirs, {"a": 1})
    assert not (theirs / runs.MARKER).exists()


# --- the runs root ---------------------------------------------------------------------------------
def test_runs_root_is_the_checkouts_runs_from_any_working_directory(tmp_path, monkeypatch):
    co = tmp_path / "checkout"
    (co / "batches").mkdir(parents=True)
    (co / "notebooks" / "deep").mkdir(parents=True)
    (co / "pyproject.toml").write_text("[project]\nname='x'\n")
    monkeypatch.delenv("NBKIT_RUNS", raising=False)
    monkeypatch.chdir(co / "notebooks")                 # where JupyterLab starts a notebook's kernel
    assert runs.runs_root() == co.resolve() / "runs"
    assert runs.run_dir_for("05_train", {"a": 1}).parent == co.resolve() / "runs" / "interactive" / "05_train"
    monkeypatch.chdir(co / "notebooks" / "deep")
    assert runs.runs_root() == co.resolve() / "runs"
    monkeypatch.chdir(tmp_path)                          # outside any checkout: ./runs
    assert runs.runs_root() == tmp_path.resolve() / "runs"
    monkeypatch.setenv("NBKIT_RUNS", str(tmp_path / "elsewhere"))
    assert runs.runs_root() == (tmp_path / "elsewhere").resolve()


# --- progress bars ---------------------------------------------------------------------------------
def test_progress_bars_leave_executed_notebooks_clean(tmp_path):
    """An executed notebook carries no TqdmWarning, nothing on stderr, and one final line per bar."""
    import nbformat
    import papermill

    from nbkit.batch import kernel_name

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("from nbkit import subsets, train, audit  # modules with bars\n"
                                  "from nbkit.datasets.toyscenes import load_toyscenes\n"
                                  "li = load_toyscenes(seed=5, n_images=300, cache=False, progress=True)"),
        nbformat.v4.new_code_cell("from nbkit.progress import tqdm\n"
                                  "for i in tqdm(range(3), desc='outer'):\n"
                                  "    for j in tqdm(range(100), desc='inner', leave=False, mininterval=0):\n"
                                  "        pass"),
    ]
    src, out = tmp_path / "bars.ipynb", tmp_path / "bars.out.ipynb"
    nbformat.write(nb, str(src))
    papermill.execute_notebook(str(src), str(out), kernel_name=kernel_name(), progress_bar=False,
                               cwd=str(tmp_path))
    done = nbformat.read(str(out), as_version=4)
    outputs = [o for c in done.cells for o in c.get("outputs", [])]
    text = json.dumps(outputs)
    assert "TqdmWarning" not in text and "IProgress" not in text
    assert not [o for o in outputs if o.get("name") == "stderr"], "no pink stderr blocks"
    bars = [o["data"]["text/plain"] for o in outputs if o.get("output_type") == "display_data"]
    finals = [b for b in bars if b]
    assert any("toy scenes" in b and "300/300" in b for b in finals), bars
    assert any("outer" in b and "3/3" in b for b in finals), bars
    assert not any("inner" in b for b in finals), "leave=False bars are emptied when they close"
    assert all("\r" not in b and b.count("\n") == 0 for b in finals)


# --- make targets -----------------------------------------------------------------------------------
def _make_n(*args: str) -> str:
    import shutil
    import subprocess
    import tempfile

    if not shutil.which("make"):
        pytest.skip("make is not installed")
    with tempfile.NamedTemporaryFile() as stamp:   # newer than pyproject.toml: no venv step
        # under `make test` the outer make's MAKEFLAGS/MAKELEVEL would make this one print
        # "Entering directory" lines: run it as a top-level make
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
        r = subprocess.run(["make", "--no-print-directory", "-n", *args, f"STAMP={stamp.name}",
                            "BIN=/venv/bin"], cwd=REPO, capture_output=True, text=True, timeout=60,
                           env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_make_lab_passes_lab_args_opens_on_the_nbkit_kernel_and_works_as_root():
    out = _make_n("lab", "LAB_ARGS=--no-browser --port 8890")
    assert "/venv/bin/jupyter lab" in out and "--MultiKernelManager.default_kernel_name=nbkit" in out
    assert "--no-browser --port 8890" in out and out.rstrip().endswith("notebooks/")
    assert ("--allow-root" in out) == (os.getuid() == 0)


def test_make_reproduce_takes_args_and_clean_runs_removes_runs():
    out = _make_n("reproduce", "BATCH=default", "ARGS=-p injection_rate=0.3 --dry-run")
    assert "-m nbkit reproduce --batch default" in out and out.rstrip().endswith("-p injection_rate=0.3 --dry-run")
    assert _make_n("clean-runs").strip() == "rm -rf runs"


# --- the one scanner and the one selection rule ------------------------------------------------------
def _run(root, batch, notebook, params, complete=True, mtime=None):
    d = runs.prepare(runs.run_dir_for(notebook, params, batch=batch, root=root), params)
    if complete:
        runs.save_results(d, "00_test", {"value": params.get("seed", 0)})
        if mtime is not None:
            os.utime(d / runs.RESULTS, (mtime, mtime))
    return d


def test_scan_lists_every_run_folder_with_its_parameters_and_completion(tmp_path):
    a = _run(tmp_path, "b", "02_x", {"seed": 0})
    b = _run(tmp_path, "b", "02_x", {"seed": 1}, complete=False)
    c = _run(tmp_path, "other", "03_y", {"seed": 0})
    (tmp_path / "b" / "report").mkdir()                         # the report's folder is no notebook
    (tmp_path / "b" / "02_x" / "junk").mkdir()                   # no params.json: params {}
    recs = runs.scan(root=tmp_path)
    assert [r.dir for r in recs] == sorted([a, b, c, tmp_path / "b" / "02_x" / "junk"])
    by_dir = {r.dir: r for r in recs}
    assert by_dir[a].complete and by_dir[a].results["value"] == 0 and by_dir[a].params == {"seed": 0}
    assert not by_dir[b].complete and by_dir[b].batch == "b" and by_dir[b].notebook == "02_x"
    assert by_dir[tmp_path / "b" / "02_x" / "junk"].params == {}
    assert [r.dir for r in runs.scan("02_x", "b", tmp_path, {"seed": 1})] == [b]
    assert [r.dir for r in runs.scan(batch="other", root=tmp_path)] == [c]
    assert runs.scan(batch="missing", root=tmp_path) == []


def test_select_rule_parameters_then_one_copy_then_newest(tmp_path):
    old = _run(tmp_path, "b", "02_x", {"seed": 0, "x": 1}, mtime=1_000)
    new = _run(tmp_path, "b", "02_x", {"seed": 0, "x": 2}, mtime=2_000)
    _run(tmp_path, "b", "02_x", {"seed": 0, "x": 3}, complete=False)      # never selected
    copy = _run(tmp_path, "c", "02_x", {"seed": 0, "x": 1, "threads": 4}, mtime=3_000)
    # identical parameters (threads is how it ran, not what) in two batches count once: the newest copy
    assert [r.dir for r in runs.select("02_x", {"seed": 0}, root=tmp_path)] == [copy, new]
    # a named batch: only its own runs
    assert [r.dir for r in runs.select("02_x", {"seed": 0}, batch="b", root=tmp_path)] == [new, old]
    assert runs.find_run("02_x", {"seed": 0}, batch="b", root=tmp_path) == new
    assert runs.find_run("02_x", {"x": 1}, batch="b", root=tmp_path) == old
    assert runs.select("02_x", {"seed": 9}, root=tmp_path) == []



def test_relative_path_names_folders_from_the_runs_root(tmp_path, monkeypatch):
    monkeypatch.setenv("NBKIT_RUNS", str(tmp_path / "runs"))
    assert runs.relative_path(tmp_path / "runs" / "smoke" / "05_train" / "x") == "smoke/05_train/x"
    assert runs.relative_path(tmp_path / "elsewhere") == "../elsewhere"
