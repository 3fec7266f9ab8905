"""nbgrader settings for the lab: `python -m labvae course DIR --handout URL` copies it into the course folder DIR."""

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
    """The hand-out repository the course folder records (labvae-course.json, `python -m labvae course`):
    never the solutions' repository, nor whichever labvae checkout is installed (see the block at the end)."""
    from labvae.course.grade.course import recorded_handout

    return recorded_handout()


class StudentBadge(NbGraderPreprocessor):
    """Badge and setup cell of a released notebook: the hand-out repository the course folder records."""

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


# ---- labvae course folder (issue 31) -------------------------------------------------------------------
# Read from labvae-course.json in the course folder (`python -m labvae course DIR --handout URL`): the
# course id, the exchange DIR/exchange (release works as any user, and never writes /usr/local/share), and
# the kernels' LABVAE_SMOKE, LABVAE_DATA and LABVAE_CHECKPOINTS (the warmed checkpoints); a variable you set
# yourself wins and one line says so. generate_assignment and release_assignment refuse, in one sentence,
# where no hand-out address is recorded; autograde names each renamed notebook (labvae grade refuses it too).
from labvae.course.grade.course import nbgrader_settings  # noqa: E402

nbgrader_settings(c)
# ---- end of the labvae course folder block -----------------------------------------------------------
