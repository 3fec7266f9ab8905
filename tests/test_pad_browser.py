"""The latent pad in headless Chromium: drag across it in the standalone page, live in JupyterLab and in
an exported HTML, and compare the drawn pixels with torch's decode of the z the pad shows."""

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import labvae
from labvae.pad_page import write_page

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install playwright")
from test_browser import (  # noqa: E402  the JupyterLab server, Chromium and helpers of the notebook tests
    KERNEL_IDLE_JS,
    ROOT,
    browser,  # noqa: F401  a fixture
    lab,  # noqa: F401  a fixture
    output_problems,
    run_all_cells,
)

MAX_PIXEL_ERROR = 2  # of 255, as tests/test_pad.py holds for the exported weights
# Every wait scales with the machine's load: 2 shared cores at load 10 run a page five times slower.
LOAD = max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
WAIT_MS = int(60_000 * LOAD)
# The models of every test here, built the same way in the notebook and in this process. Random
# decoders with large weights: far from a flat grey, so a wrong pixel shows.
MODELS_SRC = """
import torch, labvae
class Upsampled(torch.nn.Module):
    \"\"\"A decoder the page cannot evaluate (a transposed convolution): the pad decodes it in the kernel.\"\"\"
    def __init__(self):
        super().__init__()
        torch.manual_seed(5)
        self.decoder = torch.nn.Sequential(torch.nn.Linear(2, 49), torch.nn.Unflatten(1, (1, 7, 7)),
                                           torch.nn.ConvTranspose2d(1, 1, 4, 4))
    def decode(self, z):
        return torch.sigmoid(3 * self.decoder(z))
def pad_models():
    models = {"VAE": labvae.VAE(seed=0), "lab AE": labvae.Autoencoder(hidden_dim=None, seed=1),
              "AE-512": labvae.Autoencoder(seed=2)}
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in models.values():
            for p in m.decoder.parameters():
                p.mul_(3).add_(torch.randn(p.shape, generator=g) * 0.2)
    return models
"""


def pad_models():
    namespace = {}
    exec(MODELS_SRC, namespace)
    return namespace["pad_models"]()


@pytest.fixture(scope="module")
def models():
    return pad_models()


def pad_state(pad):
    """z, the pad's view and every image's 28x28 pixels, as the page has them now."""
    return pad.evaluate("""root => ({
        z: root.__labvaePad.z, view: root.__labvaePad.view,
        label: root.querySelector('.labvae-pad-z').textContent,
        images: Array.from(root.querySelectorAll('canvas.labvae-pad-image')).map(c => [c.dataset.name,
            Array.from(c.getContext('2d').getImageData(0, 0, 28, 28).data.filter((v, i) => i % 4 === 0))]),
    })""")


def worst_pixel(state, models):
    worst = 0
    for name, pixels in state["images"]:
        with torch.no_grad():
            want = labvae.grid.to_uint8(models[name].decode(torch.tensor([state["z"]], dtype=torch.float32))[0]).astype(int).reshape(-1)
        worst = max(worst, int(np.abs(np.array(pixels) - want).max()))
    return worst


def drag_and_compare(page, pad, models):
    """Drag from near the top-left corner to near the bottom-right; at each stop the images must be torch's."""
    area = pad.locator(".labvae-pad-area")
    area.scroll_into_view_if_needed()
    box = area.bounding_box()
    states = []
    page.mouse.move(box["x"] + 2, box["y"] + 2)
    page.mouse.down()
    for t in (0.0, 0.2, 0.45, 0.7, 0.95):
        for s in range(1, 6):  # several pointer moves between stops, as a hand makes
            page.mouse.move(box["x"] + 2 + (box["width"] - 4) * t * s / 5, box["y"] + 2 + (box["height"] - 4) * t)
        state = pad_state(pad)
        states.append(state)
        assert len(state["images"]) == len(models)
        error = worst_pixel(state, models)
        assert error <= MAX_PIXEL_ERROR, f"at z={state['z']} the page differs from torch by {error}/255"
    page.mouse.up()
    times = sorted(pad.evaluate("root => root.__labvaePad.times.slice()"))  # ms of decode + draw per move
    print(f"decode + draw per pointer move ({len(times)} moves, {len(models)} models): median "
          f"{times[len(times) // 2]:.2f} ms, p99 {times[int(0.99 * (len(times) - 1))]:.2f} ms (benchmarks/bench_pad.py times it properly)")
    first, last = states[0]["z"], states[-1]["z"]
    # The spec's orientation: top-left is z = (-4, 4), bottom-right (4, -4).
    assert first[0] < -3.9 and first[1] > 3.9, f"the top-left corner gave z={first}"
    assert last[0] > 3.4 and last[1] < -3.4, f"near the bottom-right corner z={last}"
    z1, z2 = last
    assert states[-1]["label"] == f"(z1, z2) = ({z1:.2f}, {z2:.2f})"
    assert all(a["images"] != b["images"] for a, b in zip(states, states[1:])), "an image did not follow the pointer"
    return states[-1]


def keys_and_zoom(page, pad, models):
    """Arrow keys move z by 0.05 (Up raises z2); the zoom button widens the view to the codes."""
    pad.locator(".labvae-pad-area").focus()
    start = pad_state(pad)["z"]
    for key in ("ArrowLeft", "ArrowLeft", "ArrowUp"):
        page.keyboard.press(key)
    state = pad_state(pad)
    assert state["z"] == pytest.approx([round((start[0] - 0.1) / 0.05) * 0.05, round((start[1] + 0.05) / 0.05) * 0.05], abs=1e-9)
    assert worst_pixel(state, models) <= MAX_PIXEL_ERROR
    pad.locator(".labvae-pad-zoom").click()
    return pad_state(pad)["view"]


@pytest.fixture
def page(browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.errors = []
    page.on("pageerror", lambda err: page.errors.append(str(err)))
    yield page
    context.close()


def test_pad_in_the_standalone_page(page, models, data, tmp_path):
    _, _, x_test, y_test = data
    path = write_page(models, tmp_path / "pad.html", x_test, y_test)
    asked = []
    page.route("**/*", lambda route: (asked.append(route.request.url), route.continue_()
                                      if route.request.url.startswith(("file:", "blob:", "data:")) else route.abort()))
    page.goto(path.as_uri())
    page.wait_for_function("() => window.__labvaePadReady === true")
    pad = page.locator(".labvae-pad")
    drag_and_compare(page, pad, models)
    view = keys_and_zoom(page, pad, models)
    extent = max(float(labvae.latent_codes(m, x_test[:2000]).abs().max()) for m in models.values())
    assert view >= 4 and (view > 4) == (extent * 1.05 > 4)
    assert not [u for u in asked if not u.startswith(("file:", "blob:", "data:"))], f"the page asked the network: {asked}"
    assert not page.errors, page.errors


def write_pad_notebook(path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(MODELS_SRC + "\nmodels = pad_models()\npad = labvae.latent_pad(models)\npad"),
        nbformat.v4.new_code_cell("print('pad state bytes:', pad.state_bytes)"),
        nbformat.v4.new_code_cell("kernel_pad = labvae.latent_pad({'VAE': models['VAE'], 'upsampled': Upsampled()})\nkernel_pad"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def test_pad_live_in_jupyterlab(page, lab, models):  # noqa: F811
    rel_path = "test-artifacts/pad/pad_live.ipynb"
    write_pad_notebook(ROOT / rel_path)
    page.goto(f"{lab.base}/lab/tree/{rel_path}?reset&token={lab.token}")
    page.wait_for_function(KERNEL_IDLE_JS, arg=rel_path)
    deadline = time.monotonic() + WAIT_MS / 1000 * 3
    result = run_all_cells(page, rel_path, deadline)
    assert result == "ok", f"Run All Cells: {result}; {output_problems(page)}; console: {page.errors}"
    pad = page.locator(".labvae-pad").first
    pad.locator("canvas.labvae-pad-image").nth(2).wait_for()
    shown = drag_and_compare(page, pad, models)
    # The kernel hears z once the pointer is released: the pad's z trait holds what the page shows.
    printed = page.evaluate("""async () => {
        const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
        let out = '';
        const future = kernel.requestExecute({ code: 'print(pad.z)' });
        future.onIOPub = msg => { if (msg.header.msg_type === 'stream') out += msg.content.text; };
        await future.done;
        return out;
    }""")
    assert [float(v) for v in printed.strip(" []\n").split(",")] == pytest.approx(shown["z"], abs=1e-9)
    keys_and_zoom(page, pad, models)
    # A decoder the page cannot run: the kernel decodes it as the pointer moves, and the page shows that.
    mixed = page.locator(".labvae-pad").nth(1)
    assert "upsampled" in mixed.locator(".labvae-pad-note").inner_text()
    mixed.locator(".labvae-pad-area").scroll_into_view_if_needed()
    box = mixed.locator(".labvae-pad-area").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.3)
    namespace = {}
    exec(MODELS_SRC, namespace)
    upsampled = {"VAE": models["VAE"], "upsampled": namespace["Upsampled"]()}
    deadline, state = time.monotonic() + WAIT_MS / 1000, None
    while time.monotonic() < deadline:  # the kernel's image arrives after the page's own
        state = pad_state(mixed)
        state["images"] = [image for image in state["images"] if image[0] == "upsampled"]
        if worst_pixel(state, upsampled) == 0:  # the kernel sends torch's own uint8 pixels
            break
        time.sleep(0.2)
    assert state["z"][0] > 1 and state["z"][1] > 1, f"the click did not move the second pad (z={state['z']})"
    assert worst_pixel(state, upsampled) == 0, f"the kernel-decoded image never matched torch at z={state['z']}"
    assert not [e for e in page.errors if "labvae" in e or "anywidget" in e], page.errors


def cdn_copies():
    """The files nbconvert's HTML asks CDNs for, from npm (the registry is reachable here; the CDNs are not)."""
    import anywidget

    folder = labvae.data.cache_dir() / f"npm-widgets-anywidget{anywidget.__version__}"
    if (folder / ".complete").exists():
        return folder
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is missing: it fetches the widget scripts the exported HTML loads from CDNs")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    packages = ["@jupyter-widgets/html-manager@1", f"anywidget@{anywidget.__version__}", "requirejs@2.3.7"]
    done = subprocess.run([npm, "pack", *packages, "--silent"], cwd=folder, capture_output=True, text=True, timeout=300)
    if done.returncode:
        pytest.skip(f"npm pack failed (no registry?): {done.stderr[-500:]}")
    for tgz in folder.glob("*.tgz"):
        out = folder / re.sub(r"-\d+\.\d+\.\d+\.tgz$", "", tgz.name)
        out.mkdir()
        subprocess.run(["tar", "xzf", tgz, "-C", out], check=True)
    (folder / ".complete").touch()
    return folder


def test_pad_in_exported_html(page, models, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nbconvert = pytest.importorskip("nbconvert")
    path = tmp_path / "pad.ipynb"
    write_pad_notebook(path)
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=int(120 * LOAD)).execute()  # stores widget state
    assert "application/vnd.jupyter.widget-state+json" in nb.metadata["widgets"]
    html, _ = nbconvert.HTMLExporter().from_notebook_node(nb)
    (tmp_path / "pad.html").write_text(html)
    cdn = cdn_copies()
    local = {"@jupyter-widgets/html-manager@": cdn / "jupyter-widgets-html-manager" / "package" / "dist",
             "anywidget@": cdn / "anywidget" / "package" / "dist"}
    hosts = set()

    def serve(route):
        url = route.request.url
        if url.startswith(("file:", "blob:", "data:")):
            return route.continue_()
        hosts.add(url.split("/")[2])
        if url.endswith("require.min.js") or url.endswith("require.js"):
            return route.fulfill(path=cdn / "requirejs" / "package" / "require.js")
        for marker, folder in local.items():
            file = folder / url.split("/dist/")[-1].split("?")[0]
            if marker in url and file.is_file():
                return route.fulfill(path=file)
        return route.abort()

    page.route("**/*", serve)
    page.goto((tmp_path / "pad.html").as_uri())
    pad = page.locator(".labvae-pad").first
    pad.locator("canvas.labvae-pad-image").nth(2).wait_for()
    drag_and_compare(page, pad, models)
    print("the exported HTML loads its widget scripts from:", sorted(hosts))
    assert hosts, "the exported HTML loaded no script from a CDN: then it works offline, and the docs must say so"
