"""Student-made text in Markdown files: inert, and readable as written (labvae.course.grade.text.md_text)."""

import re

import pytest
from nbconvert.filters import markdown2html

from labvae.course.grade.text import md_text


def test_a_checks_sentence_reads_as_written():
    said = "✓ latent_grid: correct, 441 codes, z = [-4, 4] top-left; 309.0 nats (accepted 299.7 to 324.4)."
    assert md_text(said) == ("✓ latent\\_grid\\: correct, 441 codes, z = \\[-4, 4\\] top-left; 309.0 nats "
                             "\\(accepted 299.7 to 324.4\\).")
    assert re.sub(r"<[^>]+>", "", markdown2html(md_text(said))).strip() == said


@pytest.mark.parametrize("text", [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "[click](javascript:alert(1))",
    "see https://evil.example/x and www.evil.example and me@evil.example", "**Total: 5 / 5**", "~~struck~~",
    "a | table | cell", "$\\frac{1}{0}$", "![pic](http://x/y.png)", "&lt;b&gt;", "`code`", "_under_",
])
def test_what_markdown_would_read_stays_text(text):
    html = markdown2html(md_text(text))
    assert not re.search(r"<(?!/?p>)", html), html  # no element but the paragraph: no link, tag, emphasis, code
    assert "$" not in text or "\\$" in md_text(text)  # Jupyter would typeset $...$ as math
    plain = re.sub(r"</?p>", "", html).strip()
    assert plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == text
