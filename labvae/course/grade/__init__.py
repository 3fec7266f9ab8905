"""Headless grading of students' notebooks: `python -m labvae grade`.

Rooms: submissions (whose notebook is which), limits (reading an untrusted notebook under caps),
warm (the checkpoints the notebooks load, trained once before any kernel), runner (one notebook in
a fresh kernel, then its checks), verdicts (checks decided in the grader on
outputs the kernel sends), kernel (that kernel: started, output capped, killed), sandbox (bubblewrap
around it), confine (its seccomp filter and cgroups), runfolder (its run folder: quota, made inert
after), text (student-made text made inert: one escaped form, cut, Markdown-escaped), report (the CSV,
the written answers, the summary), answers (the written answers kept
across runs), marking (model answer, rubric and the
student's own numbers beside each written answer), gradebook (merging re-grades, hand marks, the
marks file, `labvae gradebook`), feedback (per-student feedback, the export, the class summary,
lateness), similarity (the copying report), keep (results kept when they cannot be written),
command (the whole run and its CLI), nbroute (the nbgrader route: autograde's kernels in the same
sandbox, formgrader's and feedback's HTML made inert; nbgrader_config.py calls its configure), course
(the course folder's settings, `labvae course`, and what nbgrader_config.py reads from them),
lms (`collect`: an LMS's bulk download into submitted/, who and when in submitted/.lms.json),
lms_export (`export`: marks as Moodle's and Canvas's grade imports).
"""

from .command import add_parser, grade, main
from .report import COLUMNS, answers_path
from .runner import CHECK_TIMEOUT, DEFAULT_TIMEOUT, NotebookResult, run_notebook
from .submissions import GradeError, Refused, collect, lab_notebook

__all__ = ["CHECK_TIMEOUT", "COLUMNS", "DEFAULT_TIMEOUT", "GradeError", "NotebookResult", "Refused", "add_parser",
           "answers_path", "collect", "grade", "lab_notebook", "main", "run_notebook"]
