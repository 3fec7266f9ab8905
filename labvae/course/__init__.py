"""For instructors: the exercises, their self-checks and reference answers, the student edition, grading.

Rooms: exercises (the registry: key, notebook, marks, check), checking (how a check calls student code
and reports one line), checks (one check per exercise; ae_check for the retrained AE), guard (answers that
call labvae's own solution), probe (a known decoder the sweep checks use),
reference (labvae's own answers, the fallback), student (the student edition), grade/ (headless marking).
"""
