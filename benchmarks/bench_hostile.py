"""The grader's own peak memory over a hostile class (issue 24), in smoke mode, in the sandbox.

The class: three honest students (the solution notebooks, all four) and one student per attack that
aims at the grader rather than the sandbox, each handing in 02_vae_sweep.ipynb:
  * braces:  31 MB of `{}` (10 million objects; issue 24's 61 MB one is past the byte cap outright);
  * cells:   900,000 cells (29 MB);
  * fifo:    a FIFO named 02_vae_sweep.ipynb;
  * comms:   the student edition plus a cell sending 40 widget (comm) messages with 15 MB buffers;
  * printer: 200 MB printed;
  * files:   20,000 files written into its run folder (the disk quota stops it);
  * filler:  3 GB written into its run folder (the disk quota stops it);
  * memfd:   1 GiB held in a memfd (a cgroup, where there is one, bounds it);
  * planter: ipykernel_launcher.py and a set-uid script planted in its run folder;
  * exiter:  the solution notebook ending in exit().
The grader runs in this process (`grade.grade`, --jobs 2, --work kept), so its peak resident memory
is this process's VmHWM; the kernels are other processes and do not count. The class is written by
a child process first, so the peak before grading is the grader's imports alone (torch among them). Also printed: the marks
of the honest students (4 of 4 each) and what each attacker's rows say.

Target: grading the class adds at most 512 MB to the grader's peak RSS (issue 24 saw 10.5 GB and 21 GB
added by one notebook, 2.9 GB by the comm messages).

    python benchmarks/bench_hostile.py
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from common import cpu_model  # noqa: E402  benchmarks/common.py, beside this script

TARGET = 512 << 20  # bytes the class may add to the grader's peak RSS
ROOT = Path(__file__).resolve().parents[1]
LAB = ("01_training", "02_vae_sweep", "03_ae_sweep", "04_comparison")
ATTACKS = {
    "comms": "from comm import create_comm\nfor _ in range(40):\n"
             "    create_comm(target_name='jupyter.widget', data={}, buffers=[bytes(15 << 20)])",
    "printer": "for _ in range(200):\n    print('x' * (1 << 20))",
    "files": "import os\nos.makedirs('many', exist_ok=True)\nfor i in range(20000):\n    open(f'many/{i}', 'w').close()",
    "filler": "with open('big', 'wb') as f:\n    for _ in range(3000):\n        f.write(bytes(1 << 20))",
    "memfd": "import os\nfd = os.memfd_create('x')\nfor _ in range(1024):\n    os.write(fd, bytes(1 << 20))",
    "planter": "import os\nopen('ipykernel_launcher.py', 'w').write('import os; os._exit(3)')\n"
               "open('run.sh', 'w').write('#!/bin/sh\\n')\nos.chmod('run.sh', 0o6755)",
}


def vm(field: str) -> int:
    return int(re.search(rf"{field}:\s+(\d+)", Path("/proc/self/status").read_text())[1]) << 10


def make_class(subs: Path) -> None:
    for student in ("honest1", "honest2", "honest3"):
        (subs / student).mkdir(parents=True)
        for stem in LAB:
            shutil.copy(ROOT / "notebooks" / f"{stem}.ipynb", subs / student)
    for student in ("braces", "cells", "fifo", "exiter", *ATTACKS):
        (subs / student).mkdir()
    target = "02_vae_sweep.ipynb"
    (subs / "braces" / target).write_text("[" + "{}," * 10_000_000 + "{}]")
    cells = ",".join(['{"cell_type":"raw","source":""}'] * 900_000)
    (subs / "cells" / target).write_text(f'{{"nbformat":4,"nbformat_minor":5,"metadata":{{}},"cells":[{cells}]}}')
    os.mkfifo(subs / "fifo" / target)
    nb = nbformat.read(ROOT / "notebooks" / target, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("exit()"))
    nbformat.write(nb, subs / "exiter" / target)
    for student, cell in ATTACKS.items():
        nb = nbformat.read(ROOT / "notebooks" / "student" / target, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(cell))
        nbformat.write(nb, subs / student / target)


def main() -> int:
    if sys.argv[1:2] == ["--make"]:  # the child that writes the class: its memory is not the grader's
        make_class(Path(sys.argv[2]))
        return 0
    from labvae.course import grade
    from labvae.course.grade.sandbox import available

    why = available()
    if why is not None:
        print(f"no sandbox here ({why}); the hostile class is graded only in one")
        return 1
    print(f"{cpu_model()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (near 0 = a quiet machine)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run([sys.executable, __file__, "--make", str(tmp / "subs")], check=True)
        before, lines = vm("VmHWM"), []
        t0 = time.perf_counter()
        grade.grade([tmp / "subs"], tmp / "grades.csv", smoke=True, jobs=2, work=tmp / "work", say=lines.append)
        seconds, peak = time.perf_counter() - t0, vm("VmHWM")
        with open(tmp / "grades.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        executed = sorted(str(p.relative_to(tmp / "work")) for p in (tmp / "work" / "executed").rglob("*") if p.is_file())
        run_sizes = {s: sum(p.stat().st_size for p in (tmp / "work" / "runs" / s).rglob("*") if p.is_file()) >> 20
                     for s in ("files", "filler", "memfd") if (tmp / "work" / "runs" / s).is_dir()}
    marks = {}
    for r in rows:
        marks[r["student"]] = marks.get(r["student"], 0.0) + float(r["points"] or 0)
    print("\n".join(line for line in lines if line.startswith("  ")))
    print("\nper attacker (first row's message):")
    for student in ("braces", "cells", "fifo", "exiter", *ATTACKS):
        r = next(r for r in rows if r["student"] == student and r["notebook"] == "02_vae_sweep"
                 and r["exercise"] == "1_1-grid")
        print(f"  {student:<9}{r['status']:<10}{r['message'][:110]}")
    print(f"\nrun folders (MB): {json.dumps(run_sizes)}; files under WORK/executed: "
          f"{len(executed)}, all .ipynb: {all(e.endswith('.ipynb') for e in executed)}")
    honest = {s: marks[s] for s in ("honest1", "honest2", "honest3")}
    print(f"honest students' automatic marks: {honest} (4 each expected); {seconds:.0f} s in all")
    print(f"grader peak RSS (VmHWM): {peak / 2**20:.0f} MB; before grading (its imports): {before / 2**20:.0f} MB")
    ok = peak - before < TARGET and all(m == 4.0 for m in honest.values())
    print(f"{'PASS' if ok else 'FAIL'}: the class added {(peak - before) / 2**20:.0f} MB to the grader's peak "
          f"(target < {TARGET >> 20} MB); honest marks {'intact' if ok or peak - before >= TARGET else 'WRONG'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
