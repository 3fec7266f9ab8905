"""For instructors: the exercises, their self-checks and fallbacks, the student edition, grading.

Rooms: exercises (the registry: key, notebook, marks, check), checking (how a check calls student code,
in two halves, collect and verdict, and reports one line), checks (the notebooks' entry: formula_checks
for 01, sweep_checks for 02 and 03, ae_check for the retrained AE), guard (answers that call labvae's
own solution), probe (a known decoder the sweep checks use), fallbacks (torch's and labvae's own
functions the later cells use until an answer passes), student (the student edition), grade/ (headless
marking). The lab's model answers are not here: they live with the solutions (solutions/reference.py,
the solution notebooks), outside the package students install.
"""
