"""The notebooks' setup cell, run for real the way Colab runs it, against a local git repository.

The runtime is a copy of the venv `.ci/colab` builds with Colab's pinned stack (CPython 3.13, torch
2.11, ipywidgets 7.7.1, ...), given in $LABVAE_COLAB_VENV; without it these tests are skipped. The
repository is a bare git repository made from this working tree (uncommitted changes included), and
the cell's own source, taken from notebook 01 with its REPOSITORY stamped to that repository's
file:// URL, runs in the copy with a stand-in `google.colab` module: what pip changes is compared
with `pip freeze` before and after.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from labvae.course.editions import colab

pytestmark = pytest.mark.colab

ROOT = Path(__file__).resolve().parents[1]
BASE = os.environ.get("LABVAE_COLAB_VENV")
if not BASE or not (Path(BASE) / "bin" / "python").exists():
    pytest.skip("needs the Colab-pinned venv in $LABVAE_COLAB_VENV: run .ci/colab, which builds it and runs "
                "these tests", allow_module_level=True)

# What Colab has and a plain Python lacks: the cell tells the two apart by this module.
AS_ON_COLAB = "import sys, types; sys.modules['google.colab'] = types.ModuleType('google.colab')\n"
GIT = ["git", "-c", "user.name=labvae tests", "-c", "user.email=tests@labvae.invalid", "-c", "init.defaultBranch=main"]


def setup_cell():
    """The setup cell of notebook 01, as students get it (every notebook has the same one: test_colab)."""
    cells = json.loads((ROOT / "notebooks" / "01_training.ipynb").read_text(encoding="utf-8"))["cells"]
    return next("".join(c["source"]) for c in cells if c["cell_type"] == "code" and "google.colab" in "".join(c["source"]))


def git(*args, cwd):
    return subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A bare repository holding this working tree as one commit, and a clone to push more commits from."""
    tmp = tmp_path_factory.mktemp("course")
    work = tmp / "work"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, work / name)
    git("init", "-q", cwd=work)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "the course's copy", cwd=work)
    git("clone", "-q", "--bare", str(work), str(tmp / "course.git"), cwd=tmp)
    git("remote", "add", "origin", str(tmp / "course.git"), cwd=work)
    return {"url": (tmp / "course.git").as_uri(), "work": work, "bare": tmp / "course.git"}


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    """A fresh 'Colab runtime': the pinned venv, copied (hard links: cheap), without labvae."""
    path = tmp_path_factory.mktemp("runtime") / "venv"
    subprocess.run(["cp", "-al", BASE, str(path)], check=True)
    python = path / "bin" / "python"
    subprocess.run([python, "-m", "pip", "uninstall", "-q", "-y", "labvae"], capture_output=True)
    assert "labvae" not in freeze(python), "the runtime copy still has labvae"
    return python


def environment():
    """This process's environment minus anything that would put the checkout's labvae on the path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def freeze(python):
    out = subprocess.run([python, "-m", "pip", "freeze", "--all"], check=True, capture_output=True, text=True,
                         env=environment()).stdout
    return dict(line.split(" @ ", 1) if " @ " in line else line.split("==", 1)
                for line in out.splitlines() if line and not line.startswith("#"))


def run_cell(python, url, tmp_path, before=""):
    """Run the setup cell (REPOSITORY stamped to url) as Colab would; `before`: code run first in that process."""
    script = tmp_path / "cell.py"
    script.write_text(AS_ON_COLAB + before + colab.stamp_setup(setup_cell(), url))
    return subprocess.run([python, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env=environment())


def installed(python, tmp_path, expr):
    return subprocess.run([python, "-c", f"import labvae; print({expr})"], cwd=tmp_path, capture_output=True,
                          text=True, env=environment(), check=True).stdout.strip()


def changed(before, after):
    return {name: (before.get(name), after.get(name)) for name in before.keys() | after.keys()
            if before.get(name) != after.get(name)}


def test_setup_cell_installs_only_labvae_then_picks_up_a_new_commit(course, runtime, tmp_path):
    first = git("rev-parse", "HEAD", cwd=course["work"])
    before = freeze(runtime)
    r = run_cell(runtime, course["url"], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    after = freeze(runtime)
    assert list(changed(before, after)) == ["labvae"], f"the setup cell changed more than labvae: {changed(before, after)}"
    assert after["labvae"] == f"git+{course['url']}@{first}"
    assert installed(runtime, tmp_path, "labvae.__file__").startswith(str(runtime.parents[1]))  # not the checkout

    # The course pushes a second commit; re-running the setup cell in the same session installs it.
    init = course["work"] / "labvae" / "__init__.py"
    init.write_text(init.read_text() + '\nCOURSE_COMMIT = "second"\n')
    git("commit", "-q", "-am", "a fix, pushed during the lab", cwd=course["work"])
    git("push", "-q", "origin", "HEAD:main", cwd=course["work"])
    second = git("rev-parse", "HEAD", cwd=course["work"])
    r = run_cell(runtime, course["url"], tmp_path, before="import labvae\n")  # the session had imported it
    assert r.returncode == 0, r.stdout + r.stderr
    assert "restart the session" in r.stdout, f"a re-run after `import labvae` must ask for a restart: {r.stdout!r}"
    again = freeze(runtime)
    assert changed(after, again) == {"labvae": (f"git+{course['url']}@{first}", f"git+{course['url']}@{second}")}
    assert installed(runtime, tmp_path, "labvae.COURSE_COMMIT") == "second"


def test_an_unreachable_repository_is_one_sentence(runtime, tmp_path):
    before = freeze(runtime)
    missing = (tmp_path / "no-such-course.git").as_uri()
    r = run_cell(runtime, missing, tmp_path)
    assert r.returncode != 0 and r.stdout == ""
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith(f"RuntimeError: labvae could not be installed from {missing}: ") and last.endswith(".")
    assert last.count(". ") == 0, f"one sentence, please: {last!r}"
    assert "fatal" not in r.stderr and "ERROR" not in r.stderr, f"git's and pip's own errors leak out:\n{r.stderr}"
    assert freeze(runtime) == before
