"""nbgrader settings for the lab: copy this file to your course directory's root (README, "Marking with nbgrader")."""

from nbgrader.converters import GenerateAssignment
from nbgrader.preprocessors import NbGraderPreprocessor

c = get_config()  # noqa: F821 (nbgrader's config loader provides get_config)

# The solutions' .py twins (they hold the answers), jupytext's settings and the generated student
# edition stay out of release/: only the notebooks (and nbgrader's own ignores) are released.
# Nor what running the solutions left beside them: results/ holds the trained lab AE (ae.pt, the
# answer to 2.1a: loading it passes the check) and the expected sweeps (vae_grid.png, ae_grid.png).
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback",
                            "*.py", "jupytext.toml", "student", "results", "results-smoke", "*.pt", "*_grid.png"]
# The lesson notebooks 01-05 are the assignment; 06_appendix (the judge and the claims' verdicts, which
# answer Exercise 2.2) is instructors' only: never released, never collected.
c.CourseDirectory.notebook_id = "0[1-5]_*"

# The predictions (0 marks) are plain markdown cells tagged with their key, not nbgrader grade cells, so
# no student needs a manual grade for them; their solution region is still replaced on release. Our own
# `python -m labvae student` keeps the strict rule for everything else (a code solution region outside a
# solution cell is refused), and a test compares the release with its student edition cell by cell.
c.ClearSolutions.enforce_metadata = False

# Seconds per cell when autograde runs a notebook (nbgrader's default is 30). With the checkpoints warmed
# ($LABVAE_CHECKPOINTS, docs/instructors.md) only the student's own train_ae trains: 13-33 s measured at
# full scale on 2 cores, by load; 300 s leaves ten times that, and bounds a cell that never ends.
c.Execute.timeout = 300

# Students' code is untrusted: autograde runs each student's kernel in the sandbox `labvae grade` uses
# (only autograded/STUDENT/lab8/ writable, none of gradebook.db, the other submissions, your home or
# environment in view, the same limits), and formgrader's and generate_feedback's HTML has student-made
# scripts and active content removed. Where no sandbox starts, autograde stops and says why; only if you
# trust every submission, write configure(c, trust_submissions=True) (docs/instructors.md).
from labvae.course.grade.nbroute import configure  # noqa: E402 (after get_config, as nbgrader's examples)

configure(c)


def _handout():
    """The recorded hand-out repository: the course directory's pyproject.toml, else labvae's checkout's."""
    from pathlib import Path

    from labvae.course.editions import colab

    for pyproject in (Path.cwd() / "pyproject.toml", Path(colab.__file__).resolve().parents[2] / "pyproject.toml"):
        if colab.recorded_handout(pyproject):
            return colab.recorded_handout(pyproject)
    return None


class StudentBadge(NbGraderPreprocessor):
    """Badge and setup cell of a released notebook as in notebooks/student/: the hand-out repository when
    pyproject.toml records one ([tool.labvae] handout), else the solutions' notebooks/student/."""

    def preprocess(self, nb, resources):
        from labvae.course.editions.marks import stamp_cell
        from labvae.course.editions.student import link_source

        handout = _handout()
        for index, cell in enumerate(nb.cells):
            cell.source = link_source(cell.source, index == 0, handout)
            stamp_cell(cell)  # the marks of labvae.course.checks.exercises.MARKS, in text and points
        return nb, resources


class DropSolutionOnly(NbGraderPreprocessor):
    """Cells tagged solution-only (explanations that answer a marked exercise) stay in the solutions."""

    def preprocess(self, nb, resources):
        nb.cells = [c for c in nb.cells if "solution-only" not in c.get("metadata", {}).get("tags", [])]
        return nb, resources


c.GenerateAssignment.preprocessors = [DropSolutionOnly, StudentBadge, *GenerateAssignment.class_traits()["preprocessors"].default()]
