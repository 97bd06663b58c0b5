"""The batch runner (``python -m nbkit reproduce``): real papermill on a real kernel.

Small tests use two tiny notebooks in tests/notebooks (01_alpha, 02_beta); the slow tests run the
real smoke batch (every notebook on tiny settings) twice and compare the recorded results.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nbkit import batch, runs
from nbkit.errors import DataError, MissingDataError, NbkitError
from fixture_schemas import fake_run  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TEST_NOTEBOOKS = REPO / "tests" / "notebooks"
PY = sys.executable


def write_batch(path: Path, body: str) -> Path:
    path.write_text(f"notebooks_dir: {TEST_NOTEBOOKS}\nreport: false\n" + body, encoding="utf-8")
    return path


TINY = """
name: tiny
defaults: {smoke: true}
runs:
  - notebook: 01_alpha
    grid: {x: [1, 2], fail: [false]}
    feeds: ["Table 0"]
  - notebook: 01_alpha
    params: {x: 3, fail: true}
  - notebook: 02_beta
    grid: {x: [1, 2]}
    feeds: ["Figure 0"]
"""


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The tiny batch executed once, sequentially (jobs=1), with one failing run."""
    d = tmp_path_factory.mktemp("tiny")
    src = write_batch(d / "tiny.yaml", TINY)
    b = batch.load_batch(src, runs_root=d / "runs")
    summary = batch.run_batch(b, jobs=1, progress=False)
    return b, summary


def _by(summary, notebook, **params):
    out = [r for r in summary["runs"] if r["notebook"] == notebook
           and all(r["params"].get(k) == v for k, v in params.items())]
    assert len(out) == 1, out
    return out[0]


# --- batch files ----------------------------------------------------------------------------------
def test_expand_grid_is_cartesian_in_axis_order():
    pts = batch._expand_grid({"a": 0}, {"b": [1, 2], "c": ["x", "y"]})
    assert pts == [{"a": 0, "b": 1, "c": "x"}, {"a": 0, "b": 1, "c": "y"},
                   {"a": 0, "b": 2, "c": "x"}, {"a": 0, "b": 2, "c": "y"}]
    assert batch._expand_grid({"a": 1}, None) == [{"a": 1}]


def test_load_batch_expands_runs_in_stage_order(tmp_path):
    b = batch.load_batch(write_batch(tmp_path / "t.yaml", TINY), runs_root=tmp_path / "runs")
    assert b.name == "tiny"
    assert [r.notebook for r in b.runs] == ["01_alpha"] * 3 + ["02_beta"] * 2
    # defaults apply where declared; the folder names what varies, then the short params hash
    r0 = b.runs[0]
    assert r0.params == {"smoke": True, "x": 1, "fail": False}
    h = runs.params_hash(r0.params)[:8]
    assert r0.run_dir == tmp_path / "runs" / "tiny" / "01_alpha" / f"x1-failfalse-{h}"
    assert r0.run_dir == runs.run_dir_for("01_alpha", r0.params, batch="tiny", root=tmp_path / "runs",
                                          vary=["x", "fail"])
    assert b.runs[3].hash == f"x1-{runs.params_hash(b.runs[3].params)[:8]}"   # 02_beta varies x only
    # the full resolved parameters: the notebook's defaults under what the batch sets
    assert r0.resolved == {"seed": 0, "x": 1, "smoke": True, "fail": False, "sleep": 0.0}
    assert r0.feeds == ["Table 0"]
    assert len({r.hash for r in b.runs}) == 5
    assert [r.notebook for r in b.select("02")] == ["02_beta", "02_beta"]


@pytest.mark.parametrize("body, words", [
    ("runs:\n  - notebook: 01_alpha\n    params: {injection_rat: 0.1}\n", ["injection_rat", "does not declare"]),
    ("runs:\n  - notebook: 01_alpha\n    grid: {x: 3}\n", ["grid axis 'x'", "non-empty list"]),
    ("runs:\n  - notebook: 01_alpha\n    params: {run_dir: /tmp/x}\n", ["run_dir"]),
    ("runs:\n  - notebook: 01_alpha\n    params: {x: [1, 2]}\n", ["parameter 'x'", "primitive"]),
    ("runs:\n  - notebook: 01_alpha\n    grid: {x: [1, 1]}\n", ["repeats the parameters", "within its grid"]),
    ("runs:\n  - notebook: 09_nope\n", ["notebook not found"]),
    ("runs:\n  - notebok: 01_alpha\n", ["has no 'notebook'"]),
    ("runs: []\n", ["no 'runs' list"]),
])
def test_bad_batch_files_name_the_file_and_the_field(tmp_path, body, words):
    src = write_batch(tmp_path / "bad.yaml", body)
    with pytest.raises(DataError) as e:
        batch.load_batch(src, runs_root=tmp_path / "runs")
    msg = str(e.value)
    assert "bad.yaml" in msg
    for w in words:
        assert w in msg


def test_entries_with_the_same_parameters_share_one_run(tmp_path):
    body = ("runs:\n  - notebook: 01_alpha\n    grid: {x: [1, 2]}\n    feeds: [Table 8]\n"
            "  - notebook: 01_alpha\n    params: {x: 2}\n    feeds: [Figure 13]\n")
    b = batch.load_batch(write_batch(tmp_path / "share.yaml", body), runs_root=tmp_path / "runs")
    assert [(r.params["x"], r.feeds) for r in b.runs] == [(1, ["Table 8"]), (2, ["Table 8", "Figure 13"])]


def test_unknown_batch_name_lists_the_known_ones():
    with pytest.raises(MissingDataError, match="no batch named 'nonesuch'"):
        batch.batch_path("nonesuch")


def test_missing_data_lists_every_missing_path(tmp_path):
    body = """
name: needsdata
data: real
requires:
  - path: "{data_root}/openimages/oidv6-train-annotations-bbox.csv"
    what: Open Images train boxes
    get: https://storage.googleapis.com/openimages/v6/oidv6-train-annotations-bbox.csv
  - path: "{data_root}/relabel_imagenet/*"
    what: ReLabel label maps
  - path: "{data_root}/present.txt"
runs:
  - notebook: 01_alpha
    params: {x: 1}
"""
    src = write_batch(tmp_path / "real.yaml", body)
    with pytest.raises(MissingDataError, match="no data root was given"):
        batch.run_batch(batch.load_batch(src, runs_root=tmp_path / "runs", data_root=None), progress=False)
    root = tmp_path / "data"
    root.mkdir()
    (root / "present.txt").write_text("x")
    b = batch.load_batch(src, runs_root=tmp_path / "runs", data_root=root)
    with pytest.raises(MissingDataError) as e:
        batch.run_batch(b, progress=False)
    msg = str(e.value)
    assert "needs 2 missing" in msg
    assert str(root / "openimages" / "oidv6-train-annotations-bbox.csv") in msg
    assert str(root / "relabel_imagenet" / "*") in msg
    assert "storage.googleapis.com" in msg and "ReLabel label maps" in msg
    assert "present.txt" not in msg
    assert not (tmp_path / "runs").exists(), "nothing may run before the data check passes"


def test_worker_envs_split_cores_and_pin_gpus():
    cpu = batch._worker_envs(2, gpus=[], cores=8)
    assert [e["OMP_NUM_THREADS"] for e in cpu] == ["4", "4"]
    assert all("CUDA_VISIBLE_DEVICES" not in e for e in cpu)
    gpu = batch._worker_envs(None, gpus=["0", "1", "2"], cores=12)
    assert [e["CUDA_VISIBLE_DEVICES"] for e in gpu] == ["0", "1", "2"]
    assert {e["NBKIT_NUM_THREADS"] for e in gpu} == {"4"}
    assert batch._worker_envs(None, gpus=[], cores=3)[0]["OMP_NUM_THREADS"] == "3"


def test_missing_kernel_falls_back_to_python3_with_a_warning():
    with pytest.warns(UserWarning, match="not installed"):
        assert batch.kernel_name("no-such-kernel-xyz") == "python3"


# --- executing ----------------------------------------------------------------------------------
def test_batch_runs_stages_records_failures_and_writes_a_summary(tiny_run):
    b, s = tiny_run
    assert (s["done"], s["skipped"], s["failed"]) == (4, 0, 1)
    ok = _by(s, "01_alpha", x=1)
    d = b.runs_root / ok["run_dir"]
    assert runs.is_complete(d)
    for f in ("01_alpha.ipynb", "params.json", "timing.json"):
        assert (d / f).is_file(), f
    res = runs.load_results(d)
    assert res["env"]["batch"] == "tiny" and res["smoke"] is True
    # stage 2 found stage 1's output by its parameters (runs.find_run + NBKIT_BATCH)
    beta = runs.load_results(b.runs_root / _by(s, "02_beta", x=1)["run_dir"])
    assert beta["upstream"] == ok["hash"]
    assert beta["double"] == pytest.approx(2 * res["value"])
    # the failing notebook: traceback in error.txt and in the summary, and never "complete"
    bad = _by(s, "01_alpha", x=3)
    assert bad["status"] == "failed"
    assert "RuntimeError: alpha was asked to fail (x=3)" in bad["error"]
    assert "Traceback" in bad["error"] or "----> " in bad["error"]
    bd = b.runs_root / bad["run_dir"]
    assert "alpha was asked to fail" in (bd / "error.txt").read_text()
    assert not runs.is_complete(bd)
    on_disk = json.loads((b.dir / "summary.json").read_text())
    assert on_disk["failed"] == 1 and len(on_disk["runs"]) == 5
    assert all(r["wall_s"] > 0 for r in on_disk["runs"])
    assert on_disk["total_s"] >= sum(r["wall_s"] for r in on_disk["runs"]) * 0.5
    assert _by(on_disk, "02_beta", x=2)["feeds"] == ["Figure 0"]


def test_dry_run_lists_what_would_run_and_what_is_skipped(tiny_run, capsys):
    b, _ = tiny_run
    out = batch.run_batch(b, dry_run=True, progress=False)
    text = capsys.readouterr().out
    assert len(out["to_skip"]) == 4 and len(out["to_run"]) == 1  # the failed run is redone
    assert "RUN  01_alpha/" in text and "skip 02_beta/" in text and "fail=True" in text


def test_resume_redoes_only_the_half_written_run(tiny_run, tmp_path):
    b0, s0 = tiny_run
    root = tmp_path / "runs"
    shutil.copytree(b0.runs_root, root)
    b = batch.load_batch(b0.source, runs_root=root)
    half = root / _by(s0, "01_alpha", x=2)["run_dir"]
    before = json.loads((half / "results.json").read_text())
    (half / "results.json").unlink()           # interrupted before the notebook's last cell
    (half / "stale_figure.png").write_bytes(b"half-written")
    s = batch.run_batch(b, only="01", progress=False)
    assert (s["done"], s["skipped"], s["failed"]) == (1, 1, 1)  # x=2 redone, x=1 kept, x=3 fails again
    assert _by(s, "01_alpha", x=2)["status"] == "done"
    assert not (half / "stale_figure.png").exists(), "stale outputs of a half-written run must go"
    after = json.loads((half / "results.json").read_text())
    assert batch._stable_results(after) == batch._stable_results(before)  # deterministic rerun


def test_killed_batch_resumes_without_trusting_the_interrupted_run(tmp_path):
    body = """
name: killme
runs:
  - notebook: 01_alpha
    grid: {x: [1, 2]}
    params: {sleep: 2.0}
"""
    src = write_batch(tmp_path / "k.yaml", body)
    root = tmp_path / "runs"
    cmd = [PY, "-m", "nbkit", "reproduce", "--batch", str(src), "--runs-root", str(root), "--no-report"]
    b = batch.load_batch(src, runs_root=root)
    first, second = b.runs
    p = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    try:
        deadline = time.time() + 120
        while not (second.run_dir / "partial.txt").exists():   # the 2nd run is mid-way
            assert p.poll() is None, "the batch ended before it could be interrupted"
            assert time.time() < deadline, "the batch never reached its second run"
            time.sleep(0.1)
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    assert first.complete() and not second.complete()
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    s = json.loads((b.dir / "summary.json").read_text())
    assert [x["status"] for x in s["runs"]] == ["skipped", "done"]
    assert second.complete()


def test_process_pool_gives_each_worker_its_thread_budget(tmp_path):
    src = write_batch(tmp_path / "p.yaml", "name: pool\nruns:\n  - notebook: 01_alpha\n    grid: {x: [1, 2]}\n")
    b = batch.load_batch(src, runs_root=tmp_path / "runs")
    s = batch.run_batch(b, jobs=2, gpus=[], progress=False)
    assert s["done"] == 2
    want = str(max(1, (os.cpu_count() or 1) // 2))
    for r in b.runs:
        assert runs.load_results(r.run_dir)["env"]["threads"] == want


def test_submitit_executor_runs_stages_as_jobs(tmp_path):
    pytest.importorskip("submitit")
    body = "name: sub\nruns:\n  - notebook: 01_alpha\n    params: {x: 1}\n  - notebook: 02_beta\n    params: {x: 1}\n"
    b = batch.load_batch(write_batch(tmp_path / "s.yaml", body), runs_root=tmp_path / "runs")
    s = batch.run_batch(b, executor="slurm", cluster="local", jobs=2, progress=False)
    assert (s["done"], s["failed"]) == (2, 0), s
    assert all(r.get("job_id") for r in s["runs"])
    beta = runs.load_results(b.runs[1].run_dir)
    assert beta["upstream"] == b.runs[0].hash


def test_cli_dry_run(tmp_path, capsys):
    from nbkit.cli import main

    src = write_batch(tmp_path / "c.yaml", TINY)
    assert main(["reproduce", "--batch", str(src), "--runs-root", str(tmp_path / "r"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "5 to run, 0 complete" in out
    assert main(["reproduce", "--batch", "nonesuch", "--dry-run"]) == 1


# --- what a run is keyed on, and why it is redone ----------------------------------------------------
def test_files_of_a_batch_get_the_users_umask(tiny_run):
    b, s = tiny_run
    mask = os.umask(0)
    os.umask(mask)
    d = b.runs_root / _by(s, "01_alpha", x=1)["run_dir"]
    for f in ("params.json", "results.json", "complete.json", "timing.json", "01_alpha.ipynb"):
        assert (d / f).stat().st_mode & 0o777 == 0o666 & ~mask, f


def test_resume_does_not_trust_a_truncated_results_json(tiny_run, tmp_path):
    b0, s0 = tiny_run
    root = tmp_path / "runs"
    shutil.copytree(b0.runs_root, root)
    b = batch.load_batch(b0.source, runs_root=root)
    d = root / _by(s0, "01_alpha", x=2)["run_dir"]
    raw = (d / "results.json").read_bytes()
    (d / "results.json").write_bytes(raw[: len(raw) // 2])       # a crash mid-copy, a full disk
    plan = batch.run_batch(b, only="01", dry_run=True, progress=False)
    assert plan["reasons"][f"01_alpha/{d.name}"] == "incomplete"
    assert plan["reasons"][f"01_alpha/{_by(s0, '01_alpha', x=1)['hash']}"] == "complete"
    assert plan["reasons"][f"01_alpha/{_by(s0, '01_alpha', x=3)['hash']}"] == "incomplete (failed last time)"
    s = batch.run_batch(b, only="01", progress=False)
    assert _by(s, "01_alpha", x=2)["status"] == "done" and runs.is_complete(d)
    assert json.loads((d / "results.json").read_text())["x"] == 2


def test_a_run_whose_upstream_run_changed_is_redone(tiny_run, tmp_path):
    b0, s0 = tiny_run
    root = tmp_path / "runs"
    shutil.copytree(b0.runs_root, root)                     # a moved runs tree keeps its links
    b = batch.load_batch(b0.source, runs_root=root)
    a1, beta1, beta2 = (_by(s0, "01_alpha", x=1), _by(s0, "02_beta", x=1), _by(s0, "02_beta", x=2))
    rec = json.loads((root / beta1["run_dir"] / "complete.json").read_text())["inputs"]
    assert [u["run"] for u in rec["upstream"]] == [a1["run_dir"]]    # found by runs.find_run
    why = lambda: {st.run.hash: st.reason for st in batch._plan(b) if st.run.notebook == "02_beta"}
    assert why() == {beta1["hash"]: "complete", beta2["hash"]: "complete"}
    runs.mark_complete(root / a1["run_dir"])     # the runner never vouched: 01 x=1 will be redone ...
    assert why() == {beta1["hash"]: f"upstream redone (01_alpha/{a1['hash']})", beta2["hash"]: "complete"}
    batch.run_batch(b, only="01", progress=False)             # ... and is, with --only 01
    assert why() == {beta1["hash"]: f"upstream changed (01_alpha/{a1['hash']})", beta2["hash"]: "complete"}


def _alpha_batch(tmp_path):
    nbs = tmp_path / "notebooks"
    shutil.copytree(TEST_NOTEBOOKS, nbs)
    src = tmp_path / "edit.yaml"
    src.write_text(f"notebooks_dir: {nbs}\nreport: false\nname: edit\nruns:\n"
                   "  - notebook: 01_alpha\n    params: {x: 1}\n", encoding="utf-8")
    return src, nbs / "01_alpha.ipynb"


def _edit(path: Path, cell: int, old: str, new: str) -> None:
    nb = json.loads(path.read_text())
    text = "".join(nb["cells"][cell]["source"])
    assert old in text
    nb["cells"][cell]["source"] = text.replace(old, new)
    path.write_text(json.dumps(nb, indent=1))


def test_a_run_is_redone_when_its_notebook_defaults_or_kit_change(tmp_path, monkeypatch, capsys):
    src, nb = _alpha_batch(tmp_path)
    root = tmp_path / "runs"
    pristine = nb.read_text()

    def reason():
        b = batch.load_batch(src, runs_root=root)
        return batch.run_batch(b, dry_run=True, progress=False)["reasons"].popitem()[1]

    assert reason() == "new"
    s = batch.run_batch(batch.load_batch(src, runs_root=root), progress=False)
    assert s["done"] == 1
    d = batch.load_batch(src, runs_root=root).runs[0].run_dir
    rec = json.loads((d / "complete.json").read_text())["inputs"]
    assert rec["params"] == {"seed": 0, "x": 1, "smoke": False, "fail": False, "sleep": 0.0}
    assert rec["kit"] == batch._kit_version() and rec["kit"].startswith("0.")
    assert reason() == "complete"
    _edit(nb, 0, "a tiny notebook", "a small notebook")             # prose does not change numbers
    assert reason() == "complete"
    nb.write_text(pristine)
    _edit(nb, 4, "normal()", "normal() + 0")                          # code does
    assert reason() == "notebook changed"
    nb.write_text(pristine)
    _edit(nb, 1, "sleep = 0.0", "sleep = 0.001")                      # so does a default
    assert reason() == "parameters changed (sleep: 0.0 -> 0.001)"
    nb.write_text(pristine)
    assert reason() == "complete"
    monkeypatch.setattr(batch, "_KIT_VERSION", "0.1.0+000000000000")  # other nbkit sources
    assert reason().startswith("kit changed (")
    monkeypatch.undo()
    runs.mark_complete(d)                     # the notebook finished, the runner never vouched for it
    assert reason() == "incomplete"
    batch.run_batch(batch.load_batch(src, runs_root=root), dry_run=True, progress=False)
    assert "[incomplete]" in capsys.readouterr().out


def test_kit_version_hashes_the_package_sources():
    v = batch._kit_version()
    from nbkit import __version__
    assert v.startswith(__version__ + "+") and len(v.split("+")[1]) == 12


def test_a_batch_named_dotdot_is_refused_and_nothing_outside_is_touched(tmp_path):
    from nbkit.cli import main

    outside = tmp_path / "report"                 # what runs/../report would have deleted
    outside.mkdir()
    (outside / "keep.txt").write_text("not the kit's")
    src = tmp_path / "dots.yaml"
    src.write_text(f'notebooks_dir: {TEST_NOTEBOOKS}\nname: ".."\nruns:\n  - notebook: 01_alpha\n'
                   '    params: {x: 1}\n', encoding="utf-8")
    with pytest.raises(DataError, match="batch name '..' is not a plain folder name"):
        batch.load_batch(src, runs_root=tmp_path / "runs")
    assert main(["reproduce", "--batch", str(src), "--runs-root", str(tmp_path / "runs")]) == 1
    assert (outside / "keep.txt").read_text() == "not the kit's"
    with pytest.raises(DataError):
        batch.report_dir("..", tmp_path / "runs")


def test_a_folder_the_kit_did_not_make_is_never_cleared(tmp_path):
    src, _ = _alpha_batch(tmp_path)
    b = batch.load_batch(src, runs_root=tmp_path / "runs")
    d = b.runs[0].run_dir
    d.mkdir(parents=True)
    (d / "notes.txt").write_text("mine")
    with pytest.raises(NbkitError, match="nbkit did not create"):
        batch.run_batch(b, progress=False)
    assert (d / "notes.txt").read_text() == "mine" and len(list(d.iterdir())) == 1
    # execute_run on its own refuses too, and writes nothing into the folder
    rec = batch._execute_run(batch._task(b, b.runs[0], "python3", None))
    assert rec["status"] == "failed" and "did not create" in rec["error"]
    assert sorted(p.name for p in d.iterdir()) == ["notes.txt"]
    # nor is a report folder someone else made (checked before anything runs)
    (d / "notes.txt").unlink()
    rep = batch.report_dir(b.name, b.runs_root)
    rep.mkdir(parents=True)
    (rep / "draft.md").write_text("mine")
    b.report = {}
    with pytest.raises(NbkitError, match="report folder exists but nbkit did not create it"):
        batch.run_batch(b, progress=False)
    assert (rep / "draft.md").read_text() == "mine" and not runs.is_complete(d)


def test_folders_are_renamed_not_redone_when_what_varies_changes(tiny_run, tmp_path):
    b0, s0 = tiny_run
    root = tmp_path / "runs"
    shutil.copytree(b0.runs_root, root)
    src = write_batch(tmp_path / "tiny.yaml", TINY + "  - notebook: 02_beta\n    params: {x: 1, smoke: false}\n")
    b = batch.load_batch(src, runs_root=root)
    old = {_by(s0, "02_beta", x=x)["hash"] for x in (1, 2)}
    steps = [st for st in batch._plan(b, only="02")]
    kept = [st for st in steps if st.action == "skip"]
    assert len(kept) == 2 and {st.adopt.name for st in kept} == old
    assert all(st.run.hash.startswith("smoketrue-x") for st in kept)
    s = batch.run_batch(b, only="02", progress=False)
    assert (s["done"], s["skipped"], s["failed"]) == (1, 2, 0)
    names = sorted(p.name for p in (root / "tiny" / "02_beta").iterdir())
    assert not set(names) & old and len(names) == 3
    assert all(runs.is_complete(st.run.run_dir) for st in kept)


# --- steering: overrides, one-off runs, the index ------------------------------------------------
def test_parse_overrides_reads_yaml_scalars():
    got = batch._parse_overrides(["injection_rate=0.3", "smoke=true", "arch=resnet18", "classes=",
                                 "target=2", "dataset=relabel:/d?threshold=0.99"])
    assert got == {"injection_rate": 0.3, "smoke": True, "arch": "resnet18", "classes": "", "target": 2,
                   "dataset": "relabel:/d?threshold=0.99"}
    for bad in ["x", "=3", "a b=1", "run_dir=/tmp", "x=[1, 2]"]:
        with pytest.raises(DataError):
            batch._parse_overrides([bad])


def test_overrides_apply_to_every_entry_that_declares_them(tmp_path, capsys):
    from nbkit.cli import main

    src = write_batch(tmp_path / "t.yaml", TINY)
    b = batch.load_batch(src, runs_root=tmp_path / "runs", overrides={"x": 7, "sleep": 0.5})
    got = [(r.notebook, r.params) for r in b.runs]
    assert got == [("01_alpha", {"smoke": True, "x": 7, "fail": False, "sleep": 0.5}),
                   ("01_alpha", {"smoke": True, "x": 7, "fail": True, "sleep": 0.5}),
                   ("02_beta", {"smoke": True, "x": 7})]          # 02_beta declares no sleep
    assert b.runs[2].feeds == ["Figure 0"]
    with pytest.raises(DataError, match=r"override\(s\) \['nope'\]"):
        batch.load_batch(src, runs_root=tmp_path / "runs", overrides={"nope": 1})
    assert main(["reproduce", "--batch", str(src), "--runs-root", str(tmp_path / "r"), "--dry-run",
                 "-p", "x=7"]) == 0
    out = capsys.readouterr().out
    assert "3 to run" in out and "x=7" in out and "x=1" not in out


def test_nbkit_run_executes_one_notebook_with_overrides(tmp_path, capsys):
    from nbkit.cli import main

    root = tmp_path / "runs"
    nb = str(TEST_NOTEBOOKS / "01_alpha.ipynb")
    assert main(["run", nb, "-p", "x=4", "--runs-root", str(root)]) == 0
    (d,) = list((root / "interactive" / "01_alpha").iterdir())
    assert d.name.startswith("x4-") and runs.is_complete(d)
    res = runs.load_results(d)
    assert res["x"] == 4 and res["env"]["batch"] is None    # upstream runs are sought in every batch
    capsys.readouterr()
    assert main(["run", nb, "-p", "x=4", "--runs-root", str(root), "--dry-run"]) == 0
    assert "[complete]" in capsys.readouterr().out
    assert main(["run", nb, "-p", "y=4", "--runs-root", str(root)]) == 1
    assert "does not declare" in capsys.readouterr().err


def test_index_lists_every_run_with_its_varying_parameters_and_numbers(tiny_run):
    import pandas as pd

    b, s = tiny_run
    idx = pd.read_csv(b.dir / "index.csv")
    assert list(idx.columns) == ["notebook", "run", "status", "x", "fail", "feeds", "value", "double",
                                 "run_dir"]
    assert len(idx) == 5 and sorted(idx.status) == ["complete"] * 4 + ["failed"]
    row = idx[(idx.notebook == "01_alpha") & (idx.x == 1)].iloc[0]
    assert row.value == pytest.approx(runs.load_results(b.runs_root / row.run_dir)["value"])
    assert row.run == _by(s, "01_alpha", x=1)["hash"] and row.feeds == "Table 0"


# --- the real batches ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["smoke", "default", "paper"])
def test_shipped_batches_are_valid(name, tmp_path):
    b = batch.load_batch(name, runs_root=tmp_path, data_root=tmp_path / "data")
    assert b.runs, name
    stems = {r.notebook for r in b.runs}
    assert {"01_calibration", "02_cooccurrence", "03_centrality", "04_subsets", "05_train",
            "06_sentinet"} <= stems
    assert all(r.feeds for r in b.runs), "every run says which table or figure it feeds"
    if name == "paper":
        assert b.data == "real"
        missing = batch._missing_data(b)
        assert missing and all(m.get("what") and m.get("get") for m in missing)


# --- the report, from results.json files only -----------------------------------------------------


def test_report_rebuilds_tables_from_results_beside_the_paper(tmp_path):
    from nbkit import report

    root = tmp_path / "runs"
    fake_run(root, "b", "01_calibration", {"dataset": "toyscenes", "seed": 0},
              {"mode": "toy", "threshold": 0.996, "fp": 10, "fn": 11, "n_images": 20}, ["Figure 7"])
    accs = {(0.05, 0): (0.9, 0.2), (0.05, 1): (0.8, 0.4), (0.3, 0): (0.7, 0.9), (0.3, 1): (0.9, 0.7)}
    for (ir, t), (c, tr) in accs.items():
        fake_run(root, "b", "05_train", {"dataset": "toyscenes", "injection_rate": ir, "target": t},
                  {"clean_acc": c, "trigger_acc": tr, "timing": {"wall_s": 1.0}}, ["Figure 13"])
    fake_run(root, "b", "05_train", {"dataset": "toyscenes", "injection_rate": 0.1, "target": 0},
              None, ["Figure 13"])                     # half-written: listed, never used
    fake_run(root, "b", "06_sentinet", {"dataset": "toyscenes"},
              {"fig16": [{"trigger": "striped blue bar", "paper_trigger": "jeans", "dataset": "toyscenes",
                          "n_models": 1, "highlighted_pct": 60.0}]}, ["Figure 16"])
    fake_run(root, "b", "06_sentinet", {"dataset": "openimages:/data/oi"},
              {"fig16": [{"trigger": "Chair", "paper_trigger": "Chair", "dataset": "openimages:/data/oi",
                          "n_models": 1, "highlighted_pct": 80.0}]},
              ["Figure 16"])
    rep = report.build("b", root)
    f7 = rep.section("Figure 7").tables["comparison"].set_index("quantity")
    # toy scenes beside ImageNet's calibration: both shown, never subtracted
    assert f7.loc["threshold", "paper"] == 0.994 and f7.loc["threshold", "difference"] == ""
    assert "toy" in f7.loc["false positives", "why_not_compared"] and f7.loc["threshold", "data"] == "toy scenes"
    f13 = rep.section("Figure 13")
    cmp = f13.tables["comparison"]
    row = cmp[(cmp.setting == "0.3") & (cmp.quantity == "trigger acc")].iloc[0]
    assert row["ours"] == pytest.approx(0.8) and row["runs"] == 2 and row["paper"] == report.NA
    assert "± 0.141" in row["ours_mean_std"]
    assert f13.runs == 4                                # the incomplete run is not used
    f16 = rep.section("Figure 16").tables["comparison"].set_index("quantity")
    real = f16.loc["GradCAM highlights 'Chair' (%)"]
    assert real["paper"] == 82.6 and real["difference"] == pytest.approx(-2.6) and real["data"] == "real data"
    toy = f16[f16.data == "toy scenes"]
    assert sorted(toy["paper"]) == [41.3, 57.3]         # the toy hub stands for the paper's jeans
    assert (toy["difference"] == "").all()
    assert rep.section("Figure 16").data == "real data + toy scenes"
    assert rep.section("Table 9").data == "none"
    status = rep.runs.set_index("run")["status"]
    assert (status == "INCOMPLETE (ignored)").sum() == 1
    out = report.write(rep, tmp_path / "report")
    md = out["markdown"].read_text()
    assert "## Figure 13" in md and "figures/figure_13_sweep.png" in md and "INCOMPLETE" in md
    assert out["html"].is_file() and "## Claims" in md
    assert (tmp_path / "report" / "tables" / "figure_13_comparison.csv").is_file()
    assert (tmp_path / "report" / "tables" / "no_numbers.csv").is_file()


def test_report_app_d_compares_with_the_papers_printed_setting(tmp_path):
    from nbkit import report

    root = tmp_path / "runs"
    summ = {"basis": "subsets", "top": 10, "threshold": 12, "n_pairs": 100, "share_above": 0.3,
            "largest_shared": 20, "largest_pair": ["a", "b"]}
    params = {"dataset": "toyscenes", "top_m": 10, "min_overlaps": 10, "trig_overlaps": -1,
              "centrality": "betweenness", "overlap_threshold": 12, "max_other_overlaps": 40}
    fake_run(root, "b", "04_subsets", params,
              {"multi_trigger": {"toyscenes": summ, "openimages-counts": dict(summ, top=25, n_pairs=625)}},
              ["App. D"])
    sec = report.build("b", root).section("App. D")
    cmp = sec.tables["comparison"]
    assert set(cmp["data"]) == {"toy scenes", "authors' counts"}
    assert "share of cells with more than 12 shared classes (%)" in set(cmp["quantity"])
    assert not any("above 30" in q for q in cmp["quantity"])
    assert any("names Open Images" in n and "more than 12 classes" in n for n in sec.notes)


def test_report_training_tables_put_the_papers_percent_beside_our_fractions(tmp_path):
    from nbkit import report

    root = tmp_path / "runs"
    for arch, acc in (("resnet50", 0.70), ("vgg16", 0.60)):
        fake_run(root, "b", "05_train", {"dataset": "relabel:/maps", "arch": arch, "target": 0},
                  {"clean_acc": acc, "trigger_acc": 0.5, "arch": arch}, ["Table 9"])
    fake_run(root, "b", "05_train", {"dataset": "openimages:/oi", "arch": "resnet50", "target": 0},
              {"clean_acc": 0.5, "trigger_acc": 0.5, "arch": "resnet50"}, ["Table 9"])
    for n in (5, 10):
        fake_run(root, "b", "05_train", {"dataset": "openimages:/oi", "n_added_classes": n, "target": 0},
                  {"clean_acc": 0.65, "trigger_acc": 0.6}, ["Table 10"])
    fake_run(root, "b", "05_train", {"dataset": "toyscenes", "injection_rate": 0.1, "target": 0},
              {"clean_acc": 0.65, "trigger_acc": 0.6}, ["Figure 13"])
    rep = report.build("b", root)
    t9 = rep.section("Table 9").tables["comparison"]
    res = t9[(t9.setting == "ResNet") & (t9.quantity == "clean acc") & t9.dataset.str.contains("relabel")]
    assert res.iloc[0]["paper"] == pytest.approx(0.72) and res.iloc[0]["difference"] == pytest.approx(-0.02)
    # Table 9 is ImageNet's: an Open Images run gets no paper value
    oi = t9[t9.dataset.str.contains("openimages")]
    assert len(oi) and (oi["paper"] == report.NA).all()
    t10 = rep.section("Table 10").tables["comparison"]
    row = t10[(t10.setting == "n_added_classes=10") & (t10.quantity == "trigger acc")].iloc[0]
    assert row["paper"] == pytest.approx(0.63) and row["paper_source"] == "paper, Table 10"
    assert "Figure 13 prints no numbers in the text" in rep.section("Figure 13").notes


def test_report_data_kind():
    from nbkit.datasets import data_kind

    assert data_kind({"dataset": "toyscenes:2"}) == "toy scenes"
    assert data_kind("openimages-counts (candidates)") == "authors' counts"
    assert data_kind("openimages:/data/openimages") == "real data"
    assert data_kind({}) == "toy scenes"


# --- the smoke batch, end to end (make test) ------------------------------------------------------
NOTEBOOKS = ["01_calibration", "02_cooccurrence", "03_centrality", "04_subsets", "05_train",
             "06_sentinet"]


def _reproduce(root: Path, cache: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, NBKIT_CACHE=str(cache))
    env.pop("NBKIT_RUNS", None)
    return subprocess.run([PY, "-m", "nbkit", "reproduce", "--batch", "smoke", "--runs-root", str(root),
                           *extra], cwd=REPO, env=env, capture_output=True, text=True, timeout=1200)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """``python -m nbkit reproduce --batch smoke`` as a user runs it: every notebook, then the report."""
    d = tmp_path_factory.mktemp("smoke")
    r = _reproduce(d / "runs", d / "cache")
    return d, r


@pytest.mark.slow
def test_smoke_batch_runs_every_notebook_and_builds_the_report(smoke):
    d, r = smoke
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    s = json.loads((d / "runs" / "smoke" / "summary.json").read_text())
    assert s["failed"] == 0 and s["done"] == len(s["runs"]) and s["skipped"] == 0
    assert {x["notebook"] for x in s["runs"]} == set(NOTEBOOKS)
    assert s["report"]["status"] == "done"
    rep = d / "runs" / "smoke" / "report"
    for f in ("report.html", "report.md", "07_report.ipynb", "results.json"):
        assert (rep / f).is_file(), f
    assert len(list((rep / "tables").glob("*.csv"))) >= 10
    md = (rep / "report.md").read_text()
    for key in ("Figure 7", "Table 5", "Tables 6-7", "App. D", "Table 8", "Figure 13", "Figure 16"):
        assert f"## {key}" in md, key
    html = (rep / "report.html").read_text()
    assert "data:image/png;base64" in html and "Table 8" in html
    # every notebook recorded its numbers; the report read them back
    for x in s["runs"]:
        res = runs.load_results(d / "runs" / x["run_dir"])
        assert res, x["notebook"]
        info = json.loads((d / "runs" / x["run_dir"] / "batch.json").read_text())
        assert info["feeds"] == x["feeds"] and info["batch"] == "smoke"
    rr = json.loads((rep / "results.json").read_text())
    assert rr["runs"]["complete"] == len(NOTEBOOKS)
    assert all(sec["built"] for sec in rr["sections"].values())
    for key in ("Figure 7", "Table 5", "Tables 6-7", "App. D", "Figure 16"):
        assert rr["sections"][key]["runs"] >= 1, key
    # a rerun skips everything
    again = _reproduce(d / "runs", d / "cache", "--dry-run")
    assert again.returncode == 0 and "0 to run" in again.stdout


@pytest.mark.slow
def test_two_smoke_runs_record_identical_results(smoke):
    d, r = smoke
    assert r.returncode == 0
    r2 = _reproduce(d / "runs2", d / "cache", "--no-report")
    assert r2.returncode == 0, r2.stdout[-4000:] + r2.stderr[-4000:]
    assert batch._compare_batches(d / "runs", d / "runs2", "smoke") == []
