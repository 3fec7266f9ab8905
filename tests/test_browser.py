"""Browser tests: run each notebook in a real JupyterLab (headless Chromium) and move the explorer's sliders."""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="playwright is not installed: pip install playwright (the browser comes from apt-get install chromium)",
)
pytest.importorskip("jupyterlab", reason="jupyterlab is not installed: pip install jupyterlab")
psutil = pytest.importorskip("psutil", reason="psutil is not installed: pip install psutil (ipykernel needs it too)")
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
if CHROMIUM is None:
    pytest.skip("Chromium not found: apt-get install chromium (playwright cannot download browsers here)",
                allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["02_vae_sweep.ipynb", "03_ae_sweep.ipynb", "04_comparison.ipynb", "05_beta.ipynb"]
MULTI_MODEL = {"04_comparison.ipynb"}  # these must drive two or more models from one pair of sliders
PAD = {"02_vae_sweep.ipynb", "03_ae_sweep.ipynb", "04_comparison.ipynb"}  # these show the latent pad (issue 32)
BETA_SLIDER = {"05_beta.ipynb"}  # these also have a beta slider that switches the decoder
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
# The time one notebook gets in the browser comes from measured work, not a fixed guess: each notebook
# first runs headless (nbclient, same smoke settings and cache; this also trains the models it loads),
# and the browser gets BROWSER_OVERHEAD_S plus WORK_FACTOR times that run. On a machine busy with
# other jobs the headless run is slower too, so the budget grows with the load; a hang still fails.
BROWSER_OVERHEAD_S = 120  # JupyterLab and Chromium rendering the notebook and its widgets
WORK_FACTOR = 3  # the browser reruns the notebook with its models cached: never more work than this
# Hang detection only, not a budget: 04's training cell took 350 s from a cold cache with both cores
# busy and other jobs queued (load average 15), so a cell gets 20 minutes before the test fails.
HEADLESS_CELL_TIMEOUT_S = 1200
WAIT_S = 60  # one step of the browser's (an image loading, a redraw): bounded by the deadline too
VIEWPORT = {"width": 1400, "height": 1000}
PRESSES = 10  # arrow-key presses on z1; one step is 0.05, so z1 moves by 0.50

# User settings for the throwaway JupyterLab, one file per plugin.
LAB_SETTINGS = {
    # Render every cell, not just those in view, so outputs far down the notebook exist in the DOM;
    # start the kernel without a dialog even if a notebook lacks kernelspec metadata.
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none", "autoStartDefaultKernel": True},
    # Never write executed outputs back into the repository's notebooks.
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    # No news or update checks: no network, and no toast over the explorer.
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}

# True when the notebook at `path` is the current tab and its kernel is idle.
KERNEL_IDLE_JS = """path => {
    const panel = window.jupyterapp?.shell?.currentWidget;
    return panel?.context?.path === path && panel.sessionContext?.session?.kernel?.status === 'idle';
}"""


class Lab:
    """A running JupyterLab server: where it listens and how to authenticate."""

    def __init__(self, proc, port, token, log_path):
        self.proc, self.port, self.token, self.log_path = proc, port, token, log_path
        self.base = f"http://127.0.0.1:{port}"

    def api(self, method, path):
        """One REST call to the server; returns the decoded JSON body (or None)."""
        req = urllib.request.Request(self.base + path, method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def log_tail(self, n=4000):
        """The end of the server log, for failure messages."""
        return Path(self.log_path).read_text(errors="replace")[-n:]


def free_port():
    """A TCP port on 127.0.0.1 that nothing is listening on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lab_env(tmp):
    """The server's environment: the test's (LABVAE_SMOKE, LABVAE_CACHE) with throwaway Jupyter dirs."""
    settings = tmp / "settings"
    for plugin, values in LAB_SETTINGS.items():
        file = settings / f"{plugin}.jupyterlab-settings"
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps(values))
    env = dict(os.environ)
    env.update(JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
               JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), JUPYTER_CONFIG_DIR=str(tmp / "config"),
               JUPYTER_DATA_DIR=str(tmp / "data"))
    env.setdefault("LABVAE_SMOKE", "1")  # the root conftest sets it; keep smoke mode even without it
    return env


def wait_for_server(lab, timeout=180):
    """Poll the server's status endpoint until it answers; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lab.proc.poll() is not None:
            pytest.fail(f"jupyter lab exited with code {lab.proc.returncode}:\n{lab.log_tail()}")
        try:
            lab.api("GET", "/api/status")
            return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"jupyter lab did not answer within {timeout}s:\n{lab.log_tail()}")


def stop_process_tree(proc, timeout=15):
    """Terminate the server (it shuts its kernels down), then kill whatever of its tree is left."""
    try:
        family = psutil.Process(proc.pid).children(recursive=True)  # kernels run in sessions of their own
    except psutil.NoSuchProcess:
        family = []
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    _, alive = psutil.wait_procs(family, timeout=5)
    for child in alive:
        child.kill()
    psutil.wait_procs(alive, timeout=5)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a free port, serving the repository, with throwaway settings; always stopped."""
    tmp = tmp_path_factory.mktemp("jupyterlab")
    port, token = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.open_browser=False",
           "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}",
           "--LabApp.expose_app_in_browser=True",  # puts window.jupyterapp there for the test to drive
           f"--FileCheckpoints.checkpoint_dir={tmp / 'checkpoints'}",  # no .ipynb_checkpoints in the repo
           "--allow-root"]  # CI containers run as root; harmless otherwise
    log_path = tmp / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=lab_env(tmp), stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    server = Lab(proc, port, token, log_path)
    try:
        wait_for_server(server)
        yield server
    finally:
        stop_process_tree(proc)


def shutdown_kernels(lab):
    """Shut down every kernel the server runs, so the next notebook gets the CPU to itself."""
    try:
        for session in lab.api("GET", "/api/sessions") or []:
            lab.api("DELETE", f"/api/sessions/{session['id']}")
    except OSError:
        pass  # the server is gone: its fixture reports that, and stops what is left


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium driven by playwright; closed after the module."""
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
                                      timeout=60_000)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(lab, browser, request):
    """A fresh browser page; afterwards a screenshot of where it stopped, and the kernel is shut down."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.console_errors = []  # shown in failure messages: widget rendering errors land in the console
    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
    page.on("pageerror", lambda err: page.console_errors.append(str(err)))
    try:
        yield page
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = request.node.callspec.id.removesuffix(".ipynb")
        try:
            page.screenshot(path=ARTIFACTS / f"{name}-page.png")
        except sync_api.Error:
            pass  # a diagnostic only; never hide the test's own failure
        context.close()
        shutdown_kernels(lab)


def headless_seconds(rel_path):
    """Run the notebook headless in a fresh kernel (what the browser will run) and time it."""
    nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed: pip install 'labvae[instructor]'")
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed: pip install 'labvae[instructor]'")
    path = ROOT / rel_path
    nb = nbformat.read(path, as_version=4)
    start = time.monotonic()
    nbclient.NotebookClient(nb, timeout=HEADLESS_CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.monotonic() - start


def ms_left(deadline):
    """Milliseconds until the notebook's deadline (at least 1 s, so the last wait still gets a chance)."""
    return max(1000, (deadline - time.monotonic()) * 1000)


def open_notebook(page, lab, rel_path, deadline):
    """Open the notebook in JupyterLab and wait until its kernel is idle."""
    # ?reset: start from an empty workspace, or the previous test's tabs reopen and start kernels too.
    page.goto(f"{lab.base}/lab/tree/{rel_path}?reset&token={lab.token}", timeout=ms_left(deadline))
    page.wait_for_function(KERNEL_IDLE_JS, arg=rel_path, timeout=ms_left(deadline))
    mode = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.notebookConfig.windowingMode")
    assert mode == "none", f"the windowingMode setting did not apply (got {mode!r}); off-screen cells may not render"


def run_all_cells(page, rel_path, deadline):
    """Run every cell as Run > Run All Cells does; wait until no cell is queued and the kernel is idle."""
    # Keep the command's promise on window: it resolves (false if a cell failed) once execution ends.
    page.evaluate("""() => {
        window.__labvaeRunAll = undefined;
        window.jupyterapp.commands.execute('notebook:run-all-cells').then(
            ok => { window.__labvaeRunAll = ok ? 'ok' : 'a cell failed'; },
            err => { window.__labvaeRunAll = 'error: ' + err; });
    }""")
    page.wait_for_function("() => window.__labvaeRunAll !== undefined", timeout=ms_left(deadline))
    page.wait_for_function(
        """path => !Array.from(document.querySelectorAll('.jp-InputPrompt')).some(p => p.textContent.includes('[*]'))
            && (""" + KERNEL_IDLE_JS + ")(path)", arg=rel_path, timeout=ms_left(deadline))
    return page.evaluate("() => window.__labvaeRunAll")


def output_problems(page):
    """Tracebacks, widget errors, or widgets shown as plain text (their repr) instead of rendered."""
    return page.evaluate(r"""() => {
        const problems = [];
        const outputs = document.querySelectorAll('.jp-OutputArea-output');
        for (const out of outputs) {
            const mime = out.getAttribute('data-mime-type') || '';
            const text = out.textContent;
            if ((mime === 'application/vnd.jupyter.stderr' || mime === 'application/vnd.jupyter.error')
                    && /Traceback|Error/.test(text)) problems.push('kernel error: ' + text);
            if (mime === 'text/plain' && /\b(ZExplorer|VBox|FloatSlider|LatentPad)\(/.test(text))
                problems.push('widget shown as plain text (widget manager missing?): ' + text);
            if (text.includes('Error displaying widget')) problems.push(text);
        }
        return problems.map(p => p.slice(0, 2000));
    }""")


def wait_for_explorers(page, min_models, deadline):
    """Wait until an explorer with at least `min_models` decoded images has rendered; return it."""
    try:
        page.wait_for_function(
            """n => Array.from(document.querySelectorAll('.labvae-explorer')).some(ex =>
                    ex.querySelectorAll('img.labvae-decoded').length >= n
                    && ex.querySelector('.labvae-z1 :is(.noUi-handle, .ui-slider-handle)')
                    && ex.querySelector('.labvae-z2 :is(.noUi-handle, .ui-slider-handle)'))""",
            arg=min_models, timeout=min(ms_left(deadline), WAIT_S * 1000))
    except sync_api.TimeoutError:
        problems = output_problems(page)
        found = page.evaluate("""() => Array.from(document.querySelectorAll('.labvae-explorer'))
                                   .map(ex => ex.querySelectorAll('.labvae-decoded').length)""")
        pytest.fail(f"no rendered explorer with >= {min_models} decoded image(s); explorers found with "
                    f"image counts {found}; output problems: {problems}; console: {page.console_errors}")
    index = page.evaluate("""n => Array.from(document.querySelectorAll('.labvae-explorer'))
                               .findIndex(ex => ex.querySelectorAll('img.labvae-decoded').length >= n)""",
                          min_models)
    return page.locator(".labvae-explorer").nth(index)


def wait_for_images(explorer):
    """Wait (bounded) until every image in the explorer has loaded its current src."""
    explorer.page.wait_for_function(
        "ex => Array.from(ex.querySelectorAll('img')).every(i => i.complete && i.naturalWidth > 0)",
        arg=explorer.element_handle(), timeout=WAIT_S * 1000)


def snapshot(explorer):
    """What the user sees now: the z label, each decoded image's src and pixels, each marker's pixels."""
    wait_for_images(explorer)
    decoded = explorer.locator("img.labvae-decoded")
    markers = explorer.locator("img.labvae-sweep-marker")
    return {
        "z": explorer.locator(".labvae-z").inner_text().strip(),
        "src": [decoded.nth(i).get_attribute("src") for i in range(decoded.count())],
        "pixels": [decoded.nth(i).screenshot() for i in range(decoded.count())],
        "markers": [markers.nth(i).screenshot() for i in range(markers.count())],
    }


def readout(explorer, slider):
    """The number a slider shows beside its track (updated by the browser, not the kernel)."""
    text = explorer.locator(f".{slider} .widget-readout").inner_text().strip()
    return float(text.replace("\u2212", "-"))  # d3-format writes negatives with a Unicode minus


def move_z1(page, explorer, rel_path, deadline):
    """Focus the z1 handle and press arrow keys toward the centre; wait for the kernel's redraw."""
    start = readout(explorer, "labvae-z1")
    key = "ArrowLeft" if start > 0 else "ArrowRight"  # a notebook may park z1 at either end
    explorer.locator(".labvae-z1").locator(".noUi-handle, .ui-slider-handle").first.focus()
    for _ in range(PRESSES):
        page.keyboard.press(key)
    z1, z2 = readout(explorer, "labvae-z1"), readout(explorer, "labvae-z2")
    assert z1 != start, f"{key} on the focused z1 handle did not move the slider (still {start:+.2f})"
    expected = f"z = [{z1:+.2f}, {z2:+.2f}]"
    # The kernel updates the label first, then the images; once the label shows the final z and the
    # kernel is idle again, every image message of that redraw has arrived.
    try:
        page.wait_for_function(
            """([path, label, text]) => label.textContent.includes(text) && (""" + KERNEL_IDLE_JS + ")(path)",
            arg=[rel_path, explorer.locator(".labvae-z").element_handle(), expected],
            timeout=min(ms_left(deadline), WAIT_S * 1000))
    except sync_api.TimeoutError:
        pass  # a broken explorer never redraws: the assertions on what the user sees say so
    return expected


def move_beta(page, explorer, rel_path, deadline):
    """Press one arrow key on the beta slider's handle; wait until the panel's title names the new beta."""
    start = explorer.locator(".labvae-beta .widget-readout").inner_text().strip()
    explorer.locator(".labvae-beta").locator(".noUi-handle, .ui-slider-handle").first.focus()
    page.keyboard.press("ArrowLeft")
    shown = explorer.locator(".labvae-beta .widget-readout").inner_text().strip()
    assert shown != start, f"ArrowLeft on the focused beta handle did not move the slider (still {start})"
    try:
        page.wait_for_function(
            """([path, title, text]) => title.textContent.includes(text) && (""" + KERNEL_IDLE_JS + ")(path)",
            arg=[rel_path, explorer.locator(".labvae-title").first.element_handle(), f"\u03b2 = {shown}"],
            timeout=min(ms_left(deadline), WAIT_S * 1000))
    except sync_api.TimeoutError:
        pass  # the assertions on what the user sees say what went wrong
    return start, shown


def screenshot_explorer(page, explorer, path):
    """Save an element screenshot of the whole explorer, growing the window first so it fits on screen."""
    height = explorer.bounding_box()["height"]
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], int(height) + 300)})
    explorer.scroll_into_view_if_needed()
    path.parent.mkdir(parents=True, exist_ok=True)
    explorer.screenshot(path=path)


def pad_pixels(pad):
    """The pad's z label and every decoded image's 28x28 pixels, read from their canvases."""
    return pad.evaluate("""root => [root.querySelector('.labvae-pad-z').textContent,
        Array.from(root.querySelectorAll('canvas.labvae-pad-image')).map(c =>
            Array.from(c.getContext('2d').getImageData(0, 0, 28, 28).data))]""")


def drag_pad(page, min_models, name, deadline):
    """Drag across the notebook's latent pad: z and every model's image must follow the pointer."""
    pad = page.locator(".labvae-pad").first
    try:
        pad.locator("canvas.labvae-pad-image").nth(min_models - 1).wait_for(timeout=min(ms_left(deadline), WAIT_S * 1000))
    except sync_api.TimeoutError:
        pytest.fail(f"no latent pad with >= {min_models} image(s); output problems: {output_problems(page)}; "
                    f"console: {page.console_errors}")
    area = pad.locator(".labvae-pad-area")
    area.scroll_into_view_if_needed()
    box = area.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.2)
    before = pad_pixels(pad)
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    for i in range(1, 11):
        page.mouse.move(box["x"] + box["width"] * (0.2 + 0.06 * i), box["y"] + box["height"] * (0.2 + 0.05 * i))
    page.mouse.up()
    after = pad_pixels(pad)
    pad.scroll_into_view_if_needed()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pad.screenshot(path=ARTIFACTS / f"{name.removesuffix('.ipynb')}.png")
    assert before[0] != after[0], f"the pad's z label did not follow the drag ({before[0]!r})"
    assert len(after[1]) >= min_models
    still = [i for i, (a, b) in enumerate(zip(before[1], after[1])) if a == b]
    assert not still, f"image(s) {still} of the pad did not change while z moved {before[0]!r} -> {after[0]!r}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_explorer_in_jupyterlab(page, lab, name):
    """Run the notebook in JupyterLab, move z1 with the keyboard, and see every decoded image change."""
    rel_path = f"notebooks/{name}"
    assert (ROOT / rel_path).exists(), f"{rel_path} is missing: the explorer notebooks are part of the course"
    try:
        work = headless_seconds(rel_path)
    except Exception as e:  # a cell that raised or hung: say so before any browser work
        pytest.fail(f"{rel_path} fails headless, before the browser opens it: {type(e).__name__}: {str(e)[-2000:]}")
    budget = BROWSER_OVERHEAD_S + WORK_FACTOR * work
    deadline = time.monotonic() + budget
    print(f"{name}: headless run {work:.1f}s, browser budget {budget:.0f}s")

    open_notebook(page, lab, rel_path, deadline)
    result = run_all_cells(page, rel_path, deadline)
    problems = output_problems(page)
    assert not problems, "\n\n".join(problems)
    assert result == "ok", f"Run All Cells: {result}; console: {page.console_errors}"

    if name in PAD:
        drag_pad(page, 2 if name in MULTI_MODEL else 1, name, deadline)
        assert not output_problems(page), output_problems(page)
        return
    explorer = wait_for_explorers(page, 2 if name in MULTI_MODEL else 1, deadline)
    before = snapshot(explorer)
    expected_z = move_z1(page, explorer, rel_path, deadline)
    after = snapshot(explorer)

    screenshot_explorer(page, explorer, ARTIFACTS / f"{name.removesuffix('.ipynb')}.png")
    n = len(before["src"])
    assert len(after["src"]) == n >= 1
    moved = f"after moving z1 (z label {before['z']!r} -> {after['z']!r}, sliders show {expected_z!r})"
    unchanged_src = [i for i in range(n) if after["src"][i] == before["src"][i]]
    assert not unchanged_src, f"decoded image(s) {unchanged_src} of {n} kept their src {moved}"
    unchanged_px = [i for i in range(n) if after["pixels"][i] == before["pixels"][i]]
    assert not unchanged_px, f"decoded image(s) {unchanged_px} of {n} look the same on screen {moved}"
    assert after["z"] == expected_z, f"the z label does not follow the sliders {moved}"
    unmoved = [i for i, (a, b) in enumerate(zip(before["markers"], after["markers"])) if a == b]
    assert not unmoved, f"the red marker on sweep thumbnail(s) {unmoved} did not move {moved}"
    if name in BETA_SLIDER:
        start, shown = move_beta(page, explorer, rel_path, deadline)
        switched = snapshot(explorer)
        title = explorer.locator(".labvae-title").first.inner_text()
        assert f"\u03b2 = {shown}" in title, f"moving beta {start} -> {shown} left the title at {title!r}"
        assert switched["z"] == after["z"], "moving beta must keep z"
        assert switched["pixels"][0] != after["pixels"][0], f"beta {start} -> {shown}: the decoded image did not change"
        assert switched["markers"][0] != after["markers"][0], f"beta {start} -> {shown}: the sweep did not switch"
    assert not output_problems(page), output_problems(page)
