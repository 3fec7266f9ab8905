"""Where the notebooks come from on Colab: the repository their badges open and their setup cell installs.

One place names each: `[project.urls] Repository` in pyproject.toml the solutions' repository,
`[tool.labvae] handout` the public hand-out repository students open, when a course has one.
`python -m labvae repository URL` writes the first there and into every solution notebook (badge and
setup cell); `python -m labvae student OUT --repository URL` (or `handout DIR --repository URL`) records
the second, and every later regeneration of the student edition points at it.
"""

from __future__ import annotations

import re
from pathlib import Path

# The setup cell's one line naming the repository, and the badge in each notebook's first cell.
REPOSITORY_LINE = re.compile(r'^REPOSITORY = "[^"\n]*"$', re.M)
BADGE = re.compile(r"(https://colab\.research\.google\.com/github/)[^/)\s]+/[^/)\s]+(/blob/)")
PYPROJECT_URL = re.compile(r'^(Repository = )"[^"\n]*"$', re.M)
GITHUB = re.compile(r"^https://github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?$")


def github_repository(url: str) -> str:
    """'OWNER/NAME' of a https://github.com/OWNER/NAME URL, else ValueError saying what a URL must be."""
    found = GITHUB.match(url.strip()) if isinstance(url, str) else None
    if not found:
        raise ValueError(f"{url!r} is not a GitHub repository URL; Colab's badges open only those, so give "
                         "one like https://github.com/OWNER/NAME.")
    return f"{found.group(1)}/{found.group(2)}"


# Any other git host pip can install from over https (GitLab, Gitea, a university's server): HOST/GROUP/NAME,
# subgroups allowed; no user or token in the address (it would be published, and Colab cannot log in anyway).
GIT_URL = re.compile(r"^https://(?P<host>[A-Za-z0-9.-]+(?::\d+)?)/(?P<path>[\w.~-]+(?:/[\w.~-]+)+?)(?:\.git)?/?$")
# The first cell's Colab badge (GitHub) and, on any other host, the sentence that takes its place.
FULL_BADGE = re.compile(r"\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]"
                        r"\(https://colab\.research\.google\.com/github/[^/)\s]+/[^/)\s]+/blob/main/(?P<path>[^)\s]+)\)")
UPLOAD = re.compile(r"\*\*Open in Colab:\*\* download `(?P<path>[^`\s]+)` from <[^>\s]+>, then in Colab choose "
                    r"\*File > Upload notebook\*\.")


def on_github(url: str) -> bool:
    return bool(isinstance(url, str) and GITHUB.match(url.strip()))


def canonical(url: str) -> str:
    """https://github.com/OWNER/NAME on GitHub; https://HOST/GROUP/NAME (no .git, no slash at the end) elsewhere."""
    if on_github(url):
        return f"https://github.com/{github_repository(url)}"
    found = GIT_URL.match(url.strip()) if isinstance(url, str) else None
    if not found or found["host"].lower() in ("github.com", "www.github.com"):
        raise ValueError(f"{url!r} is not a repository URL students can install from; give "
                         "https://github.com/OWNER/NAME, or on another git host https://HOST/GROUP/NAME (public, "
                         "with no user name or token in it: students install it without logging in).")
    return f"https://{found['host']}/{re.sub(r'[.]git$', '', found['path'])}"


def badge(url: str, path: str) -> str:
    """How the first cell opens path (notebooks/NN.ipynb) in Colab: a badge on GitHub, else upload in words."""
    url = canonical(url)
    if on_github(url):
        return (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
                f"(https://colab.research.google.com/github/{github_repository(url)}/blob/main/{path})")
    return f"**Open in Colab:** download `{path}` from <{url}>, then in Colab choose *File > Upload notebook*."


def stamp_setup(source: str, url: str) -> str:
    """A setup cell's source installing from url (any git URL pip understands: also file:// for tests)."""
    if not REPOSITORY_LINE.search(source):
        raise ValueError('the setup cell has no line REPOSITORY = "..."; restore it from the lesson notebooks.')
    return REPOSITORY_LINE.sub(lambda _: f'REPOSITORY = "{url}"', source)


def stamp_text(text: str, url: str) -> str:
    """A notebook's text (.ipynb JSON or .py twin) with its badge and setup cell pointing at url (any git host)."""
    url = canonical(url)
    text = FULL_BADGE.sub(lambda m: badge(url, m["path"]), text)
    text = UPLOAD.sub(lambda m: badge(url, m["path"]), text)
    return REPOSITORY_LINE.sub(lambda _: f'REPOSITORY = "{url}"', text)


def stamp_notebook(nb: dict, url: str) -> dict:
    """Stamp an nbformat notebook (as a dict, sources as lists of lines) in place; returns it."""
    canonical(url)
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        stamped = stamp_text(source, url)
        if stamped != source:
            cell["source"] = stamped.splitlines(keepends=True)
    return nb


def pyproject_repository(pyproject: Path) -> str:
    """The URL pyproject.toml names under [project.urls] Repository."""
    text = Path(pyproject).read_text(encoding="utf-8")
    found = PYPROJECT_URL.search(text)
    if not found:
        raise ValueError(f'{pyproject} has no line Repository = "..." under [project.urls]; add it.')
    return found.group(0).split('"')[1]


# The hand-out repository students open, when a course keeps the solutions private: pyproject.toml's
# [tool.labvae] handout. Recorded by `student --repository` and `handout`; every regeneration of the
# student edition (and nbgrader's release, nbgrader_config.py) reads it from there.
TOOL_SECTION = re.compile(r"^\[tool\.labvae\][ \t]*\n((?:(?!\[).*\n?)*)", re.M)
HANDOUT_LINE = re.compile(r'^handout = "([^"\n]*)"[ \t]*$', re.M)


def recorded_handout(pyproject: Path) -> str | None:
    """The hand-out repository pyproject.toml records, or None (the student edition then uses the solutions')."""
    pyproject = Path(pyproject)
    if not pyproject.is_file():
        return None
    section = TOOL_SECTION.search(pyproject.read_text(encoding="utf-8"))
    found = HANDOUT_LINE.search(section.group(1)) if section else None
    return canonical(found.group(1)) if found else None


def with_handout(text: str, url: str) -> str:
    """pyproject.toml's text recording url as the hand-out repository ([tool.labvae] handout)."""
    line = f'handout = "{canonical(url)}"'
    section = TOOL_SECTION.search(text)
    if section is None:
        return text.rstrip("\n") + ("\n\n[tool.labvae]\n# The public repository students open (the student edition "
                                    "and the library without solutions): `python -m labvae handout`.\n" + line + "\n")
    body = section.group(1)
    body = HANDOUT_LINE.sub(lambda _: line, body) if HANDOUT_LINE.search(body) else line + "\n" + body
    return text[: section.start(1)] + body + text[section.end(1):]


def pyproject_beside(notebooks: Path) -> Path:
    """The pyproject.toml of the repository whose notebooks/ folder this is."""
    return Path(notebooks).resolve().parent / "pyproject.toml"
