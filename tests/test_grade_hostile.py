"""Hostile students: one submission per known attack, graded in one class with honest students, in the sandbox."""

import csv
import hashlib
import json
import os
import platform
import re
import sysconfig
import threading
import time
from pathlib import Path

import nbformat
import pytest
from test_grade import TOY_REGISTRY, running, toy_notebook

from labvae.course import grade
from labvae.course.grade import report, runfolder
from labvae.course.grade.kernel import MESSAGE_CAP, OUTPUT_CAP
from labvae.course.grade.runner import PACKAGE
from labvae.course.grade.sandbox import available

WHY = available()
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"no sandbox here: {WHY}")

WARM = "warm checkpoint v1"  # what the shared warm vae.pt holds; every honest student's check reads it, read-only
REGISTRY = TOY_REGISTRY + f'''

def check_warm(fn):
    got = fn()
    if got == {WARM!r}:
        return CheckResult("pass", "the warm checkpoint is intact")
    return CheckResult("wrong", f"the warm checkpoint reads {{got[:40]!r}}")


EXERCISES = EXERCISES + (Exercise("t.3-warm", "Read the warm checkpoint", "01_toy", "warm", 1.0, check_warm),)
'''
SECRETS = {"canary": "CANARY-honest-7f3a", "home": "HOME-SECRET-91b2", "env": "ENV-TOKEN-c4d8"}
TOKEN = "labvae-hostile-daemon-5e6f"  # in a daemon's argv, so the test can look for it among all processes
HONEST = ("aa_first", "zz_last1", "zz_last2")
# The warmed checkpoints are shared read-only ($LABVAE_CHECKPOINTS), not copied into each run folder.
READS_WARM = ("def warm():\n    import os\n"
              "    return open(os.path.join(os.environ['LABVAE_CHECKPOINTS'].split(os.pathsep)[0], 'vae.pt')).read()")
ABSOLUTE_CACHE = "import os\nassert os.path.isabs(os.environ['LABVAE_CACHE']), os.environ['LABVAE_CACHE']"
# Each attack's cell tries things through attempt(), which logs "did" or "blocked" in its run folder.
ATTEMPT = """\
import json, os, signal, subprocess, sys
def attempt(what, do):
    try:
        do()
        note = 'did ' + what
    except BaseException as e:
        note = f'blocked {what}: {type(e).__name__}'
    with open('attacks.log', 'a') as f:
        f.write(note + '\\n')
"""


def honest(answer="Because two is more than one."):
    return toy_notebook("return 2 * x", answer, READS_WARM, ABSOLUTE_CACHE)


def attacker(cell: str, body="return 2 * x", answer="ok"):
    return toy_notebook(body, answer, READS_WARM, ATTEMPT, cell)


def attacks(p: dict) -> dict:
    """Student folder name -> notebook: one per attack of issue 16 (p: the paths an attacker would aim at)."""
    write = lambda path, text, mode="w": f"attempt({path!r}, lambda: open({path!r}, {mode!r}).write({text!r}))"  # noqa: E731
    return {
        "m01_reader": attacker("\n".join(
            [f"attempt('read {k}', lambda: open('loot.txt', 'a').write(open({v!r}).read()))"
             for k, v in (("canary", p["canary"]), ("home", p["home_secret"]), ("notebook", p["honest_nb"]))]
            + ["open('loot.txt', 'a').write(repr(dict(os.environ)))",
               "for pid in [q for q in os.listdir('/proc') if q.isdigit()]:\n"
               "    for part in ('cmdline', 'environ'):\n"
               "        attempt(f'/proc/{pid}/{part}', lambda: open('loot.txt', 'a').write(open(f'/proc/{pid}/{part}').read()))",
               "import glob\nfor top in %r:\n    open('loot.txt', 'a').write(repr(glob.glob(top + '/**', recursive=True)))"
               % [p["work"], p["subs"]],
               "raise RuntimeError('LOOT ' + open('loot.txt').read()[-140:])"])),  # smuggled out in cell_errors
        "m02_swapper": attacker(write(p["honest_nb_last"], "{}")),
        "m03_planter": attacker("\n".join([
            write(p["home"] + "/.ipython/profile_default/startup/00-evil.py", "raise SystemExit"),
            write(str(PACKAGE / "course" / "checks.py"), "\nraise SystemExit\n", "a"),
            write(str(PACKAGE / "evil.py"), "x = 1"),
            write(p["site"] + "/evil.pth", "import os; os._exit(1)"),
            write(p["registry"], "\nraise SystemExit\n", "a"),
            write(p["work"] + "/trusted/hostile_registry.py", "\nraise SystemExit\n", "a")])),
        "m04_daemon": attacker(  # waits for the grader to exit, then rewrites the CSV
            "code = 'import os, sys, time\\nif os.fork(): sys.exit()\\nos.setsid()\\nwhile True:\\n    time.sleep(0.2)\\n"
            f"    try: open({json.dumps(p['out'])}, \"w\").write(\"forged\")\\n    except OSError: pass'\n"
            f"attempt('daemon', lambda: subprocess.Popen([sys.executable, '-c', code, {TOKEN!r}], start_new_session=True))"),
        "m05_killer": attacker(f"attempt('kill the grader', lambda: os.kill({os.getpid()}, signal.SIGKILL))\n"
                               "attempt('kill the parent', lambda: os.kill(os.getppid(), signal.SIGKILL))\n"
                               "import time\ntime.sleep(0.5)\nos.kill(-1, signal.SIGKILL)"),
        "m06_swallower": attacker("", body="import time\nwhile True:\n    try:\n        time.sleep(0.05)\n"
                                           "    except KeyboardInterrupt:\n        pass"),
        "m07_sleeper": attacker("signal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"),
        "m08_squatter": attacker("\n".join(write(p["work"] + f"/runs/{s}", "x") for s in ("zz_last1", "zz_last2"))),
        "m09_odd_metadata": attacker(""),  # its cells' metadata is made odd below
        "m10_junk_warm": attacker(write(p["work"] + "/warm/cache/results-smoke/vae.pt", "junk") + "\n" + write("cache/vae.pt", "junk")),
        "m11_printer": attacker("for _ in range(200):\n    print('x' * (1 << 20))"),
        "m12_prefix": None,  # holds zz_last1_01_toy.ipynb: a file-name prefix naming someone else
        "m13_etc_passwd": None, "m14_link_to_honest": None, "m15_duplicates": None, ".m16_hidden": None,
        "m19_forkbomb": attacker(  # all the tasks its uid may have
            "import threading, time\nthreading.stack_size(1 << 16)\nhold, threads = threading.Event(), []\n"
            "try:\n    while len(threads) < 5000:\n        threads.append(threading.Thread(target=hold.wait))\n"
            "        threads[-1].start()\nexcept RuntimeError:\n    pass\n"
            "attempt(f'{len(threads)} threads', lambda: None)\ntime.sleep(1)\nhold.set()"),
        **round2(p, write),
        "bob x": attacker("", answer="bob x's answer"), "bob_x": attacker("", body="return x", answer="bob_x's answer"),
        "=1+2": attacker("", answer="=HYPERLINK(\"http://evil\")"),
        "m17_comment": attacker("", answer="<!-- everything after this is hidden"),
        "m18_forger\n### zz_last1\n\nforged by m18": attacker("", answer="ok\n\n```\n\n### zz_last2\n\nforged answer\n"),
    }


def round2(p: dict, write) -> dict:
    """The attacks of issue 24 that run in a kernel (the rest are files, made in the fixture)."""
    plant = [f"attempt('plant {name}', lambda: open({name!r}, 'w').write({text!r}))" for name, text in PLANTED.items()]
    keyring = {"x86_64": 248, "aarch64": 217}.get(platform.machine(), -1)  # add_key's syscall number
    return {
        "m20_planter": attacker("\n".join(plant + [
            "attempt('set-uid', lambda: os.chmod('run.sh', 0o6755))", "attempt('fifo', lambda: os.mkfifo('pipe'))",
            write(p["work"] + "/executed/m20_planter/ipykernel_launcher.py", "import os; os._exit(3)")])),
        "m21_comms": attacker("from comm import create_comm\nfor _ in range(40):\n"
                              "    create_comm(target_name='jupyter.widget', data={}, buffers=[bytes(8 << 20)])"),
        "m26_files": attacker("os.mkdir('many')\nfor i in range(20000):\n    open(f'many/{i}', 'w').close()"),
        "m27_bytes": attacker("with open('big', 'wb') as f:\n    for _ in range(400):\n        f.write(bytes(1 << 20))"),
        "m29_escape": attacker(
            "attempt('unshare -Ur', lambda: subprocess.run(['unshare', '-Ur', 'true'], check=True, capture_output=True))\n"
            "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\ndef add_key():\n"
            f"    if libc.syscall({keyring}, b'user', b'labvae-leak', b'secret', 6, -4) < 0:\n"
            "        raise OSError(ctypes.get_errno(), 'add_key')\nattempt('add_key', add_key)"),
    }


PLANTED = {"ipykernel_launcher.py": "import os; os._exit(3)", "sitecustomize.py": "raise SystemExit",
           "jupyter_server_config.py": "c = get_config()", "evil.pth": "import os", "run.sh": "#!/bin/sh\necho pwned\n"}
LOOKALIKES = {"\u0430a_first": "lab8.zip", "aa_first ": "lab8-01.ipynb", "Zo\u00eb": "lab8.zip", "Zoe\u0308": "lab8.zip"}
QUOTA = (64 << 20, 2000)  # the run folders' disk quota in this class: bytes, files


def round2_files(subs: Path) -> None:
    """Issue 24's submissions that are files: JSON bombs, a FIFO, look-alike names, zip-only students."""
    for student in ("m22_braces", "m23_deep", "m24_cells", "m25_fifo", "m28_exit", *LOOKALIKES):
        (subs / student).mkdir()
    (subs / "m22_braces" / "01_toy.ipynb").write_text("[" + "{}," * 1_000_000 + "{}]")
    (subs / "m23_deep" / "01_toy.ipynb").write_text("[" * 50_000 + "]" * 50_000)
    cells = ",".join(['{"cell_type":"raw","source":""}'] * 900_000)  # 29 MB: under the byte cap
    (subs / "m24_cells" / "01_toy.ipynb").write_text(f'{{"nbformat":4,"nbformat_minor":5,"metadata":{{}},"cells":[{cells}]}}')
    os.mkfifo(subs / "m25_fifo" / "01_toy.ipynb")
    nb = honest("I end my notebook with exit().")
    nb.cells.append(nbformat.v4.new_code_cell("exit()"))  # a solution notebook that ends the kernel
    nbformat.write(nb, subs / "m28_exit" / "01_toy.ipynb")
    for student, name in LOOKALIKES.items():
        (subs / student / name).write_bytes(b"PK\x05\x06" + bytes(18) if name.endswith(".zip") else b"{}")


def digest(top: Path) -> dict[str, str]:
    """Relative path -> content hash (a link: its target) of every file under top; bytecode caches skipped."""
    out = {}
    for d, dirs, files in os.walk(top):
        dirs[:] = [x for x in dirs if x != "__pycache__"]
        for name in files + [x for x in dirs if os.path.islink(os.path.join(d, x))]:
            f = Path(d) / name
            rel = str(f.relative_to(top))
            if f.is_symlink() or not f.is_file():  # a FIFO is never opened: it would block
                out[rel] = "->" + os.readlink(f) if f.is_symlink() else f"mode {f.lstat().st_mode:o}"
            else:
                out[rel] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


# What the grader may hold at once in this class (--jobs 2): per notebook, its kept output and a copy while
# the executed notebook is written, and one message at the cap, raw and decoded. The class's attacks
# total over 500 MB (320 MB of widget buffers, a 200 MB printer, JSON bombs); measured growth 97-113 MB.
GROWTH_BOUND = 2 * (2 * OUTPUT_CAP + 2 * MESSAGE_CAP)  # 144 MB


def rss() -> int:
    return int(re.search(r"VmRSS:\s+(\d+)", Path("/proc/self/status").read_text())[1]) << 10


def read_rows(out: Path) -> dict:
    with open(out, newline="") as f:
        return {(r["student"], r["exercise"]): r for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return hostile_class(tmp_path_factory)


_GRADED: dict = {}


def hostile_class(tmp_path_factory) -> dict:
    """The hostile class, graded once per session: tests/test_grade_hostile_round2.py asserts on it too."""
    if not _GRADED:
        _GRADED.update(_grade_hostile_class(tmp_path_factory))
    return _GRADED


def _grade_hostile_class(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("hostile")
    (tmp / "reg").mkdir()
    (tmp / "reg" / "hostile_registry.py").write_text(REGISTRY)
    home = tmp / "home"
    (home / ".ipython" / "profile_default" / "startup").mkdir(parents=True)  # so only a sandbox can block it
    (home / "secret.txt").write_text(SECRETS["home"])
    subs, base = tmp / "subs", tmp / "honest_only"
    for student in HONEST:  # the same honest notebooks, graded alone first: the marks they must keep
        for top in (subs, base):
            (top / student).mkdir(parents=True, exist_ok=True)
            nbformat.write(honest(), top / student / "01_toy.ipynb")
    (subs / "aa_first" / "canary.txt").write_text(SECRETS["canary"])
    work = tmp / "work"
    site = Path(sysconfig.get_paths()["purelib"])
    paths = {"canary": str(subs / "aa_first" / "canary.txt"), "home": str(home), "home_secret": str(home / "secret.txt"),
             "honest_nb": str(subs / "aa_first" / "01_toy.ipynb"), "honest_nb_last": str(subs / "zz_last2" / "01_toy.ipynb"),
             "work": str(work), "subs": str(subs), "site": str(site), "registry": str(tmp / "reg" / "hostile_registry.py"),
             "out": str(tmp / "grades.csv")}
    for student, nb in attacks(paths).items():
        (subs / student).mkdir()
        if nb is not None:
            nbformat.write(nb, subs / student / "01_toy.ipynb")
    odd = nbformat.read(subs / "m09_odd_metadata" / "01_toy.ipynb", as_version=4)
    odd.cells[0].metadata = {"nbgrader": "predict-02", "tags": "t.2-why"}
    odd.cells[-2].metadata = {"nbgrader": ["t.2-why"], "tags": 7}
    nbformat.write(odd, subs / "m09_odd_metadata" / "01_toy.ipynb")
    nbformat.write(toy_notebook("return 2 * x", "mine"), subs / "m12_prefix" / "zz_last1_01_toy.ipynb")
    (subs / "m13_etc_passwd" / "01_toy.ipynb").symlink_to("/etc/passwd")
    (subs / "m14_link_to_honest" / "01_toy.ipynb").symlink_to(subs / "aa_first" / "01_toy.ipynb")
    (subs / "m15_duplicates" / "copy").mkdir()
    for where in ("", "copy"):
        nbformat.write(honest(), subs / "m15_duplicates" / where / "01_toy.ipynb")
    nbformat.write(honest(), subs / ".m16_hidden" / "01_toy.ipynb")
    round2_files(subs)
    for top in (work, tmp / "base_work"):
        (top / "warm" / "cache" / "results-smoke").mkdir(parents=True)
        (top / "warm" / "cache" / "results-smoke" / "vae.pt").write_text(WARM)
    (work / "runs").mkdir()
    (work / "runs" / "zz_last2").write_text("a file where zz_last2's run folder goes")

    guarded = {"submissions": subs, "warm": work / "warm", "package": PACKAGE, "home": home, "registry": tmp / "reg"}
    before = {k: digest(v) for k, v in guarded.items()}
    site_before = sorted(os.listdir(site))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv("LABVAE_GRADER_TOKEN", SECRETS["env"])
        mp.syspath_prepend(str(tmp / "reg"))
        mp.chdir(tmp)  # --work given relative, as an instructor might
        mp.setattr(runfolder, "QUOTA_BYTES", QUOTA[0])
        mp.setattr(runfolder, "QUOTA_FILES", QUOTA[1])
        kw = dict(timeout=15, check_timeout=3, smoke=True, registry="hostile_registry", warm=False, jobs=2,
                  say=lambda *a: None)
        grade.grade([base], tmp / "base.csv", work=Path("base_work"), **kw)
        peak, start, done = [0], rss(), threading.Event()

        def sample():
            while not done.wait(0.05):
                peak[0] = max(peak[0], rss())

        sampler = threading.Thread(target=sample)
        sampler.start()
        t0 = time.monotonic()
        printed = []
        try:
            grade.grade([subs], tmp / "grades.csv", work=Path("work"), **{**kw, "say": printed.append})
        finally:
            done.set()
            sampler.join()
        seconds = time.monotonic() - t0
    left = running(tmp, TOKEN)
    csv_then = (tmp / "grades.csv").read_bytes()
    time.sleep(1.5)  # a daemon that outlived the grader would rewrite the CSV by now
    return {"tmp": tmp, "rows": read_rows(tmp / "grades.csv"), "base": read_rows(tmp / "base.csv"),
            "csv": csv_then, "csv_later": (tmp / "grades.csv").read_bytes(), "left": left, "seconds": seconds,
            "changed": {k: v for k, v in guarded.items() if digest(v) != before[k]}, "printed": "\n".join(printed),
            "site_changed": sorted(os.listdir(site)) != site_before, "grown": peak[0] - start, "work": work}


def log(h, student) -> str:
    return (h["work"] / "runs" / student / "01_toy" / "attacks.log").read_text()


def test_honest_students_keep_their_marks(hostile):
    rows, base = hostile["rows"], hostile["base"]
    for student in HONEST:
        for key in ("t.1-double", "t.2-why", "t.3-warm"):
            mine, alone = rows[(student, key)], base[(student, key)]
            assert {k: mine[k] for k in ("status", "points", "message", "cell_errors")} == \
                   {k: alone[k] for k in ("status", "points", "message", "cell_errors")}, (student, key, mine)
        assert rows[(student, "t.1-double")]["status"] == rows[(student, "t.3-warm")]["status"] == "pass"
        assert rows[(student, "t.1-double")]["cell_errors"] == ""  # --work was made absolute for the kernels


def test_the_grader_finishes_writes_both_files_and_leaves_nothing_running(hostile):
    assert (hostile["tmp"] / "grades-answers.md").is_file()
    assert hostile["left"] == [] and hostile["csv_later"] == hostile["csv"]  # no daemon rewrote it
    assert "did daemon" in log(hostile, "m04_daemon")  # it was started, and died with the sandbox
    assert hostile["seconds"] < 150, hostile["seconds"]


def test_nothing_outside_the_run_folders_changed(hostile):
    assert hostile["changed"] == {} and not hostile["site_changed"]
    for student in ("m02_swapper", "m03_planter", "m08_squatter"):
        attempts = log(hostile, student).splitlines()
        assert len(attempts) >= 1 and all(a.startswith("blocked") for a in attempts), attempts
    junk = log(hostile, "m10_junk_warm").splitlines()
    assert junk[0].startswith(f"blocked {hostile['work']}/warm/cache/results-smoke/vae.pt")  # shared: read-only
    assert junk[1] == "did cache/vae.pt"  # its own cache is its to spoil


def test_nothing_secret_is_read_or_smuggled_out(hostile):
    loot = (hostile["work"] / "runs" / "m01_reader" / "01_toy" / "loot.txt").read_text()
    assert "blocked read canary" in log(hostile, "m01_reader") and "'LABVAE_SMOKE': '1'" in loot
    out = hostile["csv"].decode() + (hostile["tmp"] / "grades-answers.md").read_text()
    for secret in SECRETS.values():
        assert secret not in loot and secret not in out
    argv = Path("/proc/self/cmdline").read_bytes().replace(b"\0", b" ").decode()
    assert "zz_last1" not in loot and argv not in loot  # no other run folder, nor the grader's command line
    assert "LOOT" in hostile["rows"][("m01_reader", "t.1-double")]["cell_errors"]


def test_a_submission_cannot_stop_the_grader_or_its_own_deadlines(hostile):
    rows = hostile["rows"]
    assert "blocked kill the grader" in log(hostile, "m05_killer")
    assert ("m05_killer", "t.1-double") in rows  # kill(-1) spares the caller: all else in its sandbox died
    swallow = rows[("m06_swallower", "t.1-double")], rows[("m06_swallower", "t.3-warm")]
    assert swallow[0]["status"] == "error" and "did not finish within 3 s" in swallow[0]["message"]
    assert swallow[1]["status"] == "error" and "ignored the interrupt" in swallow[1]["message"]
    assert "15 s limit" in rows[("m07_sleeper", "t.1-double")]["message"]
    odd = rows[("m09_odd_metadata", "t.1-double")], rows[("m09_odd_metadata", "t.2-why")]
    assert odd[0]["status"] == "pass" and odd[1]["status"] == "not done"
    assert 500 < int(log(hostile, "m19_forkbomb").split()[1]) < 1024  # it met the sandbox's process limit


def test_output_is_capped(hostile):
    assert hostile["rows"][("m11_printer", "t.1-double")]["status"] == "pass"
    executed = hostile["work"] / "executed" / "m11_printer" / "01_toy.ipynb"
    assert executed.stat().st_size < 25 << 20 and "[labvae grade: output" in executed.read_text()
    assert hostile["grown"] < GROWTH_BOUND, f"the grader grew by {hostile['grown'] >> 20} MB"


def test_identity_comes_from_folders_and_links_are_refused(hostile):
    rows = hostile["rows"]
    prefixed = rows[("m12_prefix", "t.1-double")]  # a file named for zz_last1: refused as renamed, credited to no one
    assert prefixed["status"] == "error" and "rename" in prefixed["message"]
    for student, words in (("m13_etc_passwd", "symbolic link"), ("m14_link_to_honest", "symbolic link"),
                           ("m15_duplicates", "two copies"), (".m16_hidden", "hidden")):
        for key in ("t.1-double", "t.2-why", "t.3-warm"):
            assert rows[(student, key)]["status"] == "error" and words in rows[(student, key)]["message"], student
    assert "root:" not in hostile["csv"].decode()
    assert rows[("bob x", "t.1-double")]["status"] == "pass" and rows[("bob_x", "t.1-double")]["status"] == "wrong"


def test_csv_and_answers_are_safe_to_open(hostile):
    rows = hostile["rows"]
    assert ("'=1+2", "t.1-double") in rows and not any(s.startswith(("=", "+", "-", "@")) for s, _ in rows)
    forger = [s for s, _ in rows if s.startswith("m18")]
    assert forger and "\n" not in forger[0]
    lines = hostile["printed"].splitlines()  # the terminal: the forger's name stays on its own line
    assert [x for x in lines if x.startswith("m18")] and not any(x.startswith(("### ", "forged")) for x in lines)
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark").render((hostile["tmp"] / "grades-answers.md").read_text())
    headings = re.findall(r"<h3>(.*?)</h3>", html)
    assert len(headings) == len({s for s, _ in rows}) and headings.count("zz_last1") == 1
    assert headings.count("zz_last2") == 1 and "<!--" not in html.replace("&lt;!--", "")
    assert html.count("Because two is more than one.") == len(HONEST)  # nothing hid the later answers
    assert "forged answer" in html and "<h3>forged" not in html


def test_report_neutralises_every_formula_start():
    rows = [{k: "" for k in grade.COLUMNS} | {"student": c + "x", "message": c + "y"} for c in "=+-@\t\r"]
    for r in csv.DictReader(report.to_csv(rows).splitlines(True)):
        assert not r["student"].startswith(report.FORMULA) and not r["message"].startswith(report.FORMULA), r
        assert r["student"][0] in "'\\" and r["message"][0] in "'\\", r  # quoted, or the tab written as \x09
    assert report.shown("a\nb\x1b[2J\u202e\\") == "a\\x0ab\\x1b[2J\\u202e\\"  # a backslash stays itself
    assert report.shown(report.shown("a\\b\u200b")) == report.shown("a\\b\u200b")  # so a re-read name is the same
