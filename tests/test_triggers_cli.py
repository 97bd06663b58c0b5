"""``python -m nbkit triggers``: notebooks 02-04 from the command line."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nbkit.centrality import VARIANTS, parse_variant
from nbkit.cli import build_parser, main
from nbkit.subsets import load_triggers_json
from realcounts import paper_tables_6_7_openimages

REPO = Path(__file__).resolve().parents[1]


def _run(*args, cwd=REPO):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "nbkit", "triggers", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_help_documents_every_option_with_defaults():
    ap = build_parser()
    sub = next(a for a in ap._actions if a.dest == "command")
    text = " ".join(sub.choices["triggers"].format_help().split())   # whatever the terminal width
    for opt in ["--dataset", "--centrality", "--weighted", "--semantics", "--min-overlaps",
                "--trig-overlaps", "--max-other-overlaps", "--top", "--mis", "--out",
                "--min-clean", "--min-poison", "--exclude-body-parts", "--seed", "--mis-runs",
                "--mis-filter", "--time-limit", "--include-trigger"]:
        assert opt in text, opt
    assert "default: 40" in text and "default: betweenness" in text and "default: exact" in text
    for m in ("betweenness", "degree", "closeness", "eigenvector"):
        assert m in text
    assert "-1 (the paper's Tables 6-7): any shared image is a conflict" in text
    assert "{paper,networkx,authors}" in text and "Human mouth" in text


def test_counts_spec_on_real_coco_matrix(realdata, tmp_path, capsys):
    npz = realdata / "cooccurrence_mlgcn" / "coco_adj.npz"
    out = tmp_path / "coco_triggers.json"
    rc = main(["triggers", "--dataset", f"counts:{npz}", "--centrality", "degree", "--weighted",
               "--min-overlaps", "10", "--trig-overlaps", "50", "--max-other-overlaps", "40",
               "--top", "4", "--mis", "exact", "--seed", "3", "--no-progress", "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "person" in printed and "proven optimal" in printed
    data = load_triggers_json(out)
    assert len(data) == 4
    assert [len(e["classes"]) for e in data] == sorted((len(e["classes"]) for e in data), reverse=True)
    e = data[0]
    assert e["params"]["centrality"] == "degree" and e["params"]["weighted"] is True
    assert e["params"]["seed"] == 3 and e["params"]["trig_overlaps"] == 50
    assert e["optimal"] is True and e["exact_size"] >= e["approx_size"]
    for c in e["classes"]:
        assert c["weight"] > 50 and c["num_poison"] >= 50 and c["num_clean"] >= 200
        assert set(c) >= {"id", "label", "name", "weight", "num_clean", "num_poison"}


def test_openimages_counts_by_subprocess(tmp_path):
    out = tmp_path / "oi.json"
    r = _run("--dataset", "openimages-counts", "--top", "5", "--mis", "approx", "--mis-runs", "5",
             "--exclude-body-parts", "--no-progress", "--out", str(out))
    assert r.returncode == 0, r.stderr
    data = json.loads(out.read_text())
    assert isinstance(data, list) and len(data) == 5
    names = {e["trigger"]["name"] for e in data}
    assert not names & {"Man", "Woman", "Human face", "Human arm"}     # body parts left out
    for e in data:
        assert set(e) >= {"trigger", "centrality", "classes", "optimal", "approx_size",
                          "exact_size", "gap", "params"}
        assert e["method"] == "approx" and e["params"]["dataset"] == "openimages-counts"
        # counts are lower bounds for 484 of the 486 Open Images classes: flagged per class
        assert all("num_clean_is_lower_bound" in c for c in e["classes"])
    assert "wrote" in r.stdout


def test_errors_print_cleanly_and_exit_1(tmp_path, capsys):
    r = _run("--dataset", f"counts:{tmp_path / 'missing.npz'}")       # a real process, end to end
    assert r.returncode == 1
    assert r.stderr.startswith("error:") and "missing.npz" in r.stderr
    assert "Traceback" not in r.stderr
    assert main(["triggers", "--dataset", "nosuchdataset:x"]) == 1
    assert "unknown dataset" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["triggers", "--mis", "fastest"])
    assert e.value.code == 2 and "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("option, value, expected", [
    ("--trig-overlaps", "-1", "expected an integer >= 0, or 'none' for every graph neighbour"),
    ("--min-clean", "-5", "-5 is not a valid number of images; expected an integer >= 0"),
    ("--min-poison", "-1", "-1 is not a valid number of images; expected an integer >= 0"),
    ("--top", "0", "0 is not a valid number of triggers; expected an integer >= 1"),
    ("--max-other-overlaps", "-2", "expected an integer >= -1"),
])
def test_out_of_range_values_are_argparse_errors(option, value, expected, capsys):
    with pytest.raises(SystemExit) as e:
        main(["triggers", "--dataset", "openimages-counts", "--top", "1", "--mis", "approx",
              "--no-progress", option, value])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: " in err and expected in err and "Traceback" not in err


def test_out_pointing_at_a_directory_is_refused_up_front(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["triggers", "--dataset", "openimages-counts", "--top", "1", "--mis", "approx",
              "--no-progress", "--out", str(tmp_path)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --out: {str(tmp_path)!r} is a directory" in err and "triggers.json" in err
    assert list(tmp_path.iterdir()) == []


# the command of issue #9 for Tables 6-7 (Open Images rows): per column, the published names
# that are NOT among the triggers with >= 5 classes of > 50 poison images
TABLES_6_7_MISSING = {
    "authors": {},                                                       # 46/46
    "paper": {"closeness_WT": {"dress", "sunglasses"}},                  # 44/46
}


@pytest.mark.parametrize("semantics", sorted(TABLES_6_7_MISSING))
def test_tables_6_7_open_images_command(semantics, realdata, tmp_path, capsys):
    pub = paper_tables_6_7_openimages(realdata)
    found = 0
    for v in VARIANTS:
        measure, weighted = parse_variant(v)
        out = tmp_path / f"{v}.json"
        assert main(["triggers", "--dataset", "openimages-counts", "--semantics", semantics,
                     "--min-overlaps", "15", "--trig-overlaps", "0", "--max-other-overlaps", "-1",
                     "--top", "50", "--mis", "exact", "--centrality", measure, "--no-progress",
                     "--no-compare", "--out", str(out)] + (["--weighted"] if weighted else [])) == 0
        data = load_triggers_json(out)
        assert len(data) == 50 and data[0]["params"]["semantics"] == semantics
        ok = {e["trigger"]["name"].lower() for e in data
              if sum(c["num_poison"] > 50 for c in e["classes"]) >= 5}
        missing = {x.lower() for x in pub[v]} - ok
        assert missing == TABLES_6_7_MISSING[semantics].get(v, set()), v
        found += len(pub[v]) - len(missing)
    assert found == {"authors": 46, "paper": 44}[semantics]
    capsys.readouterr()


def test_exclude_body_parts_leaves_out_human_mouth(tmp_path, capsys):
    """Weighted closeness at W 15 ranks Human mouth 40th: the authors' list (246889c) excludes it."""
    out = tmp_path / "cw.json"
    base = ["triggers", "--dataset", "openimages-counts", "--centrality", "closeness", "--weighted",
            "--min-overlaps", "15", "--top", "50", "--mis", "approx", "--mis-runs", "1", "--no-progress",
            "--no-compare", "--out", str(out)]
    assert main(base) == 0
    assert "Human mouth" in {e["trigger"]["name"] for e in load_triggers_json(out)}
    assert main(base + ["--exclude-body-parts"]) == 0
    names = {e["trigger"]["name"] for e in load_triggers_json(out)}
    assert len(names) == 50 and not names & {"Human mouth", "Man", "Woman", "Human face", "Girl"}
    capsys.readouterr()


def test_mis_flags_have_one_spelling(capsys):
    """The solver's settings are --mis, --mis-runs and --mis-filter (as SubsetRule and notebooks 03-04
    name them); the old --runs / --filter are refused, and so is a run count below one."""
    args = build_parser().parse_args(["triggers", "--mis", "approx", "--mis-runs", "3",
                                      "--mis-filter", "after"])
    assert (args.mis, args.mis_runs, args.mis_filter) == ("approx", 3, "after")
    for old in (["--runs", "3"], ["--filter", "after"], ["--mis-runs", "0"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["triggers", *old])
    assert "number of random maximal sets" in capsys.readouterr().err
