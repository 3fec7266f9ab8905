"""Hand-in from an LMS: Moodle's and Canvas's bulk downloads into submitted/STUDENT/, with who and when.

`python -m labvae collect ZIP --out submitted` reads the zip as untrusted input (bounded entries, sizes
and ratios; no absolute paths, `..`, links or hidden names) and writes each student's files into a folder
named by their LMS identity. What the LMS says about each student (name, LMS id, submission time or late
flag) goes into one class-level file the instructor's tool writes, submitted/.lms.json (RECORD), never into
a student's folder; `grade` reads the submission time from it (recorded_time), so `--due` flags late work.

The names relied on (no LMS documents them as a format; these are what their code writes):
- Moodle, mod/assign/locallib.php download_submissions(): "Full Name_PARTICIPANT_assignsubmission_file_"
  as a folder (the default since Moodle 3.1) or as a prefix of each file name; underscores in the full name
  become spaces, PARTICIPANT is the assignment's participant id (not the user's ID number), and a blind-marked
  assignment writes "Participant" as the name. The zip holds no time: Moodle's grading worksheet (Download
  grading worksheet) has it, "Last modified (submission)", beside "Identifier" (Participant N) and the email.
- Canvas, the assignment's "Download Submissions" zip: "lastfirst_USERID_ATTACHMENTID_name" per file, with
  "_LATE" (or "_late") after the name when Canvas judged it late, and "-1", "-2" appended to a file name
  Canvas saw twice. It holds no submission time (Canvas cannot export one in bulk:
  github.com/ssardina-teaching/canvas-submission-time-scraper), so only the LATE flag is recorded.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
import zipfile
from datetime import timezone
from pathlib import Path

from ..._io import atomic_write
from .submissions import LATE, GradeError

TIMESTAMP = "timestamp.txt"  # nbgrader's, beside the notebooks: grade and autograde read the submission time there
RECORD = ".lms.json"  # in submitted/: written by `collect` only; hidden, so `grade` never takes it for a student
MAX_ENTRIES = 20_000  # 150 students x a few files each, with room; a zip past it is not a class's hand-in
MAX_FILE = 32 << 20  # the grader reads no notebook over 32 MB (limits.py) either
MAX_TOTAL = 2 << 30  # the whole class, unpacked
MAX_RATIO = 200  # a notebook compresses 3-10x; a far higher ratio is a zip bomb
MOODLE = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<file>.*)$")
CANVAS = re.compile(r"^(?P<name>[^_/]+?)(?P<late>_late)?_(?P<id>\d+)_\d+_(?P<file>[^/]+)$", re.I)
DUPLICATE = re.compile(r"^(?P<stem>.+?)-\d+(?P<ext>\.ipynb)$")  # Canvas's "-1" on a file name seen twice


def safe(name: str) -> str:
    """A folder name of ASCII letters, digits, '.', '-' and '_' only (the LMS's own name stays in RECORD)."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", name).strip("._-")[:60] or "student"


def _refuse_entry(info: zipfile.ZipInfo) -> str:
    """Why an entry is not unpacked ('' when it may be): one sentence each."""
    name = info.filename
    parts = name.replace("\\", "/").split("/")
    if stat.S_ISLNK(info.external_attr >> 16):
        return f"{name!r} is a symbolic link, which is never unpacked."
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts:
        return f"{name!r} points outside the folder (an absolute path or '..'), so it was not unpacked."
    if any(p.startswith(".") for p in parts if p) or "__MACOSX" in parts:
        return f"{name!r} is hidden (a part of its path starts with a dot), so it was not unpacked."
    if any(ord(c) < 32 for c in name):
        return f"{name!r} has control characters in its name, so it was not unpacked."
    if info.file_size > MAX_FILE:
        return f"{name!r} is {info.file_size >> 20} MB unpacked, over the {MAX_FILE >> 20} MB a notebook may be."
    if info.file_size > (1 << 20) and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        return f"{name!r} unpacks {info.file_size // max(info.compress_size, 1)}x its packed size (a zip bomb?)."
    return ""


def _read(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """An entry's bytes, never more than MAX_FILE whatever its header claims."""
    with z.open(info) as f:
        data = f.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        raise ValueError(f"{info.filename!r} unpacks past {MAX_FILE >> 20} MB although its header says less.")
    return data


def place(path: str) -> tuple[str, dict, str] | None:
    """(student folder, what the LMS says of them, file name) for an entry's path, or None if neither LMS's."""
    parts = path.split("/")
    if (m := MOODLE.match(parts[0])) and (len(parts) > 1 or m["file"]):  # a folder, or a prefixed file
        name = m["name"]
        who = {"lms": "moodle", "name": name, "lms_id": m["id"], "submitted": "", "late": False}
        return f"{safe(name)}_{m['id']}", who, parts[-1] if len(parts) > 1 else m["file"]
    if len(parts) == 1 and (m := CANVAS.match(parts[0])):
        who = {"lms": "canvas", "name": m["name"], "lms_id": m["id"], "submitted": LATE if m["late"] else "",
               "late": bool(m["late"])}
        return f"{safe(m['name'])}_{m['id']}", who, m["file"]
    return None


def unpack(zip_path: Path, stems, staging: Path) -> tuple[dict[str, dict], dict[str, set[str]], list[str]]:
    """Unpack a zip's submissions into staging/FOLDER/: ({folder: LMS record}, {folder: file names}, sentences
    for what was not placed). One entry at a time, so memory holds one file (at most MAX_FILE) at most."""
    try:
        z = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as e:
        raise GradeError(f"{zip_path} is not a zip file ({e}); give the zip as the LMS downloaded it.") from None
    with z:
        infos = z.infolist()
        if len(infos) > MAX_ENTRIES:
            raise GradeError(f"{zip_path} holds {len(infos)} entries, over {MAX_ENTRIES}; it is not one class's "
                             "hand-in: nothing was unpacked.")
        who, files, notes, total = {}, {}, [], 0
        for info in infos:
            if info.is_dir():
                continue
            why = _refuse_entry(info)
            found = None if why else place(info.filename.replace("\\", "/"))
            if found is None:
                notes.append(why or f"{info.filename!r} is not named like a Moodle or Canvas submission "
                                    "(Full Name_N_assignsubmission_file_/... or lastfirst_N_N_file), so no "
                                    "student could be given it; it was not unpacked.")
                continue
            folder, record, name = found
            total += info.file_size
            if total > MAX_TOTAL:
                raise GradeError(f"{zip_path} unpacks past {MAX_TOTAL >> 30} GB; nothing was written.")
            try:
                data = _read(z, info)
            except (ValueError, zipfile.BadZipFile, OSError, RuntimeError) as e:  # RuntimeError: encrypted
                notes.append(f"{info.filename!r} could not be read ({e}); it was not unpacked.")
                continue
            if name.strip().casefold() == TIMESTAMP:  # only collect says when: grade and nbgrader trust that file
                notes.append(f"{info.filename!r}: a file named {TIMESTAMP} would set the student's own submission "
                             "time, so it was not unpacked.")
                continue
            mine = files.setdefault(folder, set())
            if (d := DUPLICATE.match(name)) and d["stem"] in stems and d["stem"] + d["ext"] not in mine:
                name = d["stem"] + d["ext"]  # Canvas renamed a second upload of the same name
            if name in mine:
                notes.append(f"{info.filename!r}: {folder} already has a {name}, so this copy was not unpacked.")
                continue
            mine.add(name)
            atomic_write(staging / folder / safe_file(name), lambda f, d=data: f.write(d))
            who[folder] = {**who.get(folder, {}), **record, "late": who.get(folder, {}).get("late") or record["late"]}
            if who[folder]["late"] and not who[folder]["submitted"]:
                who[folder]["submitted"] = LATE
    return who, files, notes


def read_table(path: Path, what: str) -> tuple[list[str], list[dict]]:
    """A CSV an LMS exported (header, rows), bounded in size; GradeError in one sentence when it is not one."""
    import csv
    import io

    path = Path(path)
    if not path.is_file() or path.stat().st_size > 32 << 20:
        raise GradeError(f"{path} is not a file of at most 32 MB; give {what} as the LMS exported it.")
    try:
        text = path.read_text(encoding="utf-8-sig")  # Moodle and Canvas write UTF-8, Canvas with a BOM
        first = text.split("\n", 1)[0]
        delimiter = max(",;\t", key=first.count)  # Moodle's export lets the teacher pick; Canvas writes commas
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
        return [h.strip() for h in reader.fieldnames or []], [{(k or "").strip(): v for k, v in r.items()} for r in reader]
    except (UnicodeDecodeError, csv.Error) as e:
        raise GradeError(f"{path} cannot be read as {what} ({e}); export it again as CSV (UTF-8).") from None


def read_worksheet(path: Path, tz: str = "UTC") -> dict[str, dict]:
    """{participant id: {"email", "submitted"}} from Moodle's grading worksheet CSV (times in tz, ISO UTC out)."""
    from dateutil import parser
    from dateutil import tz as zones

    header, rows = read_table(path, "a Moodle grading worksheet")
    if not {"Identifier", "Last modified (submission)"} <= set(header):
        raise GradeError(f"{path} is not a Moodle grading worksheet (its first line lacks Identifier and "
                         "'Last modified (submission)'); download it from the assignment's Grading action menu.")
    zone = zones.gettz(tz)
    if zone is None:
        raise GradeError(f"--timezone {tz!r} is not a time zone; give one like Europe/London or UTC.")
    out = {}
    for r in rows:
        number = re.sub(r"\D", "", r.get("Identifier") or "")
        when = (r.get("Last modified (submission)") or "").strip()
        stamp = ""
        if when and when != "-":
            try:
                t = parser.parse(when)
                stamp = (t if t.tzinfo else t.replace(tzinfo=zone)).astimezone(timezone.utc).isoformat(timespec="seconds")
            except (ValueError, OverflowError):
                raise GradeError(f"{path}: {when!r} (participant {number}) is not a date and time.") from None
        if number:
            out[number] = {"email": (r.get("Email address") or "").strip(), "submitted": stamp}
    return out


def load_record(out: Path) -> dict[str, dict]:
    """The class's LMS record in out (submitted/): {student folder: what the LMS says}; {} if none."""
    path = Path(out) / RECORD
    if not path.is_file() or path.is_symlink() or path.stat().st_size > 16 << 20:
        return {}
    try:
        students = json.loads(path.read_text(encoding="utf-8")).get("students", {})
    except (ValueError, UnicodeDecodeError, AttributeError):
        raise GradeError(f"{path} is damaged; collect the LMS's zip again to rewrite it.") from None
    return students if isinstance(students, dict) else {}


def recorded_time(student: str, notebooks) -> str:
    """A student's submission time (ISO 8601 UTC, or LATE) from the class-level RECORD; '' when none.

    Read only beside the student's folder (submitted/.lms.json for submitted/STUDENT/...), never from
    inside it: a file a student put in their own folder cannot set their time."""
    for nb in notebooks:
        if not isinstance(nb, Path):
            continue
        # Outermost first: a folder of the student's name made inside their own folder is never the one read.
        for mine in reversed(Path(nb).absolute().parents):
            if mine.name == student and (mine.parent / RECORD).is_file():
                return str(load_record(mine.parent).get(student, {}).get("submitted", ""))
    return ""


def collect(zip_path: Path, out: Path, stems, worksheet: Path | None = None, tz: str = "UTC",
            assignment: str | None = None) -> tuple[list, list]:
    """Unpack an LMS's bulk download into out/STUDENT/ (out/STUDENT/ASSIGNMENT/ with nbgrader's timestamp.txt when
    assignment is given) and record who and when; (folders written, notes).

    A student's folder is replaced whole by a later download (the LMS's latest); others are kept."""
    zip_path, out = Path(zip_path), Path(out)
    if not zip_path.is_file():
        raise GradeError(f"{zip_path} is not a file; give the zip the LMS downloaded (Moodle: Download all "
                         "submissions; Canvas: Download Submissions).")
    times = read_worksheet(worksheet, tz) if worksheet else {}  # bad input is refused before any unpacking
    before = load_record(out)
    staging = out.absolute().parent / f".{out.name}.collect-staging"  # beside out: a rename moves it in
    shutil.rmtree(staging, ignore_errors=True)
    try:
        who, files, notes = unpack(zip_path, stems, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if not files:
        shutil.rmtree(staging, ignore_errors=True)
        raise GradeError(f"{zip_path} holds no submission named as Moodle or Canvas names them; nothing was "
                         "written." + (f" First: {notes[0]}" if notes else ""))
    for folder, record in who.items():
        if record["lms"] == "moodle" and record["lms_id"] in times:
            record.update(times[record["lms_id"]])
        if not any(n in files[folder] for n in (s + ".ipynb" for s in stems)):
            notes.append(f"{folder} handed in no file named like a lab notebook ({', '.join(sorted(files[folder]))[:200]}); "
                         "grade will say so in their rows.")
    out.mkdir(parents=True, exist_ok=True)
    record = {**before, **who}
    for folder in files:  # all unpacked and checked: now each student's folder is swapped in
        shutil.rmtree(out / folder, ignore_errors=True)
        if assignment:  # nbgrader's layout, which both routes read: submitted/STUDENT/lab8/ and its time
            (out / folder).mkdir()
            (staging / folder).rename(out / folder / assignment)
            if when := nbgrader_time(record[folder].get("submitted", "")):
                (out / folder / assignment / TIMESTAMP).write_text(when, encoding="utf-8")
        else:
            (staging / folder).rename(out / folder)
    shutil.rmtree(staging, ignore_errors=True)
    text = json.dumps({"version": 1, "students": dict(sorted(record.items()))}, indent=1, ensure_ascii=False)
    atomic_write(out / RECORD, lambda f: f.write(text.encode("utf-8")))
    return sorted(files), notes


def nbgrader_time(submitted: str) -> str:
    """An ISO 8601 time as nbgrader's collect writes timestamp.txt ('2027-03-01 17:30:00.000000 UTC'); '' if none."""
    from .feedback import parse_time

    if not submitted or submitted == LATE:
        return ""
    return parse_time(submitted).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def safe_file(name: str) -> str:
    """A student's file name as written: no separators or leading dots; spaces and brackets kept, as handed in."""
    name = re.sub(r"[/\\\x00-\x1f]", "_", name).lstrip(". ")[:120]
    return name or "file"


def add_parser(sub) -> None:
    """The `collect` subcommand: an LMS's bulk download -> submitted/STUDENT/."""
    p = sub.add_parser("collect", help="unpack Moodle's or Canvas's bulk download into submitted/STUDENT/",
                       description="Unpack Moodle's 'Download all submissions' zip or Canvas's 'Download "
                                   "Submissions' zip into OUT/STUDENT/ (one folder per student, named by the LMS's "
                                   f"name and id) and record who and when in OUT/{RECORD}, which `grade` reads for "
                                   "--due. Entries it cannot place or will not unpack are named, one line each.")
    p.add_argument("zip", type=Path, metavar="ZIP", help="the zip as the LMS downloaded it")
    p.add_argument("--out", type=Path, default=Path("submitted"), help="the submissions folder (default: submitted)")
    p.add_argument("--worksheet", type=Path, default=None, metavar="CSV",
                   help="Moodle only: the assignment's grading worksheet, for submission times and emails")
    p.add_argument("--timezone", default="UTC", metavar="TZ",
                   help="the time zone of the worksheet's times, your Moodle profile's (default: UTC)")
    p.add_argument("--assignment", default=None, metavar="NAME",
                   help="write nbgrader's layout, OUT/STUDENT/NAME/ with timestamp.txt, which both routes read "
                        "(default in a course folder: its assignment, lab8; elsewhere OUT/STUDENT/)")
    p.set_defaults(run=_main)


def _main(args) -> None:
    from ..checks.exercises import EXERCISES
    from .course import ASSIGNMENT, load

    stems = sorted({ex.notebook for ex in EXERCISES})
    course = load()
    assignment = args.assignment or (ASSIGNMENT if course else None)
    written, notes = collect(args.zip, args.out, stems, args.worksheet, args.timezone, assignment)
    for note in notes:
        print(f"not placed: {note}")
    where = f"{args.out}/STUDENT/{assignment}/" if assignment else f"{args.out}/STUDENT/"
    then = (f"python -m labvae grade {args.out}, or nbgrader autograde {assignment}" if course else
            f"python -m labvae grade {args.out}/* --out grades.csv")
    folders = "student's folder" if len(written) == 1 else "students' folders"
    print(f"wrote {len(written)} {folders} ({where}) and who and when into {args.out / RECORD}; next: {then}")
