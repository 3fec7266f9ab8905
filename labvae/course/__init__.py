"""For instructors: three rooms.

checks/    the exercises and their self-checks: the registry, how a check calls student code, the
           checks themselves, the guard against labvae's own answers, the fallbacks later cells use
editions/  what goes to students: the student edition, the hand-out repository, Colab badges and setup
grade/     headless marking of a class: submissions, sandboxed kernels, verdicts, marks and reports

The lab's model answers are not here: they live with the solutions (solutions/reference.py, the
solution notebooks), outside the package students install.
"""
