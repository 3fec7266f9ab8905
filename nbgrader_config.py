"""nbgrader settings for the lab: copy this file to your course directory's root (README, "Marking with nbgrader")."""

import re

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

# Seconds per cell when autograde runs a notebook (nbgrader's default is 30). The cells that train
# (notebook 1, and the student's train_ae in notebook 3) need more in real mode; see README.
c.Execute.timeout = 30


class StudentBadge(NbGraderPreprocessor):
    """The Colab badge of a released notebook opens the student edition, as in notebooks/student/."""

    def preprocess(self, nb, resources):
        if nb.cells:
            first = nb.cells[0]
            first.source = re.sub(r"(/blob/main/notebooks/)([0-9][0-9]_\w+\.ipynb\))", r"\1student/\2", first.source)
        return nb, resources


class DropSolutionOnly(NbGraderPreprocessor):
    """Cells tagged solution-only (explanations that answer a marked exercise) stay in the solutions."""

    def preprocess(self, nb, resources):
        nb.cells = [c for c in nb.cells if "solution-only" not in c.get("metadata", {}).get("tags", [])]
        return nb, resources


c.GenerateAssignment.preprocessors = [DropSolutionOnly, StudentBadge, *GenerateAssignment.class_traits()["preprocessors"].default()]
