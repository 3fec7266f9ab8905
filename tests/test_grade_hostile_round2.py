"""Hostile students, round 2 (issue 24): what a submission leaves behind, and the grader's own limits.

The attacks that run in a kernel sit in the class of tests/test_grade_hostile.py (one graded run,
shared); the layouts (`subs/` against `subs/*`) and the full disk are graded here, on small classes.
"""

import csv
import errno
import importlib.util
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from test_grade import TOY_REGISTRY, toy_notebook
from test_grade_hostile import GROWTH_BOUND, LOOKALIKES, PLANTED, QUOTA, hostile_class, log

from labvae import cli
from labvae.course import grade
from labvae.course.grade import report
from labvae.course.grade.runfolder import usage
from labvae.course.grade.sandbox import available
from labvae.course.grade.submissions import distinct

WHY = available()
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"no sandbox here: {WHY}")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return hostile_class(tmp_path_factory)  # the class of tests/test_grade_hostile.py, graded once for both


def seconds(h, student) -> float:
    """What the grader printed as the time one student's notebook took."""
    return float(re.search(rf"^  {re.escape(student)} 01_toy: .*\(([\d.]+) s\)$", h["printed"], re.M)[1])


def test_nothing_a_kernel_wrote_sits_where_the_instructor_opens_notebooks(hostile):  # kind 1
    work, run = hostile["work"], hostile["work"] / "runs" / "m20_planter" / "01_toy"
    assert all(f"did plant {name}" in log(hostile, "m20_planter") for name in PLANTED)  # so the test can fail
    assert "blocked " + str(work / "executed") in log(hostile, "m20_planter")
    executed = work / "executed"
    files = [p for p in executed.rglob("*") if not p.is_dir()]
    assert files and all(p.suffix == ".ipynb" and p.is_file() and not p.is_symlink() for p in files), files
    where = "import importlib.util; print(importlib.util.find_spec('ipykernel_launcher').origin)"
    found = {d: subprocess.run([sys.executable, "-c", where], cwd=d, capture_output=True, text=True).stdout.strip()
             for d in (executed / "m20_planter", run)}
    assert found[executed / "m20_planter"] == importlib.util.find_spec("ipykernel_launcher").origin
    assert found[run] == str(run / "ipykernel_launcher.py")  # where Jupyter must never be started: the docs say so
    for p in [run, *run.rglob("*")]:
        st = p.lstat()
        assert stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode), p  # the FIFO is gone
        assert st.st_uid == os.geteuid() and not st.st_mode & (stat.S_ISUID | stat.S_ISGID), p
        assert stat.S_ISDIR(st.st_mode) or not st.st_mode & 0o111, p


def test_hostile_notebooks_are_read_under_caps_within_their_deadline(hostile):  # kind 2
    rows = hostile["rows"]
    for student, words in (("m22_braces", "JSON objects and lists"), ("m23_deep", "nested past"),
                           ("m24_cells", "JSON objects and lists"), ("m25_fifo", "not a regular file")):
        r = rows[(student, "t.1-double")]
        assert r["status"] == "error" and "cannot be read" in r["message"] and words in r["message"], r
        assert seconds(hostile, student) < 15, student  # the class's --timeout: far within it
    assert rows[("m21_comms", "t.1-double")]["status"] == "pass"  # its 320 MB of widget buffers were not kept
    executed = hostile["work"] / "executed" / "m21_comms" / "01_toy.ipynb"
    assert executed.stat().st_size < 25 << 20
    # with the 320 MB of comm buffers, the 200 MB printer and the JSON bombs in the class:
    assert hostile["grown"] < GROWTH_BOUND, f"the grader grew by {hostile['grown'] >> 20} MB"


def test_a_run_folder_is_held_to_its_disk_quota(hostile):  # kind 5
    rows = hostile["rows"]
    for student in ("m26_files", "m27_bytes"):
        r = rows[(student, "t.1-double")]
        assert r["status"] == "error" and "disk quota" in r["message"], r
    # As root the run folder is a tmpfs of the quota's size: not one file or byte past it. Elsewhere a
    # watcher stops the kernel, and a burst past the quota lasts one look (runfolder.POLL).
    capped = os.geteuid() == 0
    size, count = usage(hostile["work"] / "runs" / "m26_files")  # its one run folder counts as one more
    assert count <= QUOTA[1] + 1 if capped else count < QUOTA[1] * 3, count  # it tried 20,000
    size, count = usage(hostile["work"] / "runs" / "m27_bytes")
    assert size <= QUOTA[0] if capped else size < QUOTA[0] + (150 << 20), size >> 20  # it tried 400 MB
    assert not any(os.path.ismount(p) for p in (hostile["work"] / "runs").glob("*/*")), "a run folder is left mounted"


def test_nested_namespaces_and_keyrings_are_closed(hostile):  # kinds 6 and 7
    assert "blocked unshare -Ur" in log(hostile, "m29_escape")
    assert "blocked add_key" in log(hostile, "m29_escape")


def test_exit_in_the_last_cell_loses_no_mark(hostile):  # kind 7
    for key in ("t.1-double", "t.3-warm"):
        assert hostile["rows"][("m28_exit", key)]["status"] == "pass"


def test_look_alike_students_are_told_apart_everywhere(hostile):  # kind 7, and kind 4 for zip-only students
    rows, lines = hostile["rows"], hostile["printed"].splitlines()
    names = {s for s, _ in rows}
    shown = [distinct(s) for s in LOOKALIKES]
    assert set(shown) <= names and "aa_first" in names and all("[U+" in s for s in shown)
    assert len({report.shown(s) for s in shown} | {"aa_first"}) == len(LOOKALIKES) + 1
    for student in shown:
        assert sum(line.startswith(report.shown(student)) for line in lines) >= 1  # its own summary line
        r = rows[(student, "t.1-double")]
        assert r["status"] == "error" and "no lab notebook was found" in r["message"], r
        assert "lab8.zip" in r["message"] or "lab8-01.ipynb" in r["message"], r
    answers = (hostile["tmp"] / "grades-answers.md").read_text()
    assert all(answers.count(report._md_name(s) + "\n") == 1 for s in shown)


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    """A small class graded as `subs/` and as `subs/*`: mallory holds files named for others, some hold no notebook."""
    tmp = tmp_path_factory.mktemp("layouts")
    (tmp / "layout_registry.py").write_text(TOY_REGISTRY)
    subs = tmp / "subs"
    for student in ("alice", "bob", "mallory", "mallory2", "zipper", "misnamed"):
        (subs / student).mkdir(parents=True)
    nbformat.write(toy_notebook("return 2 * x"), subs / "alice" / "01_toy.ipynb")
    nbformat.write(toy_notebook("return x"), subs / "bob" / "01_toy.ipynb")
    nbformat.write(toy_notebook("return 2 * x"), subs / "mallory" / "alice_01_toy.ipynb")
    for who in ("alice", "bob"):
        nbformat.write(toy_notebook("return 2 * x"), subs / "mallory2" / f"{who}_01_toy.ipynb")
    (subs / "zipper" / "lab8.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    nbformat.write(toy_notebook("return 2 * x"), subs / "misnamed" / "lab8-01.ipynb")
    (subs / "README.txt").write_text("handed in on time")  # a stray file that submitted/* passes too
    star = sorted(str(p) for p in subs.iterdir() if not p.name.startswith("."))  # what the shell's subs/* gives
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(tmp))
        for name, paths in (("dir", [subs]), ("star", star)):
            grade.grade(paths, tmp / f"{name}.csv", timeout=15, check_timeout=3, smoke=True, jobs=2, warm=False,
                        registry="layout_registry", say=lambda *a: None)
            out[name] = (tmp / f"{name}.csv").read_text()
    return out


def test_subs_and_subs_star_give_the_same_csv(layouts):  # kind 3
    assert layouts["dir"] == layouts["star"]
    rows = {(r["student"], r["exercise"]): r for r in csv.DictReader(layouts["star"].splitlines())}
    assert {s for s, _ in rows} == {"alice", "bob", "mallory", "mallory2", "zipper", "misnamed"}
    # alice_01_toy.ipynb in mallory's folder is mallory's, and refused as renamed (as nbgrader does): not alice's
    assert rows[("mallory", "t.1-double")]["status"] == "error" and "rename" in rows[("mallory", "t.1-double")]["message"]
    assert rows[("bob", "t.1-double")]["status"] == "wrong"  # bob's own notebook, not one mallory named for him
    m2 = rows[("mallory2", "t.1-double")]  # two files named for others: refused (renamed), credited to no one
    assert m2["status"] == "error" and "renamed notebook" in m2["message"]


def test_a_student_without_a_lab_notebook_gets_rows_and_the_class_is_graded(layouts):  # kind 4
    rows = {(r["student"], r["exercise"]): r for r in csv.DictReader(layouts["star"].splitlines())}
    for student, found in (("zipper", "lab8.zip"), ("misnamed", "lab8-01.ipynb")):
        for key in ("t.1-double", "t.2-why"):
            r = rows[(student, key)]
            assert r["status"] == "error" and r["points"] == "0" and found in r["message"], r
    assert rows[("alice", "t.1-double")]["status"] == "pass"


def full_disk(folder: Path) -> bool:
    """Mount a 64 KiB tmpfs on folder and fill it; False where this machine will not mount one."""
    folder.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
                                           capture_output=True).returncode != 0:
        return False
    try:
        (folder / "filler").write_bytes(bytes(1 << 20))
    except OSError as e:
        assert e.errno == errno.ENOSPC
    return True


def test_a_full_disk_keeps_the_marks_and_says_where_in_one_line(tmp_path, monkeypatch, capsys):  # kind 5
    (tmp_path / "manual_registry.py").write_text(TOY_REGISTRY + "\nEXERCISES = EXERCISES[1:]\n")  # no kernel to start
    monkeypatch.syspath_prepend(str(tmp_path))
    for student in ("ann", "ben"):
        (tmp_path / "subs" / student).mkdir(parents=True)
        nbformat.write(toy_notebook("return 2 * x", f"{student} wrote this answer"), tmp_path / "subs" / student / "01_toy.ipynb")
    if not full_disk(tmp_path / "full"):
        pytest.skip("mounting a small tmpfs needs root")
    monkeypatch.setenv("TMPDIR", str(tmp_path / "fallback"))
    (tmp_path / "fallback").mkdir()
    monkeypatch.setattr("tempfile.tempdir", None)  # TMPDIR is read again
    try:
        monkeypatch.setattr(grade.command, "grade", lambda paths, out, **kw: grade.grade(
            paths, out, **{**kw, "registry": "manual_registry", "warm": False}))
        rc = cli.main(["grade", str(tmp_path / "subs"), "--out", str(tmp_path / "full" / "grades.csv"), "--smoke"])
    finally:
        subprocess.run(["umount", str(tmp_path / "full")], check=True)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1 and "No space left on device" in err[0] and "Traceback" not in err[0], err
    order = [".csv", ".md", ".json"]  # the marks, the answers to mark, the answers kept for the next run
    kept = sorted((tmp_path / "fallback").glob("labvae-*-grades*"), key=lambda p: order.index(p.suffix))
    assert [p.suffix for p in kept] == order and all(str(p) in err[0] for p in kept)
    text = "".join(p.read_text() for p in kept)
    assert "ann,01_toy,t.2-why" in text and "ben wrote this answer" in text  # the CSV and the answers, both kept
