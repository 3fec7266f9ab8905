"""The course folder (`python -m labvae course DIR`): settings both routes read, nbgrader's release from it."""

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from labvae import cli
from labvae.course.grade import course as folder
from labvae.course.grade.report import COLUMNS
from labvae.course.grade.submissions import collect, misnamed
from labvae.course.grade.warm import private_copy

ROOT = Path(__file__).resolve().parents[1]
HANDOUT = "https://github.com/comp6258-test/lab8"
STEMS = ["01_training", "02_vae_sweep", "03_ae_sweep"]


def labvae(*args, cwd):
    return subprocess.run([sys.executable, "-m", "labvae", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def nbgrader(*args, cwd, user=None):
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}
    prefix = []
    if user is not None:  # as an unprivileged user, with a home of its own
        prefix = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"]
        env["HOME"] = str(cwd)
    return subprocess.run([*prefix, sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture
def open_tmp():
    """A temp folder an ordinary user can reach (pytest's own are root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="labvae-course-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _others_can_run(python: str) -> bool:
    """Whether a user other than root can reach this Python (a venv under /root, as in CI, cannot)."""
    return all(os.stat(d).st_mode & 0o001 for d in Path(python).resolve().parents)


def test_release_refuses_without_a_handout_then_points_at_the_recorded_one(open_tmp):
    """The real CLI and the real nbgrader: no setting but the course folder's, no address but the recorded one."""
    course = open_tmp / "c"
    r = labvae("course", str(course), "--smoke", "--due", "2027-03-01 17:00", "--notebooks", str(ROOT / "notebooks"),
               cwd=ROOT)
    assert r.returncode == 0, r.stderr
    settings = json.loads((course / folder.SETTINGS).read_text())
    assert settings["smoke"] is True and settings["due"].startswith("2027-03-01T17:00")
    assert "handout" not in settings or settings["handout"] == folder.recorded_handout(course)
    if "handout" not in settings:  # this checkout records no hand-out: release must refuse, in one sentence
        r = nbgrader("generate_assignment", "lab8", cwd=course)
        assert r.returncode != 0 and "no hand-out address is recorded" in r.stderr
        assert not (course / "release").exists()
    assert labvae("course", str(course), "--handout", HANDOUT, cwd=ROOT).returncode == 0
    assert json.loads((course / folder.SETTINGS).read_text())["due"] == settings["due"]  # kept: only --handout changed
    r = nbgrader("generate_assignment", "lab8", cwd=course)
    assert r.returncode == 0, r.stderr[-2000:]
    for nb in (course / "release" / "lab8").glob("*.ipynb"):
        assert "comp6258-test/lab8/blob/main/notebooks/" in nb.read_text()  # the hand-out, never the solutions
    if os.geteuid() == 0 and shutil.which("setpriv") and _others_can_run(sys.executable):  # as an ordinary user too
        subprocess.run(["chown", "-R", "65534:65534", str(course)], check=True)
        r = nbgrader("release_assignment", "lab8", cwd=course, user=65534)
    else:
        r = nbgrader("release_assignment", "lab8", cwd=course)
    assert r.returncode == 0, r.stderr[-2000:]
    released = sorted(p.name for p in (course / "exchange" / settings["course_id"] / "outbound" / "lab8").iterdir())
    assert released == sorted(p.name for p in (course / "release" / "lab8").iterdir())
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id=settings["course_id"]) as gb:
        assert str(gb.find_assignment("lab8").duedate).startswith("2027-03-01 17:00")  # nbgrader's late flags too


def test_settings_are_read_and_a_flag_says_it_wins(tmp_path, monkeypatch):
    (tmp_path / folder.SETTINGS).write_text(json.dumps({"course_id": "c", "smoke": True, "work": "grading",
                                                        "due": "2027-03-01T17:00:00+00:00", "data": "/d"}))
    monkeypatch.chdir(tmp_path)
    said = []
    args = cli.build_parser().parse_args(["grade", "submitted"])
    folder.fill(args, folder.load(), said.append)
    assert (args.smoke, args.data, args.work, args.out) == (True, "/d", Path("grading"), Path(folder.OUT))
    assert args.due.isoformat() == "2027-03-01T17:00:00+00:00" and said == []
    args = cli.build_parser().parse_args(["grade", "submitted", "--no-smoke", "--due", "2027-03-02 09:00"])
    folder.fill(args, folder.load(), said.append)
    assert args.smoke is False and args.due.day == 2
    assert len(said) == 2 and all("overrides the course's" in s for s in said)
    monkeypatch.chdir(tmp_path / "..")  # no course folder: nothing recorded, the old defaults
    args = cli.build_parser().parse_args(["grade", "x"])
    folder.fill(args, folder.load(), said.append)
    assert (args.smoke, args.due, args.work) == (False, None, None)


def test_gradebook_without_due_uses_the_recorded_one(tmp_path, monkeypatch, capsys):
    (tmp_path / folder.SETTINGS).write_text(json.dumps({"course_id": "c", "due": "2027-03-01T17:00:00+00:00"}))
    with open(tmp_path / folder.OUT, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        w.writerow(["bob", "02_vae_sweep", "1_1-grid", "grid", "pass", "1", "1", "ok", "", "2027-03-01T18:30:00+00:00"])
    monkeypatch.chdir(tmp_path)
    assert cli.main(["gradebook"]) == 0
    with open(tmp_path / "labvae-grades-export.csv", newline="") as f:
        assert next(csv.DictReader(f))["late_by"]  # 1.5 h late, flagged without typing --due again
    assert cli.main(["gradebook", "--due", "2027-03-02 17:00"]) == 0
    assert "overrides the course's" in capsys.readouterr().out
    with open(tmp_path / "labvae-grades-export.csv", newline="") as f:
        assert not next(csv.DictReader(f))["late_by"]


def test_a_renamed_notebook_is_refused_with_a_note(tmp_path):
    """As nbgrader does (it grades only 02_vae_sweep.ipynb), with the note both routes print."""
    sub = tmp_path / "submitted"
    for rel in ("ann/lab8/Copy of 02_vae_sweep.ipynb", "ann/lab8/03_ae_sweep.ipynb",
                "ben/lab8/02_vae_sweep.ipynb", "ben/lab8/Copy of 02_vae_sweep.ipynb", "cy/lab8/03_ae_sweep (1).ipynb"):
        (sub / rel).parent.mkdir(parents=True, exist_ok=True)
        (sub / rel).write_text("{}")
    found = collect([sub], STEMS)
    assert "handed in as 'Copy of 02_vae_sweep.ipynb'" in found["ann"]["02_vae_sweep"].reason
    assert found["ann"]["03_ae_sweep"] == sub / "ann/lab8/03_ae_sweep.ipynb"
    assert found["ben"]["02_vae_sweep"] == sub / "ben/lab8/02_vae_sweep.ipynb"  # the exact name wins, as in nbgrader
    assert "rename it to 03_ae_sweep.ipynb" in found["cy"]["03_ae_sweep"].reason
    lines = misnamed(sub, "lab8", STEMS)
    assert [line.split(":")[0] for line in lines] == ["ann", "cy"]
    assert found["ann"]["02_vae_sweep"].reason in lines[0]  # the same sentence on both routes


def test_a_read_only_warm_folder_is_copied_writable(tmp_path):
    warm = tmp_path / "warm"
    (warm / "cache" / "results-smoke").mkdir(parents=True)
    (warm / "cache" / "results-smoke" / "vae.pt").write_bytes(b"x")
    (warm / "cache" / "data.idx").write_bytes(b"x")
    for p in [*warm.rglob("*"), warm]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    run = tmp_path / "run"
    private_copy(warm, run)
    assert not (run / "cache" / "results-smoke" / "vae.pt").exists()  # checkpoints are shared, never copied
    (run / "cache" / "results-smoke" / "vae_grid.png").write_bytes(b"a kernel's own result")
    (run / "cache" / "data.idx").write_bytes(b"y")


def test_a_course_folder_is_refused_where_it_cannot_be(tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    r = labvae("course", str(tmp_path / "busy"), "--handout", HANDOUT, "--notebooks", str(ROOT / "notebooks"), cwd=ROOT)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1 and "not empty" in r.stderr
    assert sorted(p.name for p in (tmp_path / "busy").iterdir()) == ["notes.txt"]
    with pytest.raises(SystemExit, match="no hand-out address"):
        folder.nbgrader_settings(None, ["nbgrader", "release_assignment", "lab8"], tmp_path)
