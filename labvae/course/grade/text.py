"""Student-made text made inert for the files a person opens: shown (one escaped form), cut, kept, Markdown."""

from __future__ import annotations

import re

MAX_ANSWER = 20_000  # characters kept of one written answer or printed table: 2.2's answers are ~2,000
MAX_SHOWN = 500  # characters of one student-made message in a file a person reads: a check's sentence is ~200


def shown(text: str) -> str:
    r"""text with unprintable characters (newlines, escapes, bidi marks, zero-width spaces) written as \x.. codes.

    A byte of a name that is not UTF-8 (Python reads it as a lone surrogate) is written \x.. as that byte.
    Backslashes stay as they are, so shown(shown(t)) == shown(t): a name or message read back from
    grades.csv is shown the same way however many times it is re-graded or rewritten."""
    return "".join(c if c.isprintable() else f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF else
                   f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}" for c in str(text))


def cut(text: str, most: int = MAX_SHOWN) -> str:
    """text, its part past `most` characters replaced by a note saying how much was left out."""
    return text if len(text) <= most else f"{text[:most]} [... {len(text) - most} more characters not shown]"


def kept(text: str | None, most: int = MAX_ANSWER) -> str | None:
    """A student's answer as the files keep it: cut past `most` characters, a byte that is not UTF-8 as \\x.."""
    if text is None:
        return None
    return cut("".join(f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF else
                       c if not 0xD800 <= ord(c) <= 0xDFFF else f"\\u{ord(c):04x}" for c in text), most)


# What Markdown (CommonMark, GitHub's and Jupyter's: tables, strikethrough, autolinks, $math$) reads as more
# than text: escaped with a backslash. Commas, "=", "-" and "." stay as written ("z = [-4, 4]" reads
# "z = \[-4, 4\]"), except the "." of "www." that GitHub would link.
ACTIVE = re.compile(r"([\\`*_{}\[\]()#<>&|~$:@^!])|(?<=[wW]{3})(\.)")


def md_text(text: str, most: int = MAX_SHOWN) -> str:
    """Student-made text as inert Markdown: shown, cut, what Markdown reads escaped (no link, tag, emphasis, cell)."""
    return ACTIVE.sub(lambda m: "\\" + m.group(0), cut(shown(text), most))
