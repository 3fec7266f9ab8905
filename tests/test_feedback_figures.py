"""Feedback's figures in fewer bytes and not a pixel changed (issue 31): labvae.course.grade.figures."""

import base64
import io

import matplotlib
import numpy as np
import pytest
from PIL import Image

from labvae.course.grade.figures import MAX_PIXELS, SmallerFigures, smaller_png

matplotlib.use("Agg")


def png(array: np.ndarray, mode: str) -> str:
    out = io.BytesIO()
    Image.fromarray(array, mode).save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


def pixels(data: str) -> np.ndarray:
    with Image.open(io.BytesIO(base64.b64decode(data))) as im:
        return np.asarray(im.convert("RGBA"))


def figure(colour: bool) -> str:
    """A matplotlib figure as a notebook holds it (RGBA PNG): a grey sweep-like picture, or a plot in colours."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3), dpi=100)
    if colour:
        for k in range(5):
            ax.plot(np.arange(10), np.arange(10) * k, label=str(k))
        ax.legend()
    else:
        ax.imshow(np.random.default_rng(0).random((56, 56)), cmap="gray")
    out = io.BytesIO()
    fig.savefig(out, format="png")
    plt.close(fig)
    return base64.b64encode(out.getvalue()).decode()


@pytest.mark.parametrize("kind, mode", [("grey sweep", "L"), ("plot", None)])
def test_matplotlib_figures_shrink_and_keep_every_pixel(kind, mode):
    data = figure(colour=kind == "plot")
    new = smaller_png(data)
    assert len(new) < len(data)
    assert np.array_equal(pixels(new), pixels(data))
    assert smaller_png(new) == new  # feedback leaves what autograde re-encoded as it is
    with Image.open(io.BytesIO(base64.b64decode(new))) as im:
        assert im.mode in ((mode,) if mode else ("P", "RGB"))


def test_many_colours_and_transparency_keep_every_pixel():
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 256, (64, 64, 4), dtype=np.uint8)
    photo[..., 3] = 255  # opaque, thousands of colours: RGB, not a palette
    seethrough = photo.copy()
    seethrough[:8, :8, 3] = 0  # some pixels transparent: stays RGBA
    for array in (photo, seethrough):
        data = png(array, "RGBA")
        assert np.array_equal(pixels(smaller_png(data)), array)


@pytest.mark.parametrize("data", [
    "not base64 at all!",
    base64.b64encode(b"<script>alert(1)</script>").decode(),  # text sent as image/png
    "",
])
def test_what_is_not_a_png_is_left_as_it_is(data):
    assert smaller_png(data) == data


def test_a_jpeg_or_an_oversized_picture_is_left_as_it_is():
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, "JPEG")
    jpeg = base64.b64encode(out.getvalue()).decode()
    assert smaller_png(jpeg) == jpeg
    side = int(MAX_PIXELS ** 0.5) + 1  # compresses to a few kB, decodes to 25 MB: never decoded
    huge = png(np.zeros((side, side, 4), np.uint8), "RGBA")
    assert smaller_png(huge) == huge


def test_the_preprocessor_rewrites_only_png_outputs():
    import nbformat

    data = figure(colour=False)
    cell = nbformat.v4.new_code_cell("plot()", outputs=[
        nbformat.v4.new_output("display_data", data={"image/png": data, "text/plain": "<Figure>"}),
        nbformat.v4.new_output("stream", name="stdout", text="loss 264\n")])
    nb = nbformat.v4.new_notebook(cells=[cell, nbformat.v4.new_markdown_cell("**text**")])
    nb, _ = SmallerFigures()(nb, {})  # as nbgrader calls it: registered as it is, so on by default
    out = nb.cells[0].outputs
    assert len(out[0].data["image/png"]) < len(data) and out[0].data["text/plain"] == "<Figure>"
    assert out[1].text == "loss 264\n" and nb.cells[1].source == "**text**"
