"""Helpers for the checks' tests: the solutions as the notebooks write them, and how a verdict must look."""

from pathlib import Path

import nbformat
import torch

import labvae

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def solution(notebook: str, symbol: str, cfg=None):
    """The function a solution notebook's exercise cell defines: the student's answer done right.

    cfg: the notebook's `cfg` (default: lab_config(), smoke mode in the tests).
    """
    nb = nbformat.read(NOTEBOOKS / f"{notebook}.ipynb", as_version=4)
    namespace = {"torch": torch, "labvae": labvae, "cfg": cfg or labvae.lab_config(progress=False)}
    for cell in nb.cells:  # every answer of the notebook: vae_loss calls the notebook's kl_divergence
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            exec(cell.source, namespace)
    return namespace[symbol]


def verdict(check, answer, capsys):
    """Run a check; it must print exactly its one-line message and return it."""
    result = check(answer)
    printed = capsys.readouterr().out
    assert printed == result.message + "\n" and "\n" not in result.message
    return result


def assert_flags(check, answer, hint, capsys):
    result = verdict(check, answer, capsys)
    assert result.status == "wrong" and not result.passed, result.message
    assert hint in result.message, result.message
    return result
