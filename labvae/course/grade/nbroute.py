"""The nbgrader route, sandboxed: autograde's kernels run as `labvae grade`'s do; what formgrader shows is inert.

nbgrader_config.py calls configure(c). nbgrader 0.9.6's Execute sets its kernel manager class in its
__init__, which overrides any config, so autograde gets SandboxedExecute, whose kernel manager is a
SandboxKernelManager that takes its run folder (autograded/STUDENT/ASSIGNMENT/, the kernel's cwd) when
the kernel starts: only that folder writable, held to the disk quota, made inert after. The HTML
exporter of formgrader and generate_feedback gets Inert: student-made scripts, event handlers,
javascript: links and active output types are removed before any template renders them.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from contextlib import ExitStack
from pathlib import Path

from nbconvert.preprocessors.sanitize import SanitizeHTML
from nbgrader.preprocessors import Execute

from .kernel import MESSAGE_CAP
from .runfolder import Quota, held, make_inert
from .runner import PACKAGE
from .sandbox import NOBODY, Sandbox, SandboxKernelManager, available

TRUST_SETTING = "configure(c, trust_submissions=True)"
# What the grader's environment lends a kernel: the lab's mode and threads, and nbgrader's own flag.
PASSED = ("LABVAE_SMOKE", "LABVAE_PRECISION", "OMP_NUM_THREADS", "NBGRADER_EXECUTION")
PRIVATE_CACHE = "/tmp/labvae-cache"  # in the sandbox's own /tmp: what a kernel trains there dies with it


class RunFolderError(RuntimeError):
    """The folder nbgrader runs a kernel in is not one student's."""


def refused(course: Path, run: Path) -> str:
    """Why run cannot be a student's run folder in course, or ""."""
    if run == course or course.is_relative_to(run) or (run / "gradebook.db").exists():
        return (f"labvae will not run a student's kernel in {run}: that folder holds the course (its gradebook and "
                "every submission), not one student's notebooks.")
    return ""


def kernel_sandbox(run: Path, course: Path) -> Sandbox:
    """The sandbox of one autograde kernel: run writable; labvae, the data and warmed checkpoints read-only."""
    from ...data import cache_dir, data_root

    env = {k: os.environ[k] for k in PASSED if k in os.environ}
    env |= {"LABVAE_CACHE": PRIVATE_CACHE, "PYTHONPATH": str(PACKAGE.parent)}  # labvae alone of that folder is bound
    ro = [PACKAGE]
    data = data_root()
    if (data / "FashionMNIST").is_dir():  # the data only, not what lies beside it
        env["LABVAE_DATA"] = str(data)
        ro.append(data / "FashionMNIST")
    # Checkpoints a notebook may load, read-only: $LABVAE_CHECKPOINTS, and those the grader's own cache
    # holds for this mode (the warm-up's); a kernel that must train writes into its private cache only.
    smoke = os.environ.get("LABVAE_SMOKE", "0") not in ("", "0")
    mine = cache_dir() / ("results-smoke" if smoke else "results-nbgrader")
    shared = [Path(p) for p in os.environ.get("LABVAE_CHECKPOINTS", "").split(os.pathsep) if p] + [mine]
    shared = [p.resolve() for p in shared if p.is_dir()]
    env["LABVAE_CHECKPOINTS"] = os.pathsep.join(map(str, shared))
    ro += shared
    # The course (gradebook.db, every submission) and your home, should a bound folder hold them
    seen = [Path(os.path.realpath(p)) for p in (*ro, Path(sys.executable).parent.parent)]
    hidden = [p for p in (course, Path.home().resolve()) if any(p.is_relative_to(r) for r in seen)]
    return Sandbox(run, ro=ro, hidden=hidden, env=env, uid=NOBODY, gid=NOBODY)


class RunFolderKernelManager(SandboxKernelManager):
    """A sandboxed kernel whose run folder is the cwd nbclient starts it in (autograded/STUDENT/ASSIGNMENT/)."""

    async def start_kernel(self, **kwargs) -> None:
        root = self.config.CourseDirectory.get("root") or os.getcwd()  # --CourseDirectory.root, else nbgrader's cwd
        course, run = Path(root).resolve(), Path(kwargs.get("cwd") or os.getcwd()).resolve()
        if why := refused(course, run):
            raise RunFolderError(why)
        self.run_dir, self.quota, self._stack = run, Quota(run, self.kill), ExitStack()
        seed = run.with_name(run.name + ".labvae-seed")
        try:
            if os.geteuid() == 0:  # a tmpfs at the quota: autograde's files for this student copied in
                shutil.rmtree(seed, ignore_errors=True)
                run.rename(seed)
                self._stack.enter_context(held(run))
                shutil.copytree(seed, run, symlinks=True, dirs_exist_ok=True)
                shutil.rmtree(seed)
            self._stack.callback(make_inert, run)  # no FIFO, set-uid or execute bit for nbgrader or you to meet
            self._stack.enter_context(self.quota)
            self.use(kernel_sandbox(run, course))
            await super().start_kernel(**kwargs)
        except BaseException:
            self._stack.close()
            if seed.is_dir():  # autograde's files as they were, whatever failed on the way
                shutil.rmtree(run, ignore_errors=True)
                seed.rename(run)
            raise

    def client(self, **kwargs):
        """A client whose sockets refuse any message part over MESSAGE_CAP (as `labvae grade`'s)."""
        import zmq

        kc = super().client(**kwargs)
        kc.context.setsockopt(zmq.MAXMSGSIZE, MESSAGE_CAP)
        return kc

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart and getattr(self, "_stack", None) is not None:
            self._stack.close()  # stop watching, make inert, copy the tmpfs back to disk
            self._stack = None
            if self.quota.exceeded:
                self.log.warning("labvae: %s was stopped: %s", self.run_dir, self.quota.exceeded)

    cleanup_resources = _async_cleanup_resources


class SandboxedExecute(Execute):
    """nbgrader's Execute with each kernel in labvae's sandbox (its __init__ would set AsyncKernelManager)."""

    def __init__(self, *args, **kwargs):
        kwargs["kernel_manager_class"] = RunFolderKernelManager
        super().__init__(*args, **kwargs)


class Inert(SanitizeHTML):
    """SanitizeHTML, and markdown rendered then cleaned: a `[x](javascript:...)` link keeps no target."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "markdown":
            from nbconvert.filters import markdown2html

            cell.source = self.sanitize_html_tags(markdown2html(cell.source))  # bleach keeps http(s) and mailto
            return cell, resources
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if cell.cell_type == "code":
            cell.metadata.pop("widgets", None)
        return cell, resources

    def preprocess(self, nb, resources):
        nb.metadata.pop("widgets", None)  # widget state: rendered as script by the templates
        return super().preprocess(nb, resources)


@functools.cache
def _why() -> str | None:
    return available()


def refuse_unsandboxed(**_) -> None:
    """autograde's pre-convert hook: stop, in one sentence, before any student's kernel where no sandbox starts."""
    if (why := _why()) is not None:
        raise SystemExit(f"labvae: nbgrader autograde runs students' kernels in a sandbox, and none is available here: "
                         f"{why.rstrip('.')}; only if you trust every submission, write {TRUST_SETTING} in "
                         "nbgrader_config.py.")


def configure(c, trust_submissions: bool = False) -> None:
    """Set nbgrader's config c: autograde's kernels sandboxed (unless trusted), formgrader's and feedback's HTML
    inert, the figures autograde keeps and feedback shows in fewer bytes, no widget state kept."""
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import GetGrades

    from .figures import SmallerFigures

    steps = Autograde.class_traits()["autograde_preprocessors"].default()
    if not trust_submissions:
        steps = [SandboxedExecute if s is Execute else s for s in steps]
        c.Autograde.pre_convert_hook = refuse_unsandboxed
    c.Autograde.autograde_preprocessors = [*steps, SmallerFigures]  # autograded/ keeps every figure, in fewer bytes
    c.Execute.store_widget_state = False  # a third of autograded/ at full scale; formgrader, feedback show none
    c.HTMLExporter.sanitize_html = True  # the templates' own cleaning of outputs, and no widget scripts
    c.HTMLExporter.preprocessors = [Inert]  # formgrader's exporter (generate_feedback resets its own: below)
    c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, Inert, SmallerFigures]
