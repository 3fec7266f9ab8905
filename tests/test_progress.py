"""Progress bars in a notebook: one widget per model trained, not one per epoch (issue 17)."""

import json
import os
from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed: pip install 'labvae[instructor]'")
nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed: pip install 'labvae[instructor]'")

ROOT = Path(__file__).resolve().parents[1]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
PROGRESS_MODELS = {"FloatProgressModel", "IntProgressModel"}  # what a tqdm bar in a notebook is built on


def run_notebook(path, cache):
    """Execute a notebook in smoke mode with an empty cache (so every model trains); keep widget state."""
    nb = nbformat.read(path, as_version=4)
    env = {**os.environ, "LABVAE_SMOKE": "1", "LABVAE_CACHE": str(cache)}
    old = dict(os.environ)
    os.environ.update(env)  # nbclient's kernel inherits this process's environment
    try:
        nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", store_widget_state=True,
                                resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return nb


def test_one_progress_widget_per_model_trained(tmp_path):
    """The appendix trains the most models (three per seed, the converged AE, the classifier): count its bars."""
    nb = run_notebook(ROOT / "notebooks" / "06_appendix.ipynb", tmp_path / "cache")
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    views = [o for o in outputs if WIDGET_VIEW in o.get("data", {})]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    trained = text.count("training ")  # load_or_train says "training the KIND (...) for N epochs -> PATH" per model
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    bars = [m for m in state.values() if m.get("model_name") in PROGRESS_MODELS]
    assert trained >= 9, f"06 should train its models from an empty cache, but said 'training' {trained} times"
    assert len(bars) <= trained, f"{len(bars)} progress bars for {trained} models trained: one per model, please"
    # Every widget output besides the bars is an explorer: a handful in all, not one per epoch.
    assert len(views) <= trained + 5, (f"06 shows {len(views)} widget outputs for {trained} models trained; "
                                       f"widget models in all: {len(state)}")
    assert json.dumps(nb.metadata.get("widgets", {}))  # the state is plain JSON, as Jupyter saves it
