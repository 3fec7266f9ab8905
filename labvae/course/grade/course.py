"""The course folder: `python -m labvae course DIR --handout URL` makes it; grade, gradebook and nbgrader read it.

DIR/labvae-course.json records the course id, the hand-out address, the due date, the mode (smoke or
real), the data and the grading folder once; every later command run in DIR reads it, and a flag given
on the command line wins for that run, saying so in one line. DIR also holds nbgrader's config (the
solutions' nbgrader_config.py, which reads the same file), source/lab8/ and the exchange.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from ..._io import atomic_write
from .submissions import GradeError

SETTINGS = "labvae-course.json"
ASSIGNMENT = "lab8"
OUT = "labvae-grades.csv"  # `nbgrader export` writes grades.csv in the same folder: never the same file
WORK = "grading"  # executed notebooks, run folders and the warmed checkpoints, inside the course folder
_SAID: set = set()  # the renamed-notebook lines already printed in this process
RELEASING = ("generate_assignment", "release_assignment", "release")  # nbgrader commands that send the address


def load(folder: Path | None = None) -> dict:
    """The settings recorded in folder (default: the current one); {} where there is no course folder."""
    path = Path(folder or Path.cwd()) / SETTINGS
    if not path.is_file():
        return {}
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise GradeError(f"{path} cannot be read ({e}); fix it or run `python -m labvae course` again.") from None
    if not isinstance(settings, dict):
        raise GradeError(f"{path} is not a labvae course settings file; run `python -m labvae course` again.")
    return settings


def checkpoints(folder: Path, settings: dict) -> Path:
    """Where `grade --warm-only` in folder leaves the checkpoints: smoke mode keeps them in its cache."""
    warm = (Path(folder) / settings.get("work", WORK)).resolve() / "warm"
    return warm / "cache" / "results-smoke" if settings.get("smoke") else warm / "results"


def fill(args, settings: dict, say=print) -> None:
    """Set each option not given from the course's settings; a flag that differs says in one line that it wins."""
    from .feedback import parse_time

    recorded = {"due": parse_time(settings["due"]) if settings.get("due") else None,
                "smoke": bool(settings.get("smoke")), "data": settings.get("data"),
                "work": Path(settings.get("work", WORK)) if settings else None}
    for name, value in recorded.items():
        if not hasattr(args, name):
            continue
        given = getattr(args, name)
        if given is None:
            setattr(args, name, value)
        elif settings and value is not None and given != value:
            say(f"--{name} {_text(given)} overrides the course's {_text(value)} ({SETTINGS}) for this run")
    if hasattr(args, "smoke") and args.smoke is None:
        args.smoke = False
    if getattr(args, "out", "") is None:
        args.out = Path(OUT) if Path(OUT).exists() or not Path("grades.csv").exists() or settings else Path("grades.csv")


def _text(value) -> str:
    return value.isoformat(" ") if hasattr(value, "isoformat") else str(value)


def add_parser(sub) -> None:
    """The `course` subcommand: make (or update) a course folder for both routes."""
    import argparse

    from .feedback import due_date

    p = sub.add_parser("course", help="make the course folder both routes share: nbgrader config, hand-out, due date, data",
                       description="Make DIR (or update it): labvae-course.json with the course id, the hand-out "
                                   "address, the due date, the mode and the data; nbgrader_config.py (the solutions' "
                                   "own, which reads that file: course id, exchange DIR/exchange, kernels' settings); "
                                   "source/lab8/ (the lesson notebooks with their solutions). Run it in the solutions' "
                                   "repository's root; then run every later command in DIR. Given again, it changes "
                                   "only the settings named.")
    p.add_argument("folder", type=Path, metavar="DIR", help="the course folder (new, or one made by this command)")
    p.add_argument("--handout", metavar="URL", help="the hand-out repository students open (nbgrader's release "
                   "points the notebooks there, and refuses without one)")
    p.add_argument("--due", type=due_date, metavar="WHEN", help="the due date, e.g. '2027-03-01 17:00' (UTC unless a "
                   "zone is given): for nbgrader's gradebook and labvae grade's late flags")
    p.add_argument("--smoke", action=argparse.BooleanOptionalAction, default=None,
                   help="smoke mode (small generated data, a dry run) or --no-smoke, real mode (the default)")
    p.add_argument("--data", metavar="ROOT", help="folder holding FashionMNIST/raw/ (real mode)")
    p.add_argument("--course-id", metavar="ID", help="nbgrader's course id (default: the folder's name)")
    p.add_argument("--notebooks", type=Path, default=Path("notebooks"),
                   help="folder holding the solution notebooks (default: notebooks)")
    p.set_defaults(run=make)


def make(args) -> dict:
    """Write or update the course folder; return its settings."""
    from ..editions import colab
    from ..editions.student import lesson_notebooks

    folder = args.folder.expanduser().resolve()
    config = args.notebooks.resolve().parent / "nbgrader_config.py"
    sources = lesson_notebooks(args.notebooks)
    if not sources or not config.is_file():
        raise GradeError(f"no lesson notebooks in {args.notebooks} or no nbgrader_config.py beside it; run "
                         "`python -m labvae course` in the solutions' repository's root (or pass --notebooks).")
    if folder.exists() and not folder.is_dir():
        raise GradeError(f"{folder} is a file; give a folder for the course.")
    settings = load(folder) if folder.is_dir() else {}
    if folder.is_dir() and not settings and any(folder.iterdir()):
        raise GradeError(f"{folder} is not empty and holds no {SETTINGS}; give a new or empty folder.")
    if args.data is not None and not (Path(args.data).expanduser() / "FashionMNIST" / "raw").is_dir():
        raise GradeError(f"--data {args.data} holds no FashionMNIST/raw/; give the folder that does.")
    new = {"course_id": args.course_id or settings.get("course_id") or _course_id(folder.name),
           "assignment": ASSIGNMENT, "work": settings.get("work", WORK)}
    if args.handout is not None:
        new["handout"] = colab.canonical(args.handout)  # one sentence when it is not an address students can open
    elif not settings.get("handout") and colab.recorded_handout(colab.pyproject_beside(args.notebooks)):
        new["handout"] = colab.recorded_handout(colab.pyproject_beside(args.notebooks))  # `handout` recorded it
        print(f"hand-out {new['handout']}: the one `python -m labvae handout` recorded in pyproject.toml")
    if args.due is not None:
        new["due"] = args.due.isoformat()
    if args.smoke is not None:
        new["smoke"] = args.smoke
    if args.data is not None:
        new["data"] = str(Path(args.data).expanduser().resolve())
    settings = {"smoke": False, **settings, **new}
    (folder / "source" / ASSIGNMENT).mkdir(parents=True, exist_ok=True)
    if settings.get("due"):  # first: where nbgrader's gradebook cannot be written, nothing else is
        _nbgrader_due(folder, settings)
    exchange = folder / "exchange"
    exchange.mkdir(exist_ok=True)
    exchange.chmod(0o1777)  # nbgrader's exchange: every user may hand in, none may remove another's files
    wrote = [folder / SETTINGS]
    atomic_write(folder / SETTINGS, lambda f: f.write((json.dumps(settings, indent=2) + "\n").encode()))
    if not (folder / "nbgrader_config.py").exists():
        shutil.copy(config, folder / "nbgrader_config.py")
        wrote.append(folder / "nbgrader_config.py")
    for nb in sources:  # an instructor's later edit of source/lab8/ is kept
        if not (folder / "source" / ASSIGNMENT / nb.name).exists():
            shutil.copy(nb, folder / "source" / ASSIGNMENT / nb.name)
            wrote.append(folder / "source" / ASSIGNMENT / nb.name)
    print(f"wrote {', '.join(str(p.relative_to(folder)) for p in wrote)} in {folder}")
    print(describe(folder, settings))
    return settings


def _course_id(name: str) -> str:
    """nbgrader's course id from a folder name: letters, digits, - and _ only."""
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "-" for ch in name).strip("-") or "course"


def _nbgrader_due(folder: Path, settings: dict) -> None:
    """Record the due date in nbgrader's gradebook, as `nbgrader db assignment add --duedate` would."""
    from datetime import timezone

    from nbgrader.api import Gradebook

    from .feedback import parse_time

    due = parse_time(settings["due"]).astimezone(timezone.utc).replace(tzinfo=None)  # nbgrader keeps naive UTC
    bin_dir = str(Path(sys.executable).parent)  # nbgrader runs `alembic` from PATH: this environment's, unactivated
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
    with Gradebook(f"sqlite:///{folder / 'gradebook.db'}", course_id=settings["course_id"]) as gb:
        gb.update_or_create_assignment(ASSIGNMENT, duedate=due)


def describe(folder: Path, settings: dict) -> str:
    """What the course folder records, and what that means for the next steps, in a few lines."""
    handout = settings.get("handout") or "NONE (nbgrader's release refuses: run `python -m labvae course DIR --handout URL`)"
    return "\n".join([
        f"course {settings['course_id']}, assignment {ASSIGNMENT}: {'smoke' if settings.get('smoke') else 'real'} mode, "
        f"data {settings.get('data') or ('generated' if settings.get('smoke') else '$LABVAE_DATA')}",
        f"  hand-out: {handout}",
        f"  due: {settings.get('due') or 'none recorded (no late flags)'}",
        f"  checkpoints, once warmed (`python -m labvae grade --warm-only` in {folder.name}): "
        f"{checkpoints(folder, settings)}"])


def nbgrader_settings(c, argv=None, folder: Path | None = None) -> None:
    """For nbgrader_config.py: the course id, the exchange and the kernels' settings from labvae-course.json.

    Refuses (SystemExit, one sentence) to release without a recorded hand-out address."""
    argv = sys.argv if argv is None else argv
    folder = Path(folder or Path.cwd()).resolve()
    settings = load(folder)
    releasing = any(a in RELEASING for a in argv[1:3])
    if releasing and not settings.get("handout"):
        raise SystemExit(f"labvae: no hand-out address is recorded in {folder / SETTINGS}, so nothing is released; "
                         "run `python -m labvae course DIR --handout URL` (in the solutions' repository) first.")
    if not settings:
        return
    c.CourseDirectory.course_id = settings["course_id"]
    c.Exchange.root = str(folder / "exchange")
    env = {"LABVAE_SMOKE": "1" if settings.get("smoke") else "0",
           "LABVAE_CHECKPOINTS": str(checkpoints(folder, settings))}
    if settings.get("data"):
        env["LABVAE_DATA"] = settings["data"]
    for key, value in env.items():  # the kernels autograde and validate start inherit nbgrader's environment
        if os.environ.get(key, value) != value:
            line = f"labvae: {key}={os.environ[key]} from your environment overrides the course's {value} ({SETTINGS})"
            if line not in _SAID:
                _SAID.add(line)
                print(line, file=sys.stderr)
        else:
            os.environ[key] = value
    if any(a == "autograde" for a in argv[1:3]):
        from .submissions import misnamed

        for line in misnamed(folder / "submitted", ASSIGNMENT):
            if line not in _SAID:  # nbgrader loads its config once per app it starts: say each once
                _SAID.add(line)
                print(f"labvae: {line}", file=sys.stderr)


def recorded_handout(folder: Path | None = None) -> str | None:
    """The hand-out address the course folder records (None where there is none)."""
    return load(folder).get("handout")
