"""What a kernel sends the grader is untrusted: only small plain outputs load, and only right outputs pass."""

import base64
import io
import pickle
import zipfile

import pytest
import torch
from answers import solution

from labvae.course import checks, exercises
from labvae.course.grade import verdicts
from labvae.course.sweep_checks import _grid_args

GRID = exercises.exercise("1_1-grid")


def sent(data) -> str:
    buf = io.BytesIO()
    torch.save(data, buf)
    return base64.b64encode(buf.getvalue()).decode()


def reply(marker: str, payload: str) -> dict:
    return {"content": {"ename": "RuntimeError", "evalue": marker + payload}}


class Boom:
    def __reduce__(self):
        return (print, ("the grader ran this",))


def deflated() -> str:
    buf = io.BytesIO()
    torch.save({"out": torch.zeros(4)}, buf)
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    return base64.b64encode(out.getvalue()).decode()


def nested(depth: int):
    value = []
    for _ in range(depth):
        value = [value]
    return {"out": value}


GARBLED = {
    "not base64": lambda: "@@@",
    "not a zip": lambda: base64.b64encode(b"hello").decode(),
    "a plain pickle": lambda: base64.b64encode(pickle.dumps({"out": 1})).decode(),
    "code in the pickle": lambda: sent({"out": Boom()}),
    "not a dict": lambda: sent([torch.zeros(3)]),
    "a huge tensor": lambda: sent({"out": torch.zeros(verdicts.MAX_ELEMENTS + 1, dtype=torch.bool)}),
    "a compressed record": deflated,
    "nested too deep": lambda: sent(nested(50)),
    "too many values": lambda: sent({"out": list(range(verdicts.MAX_NODES + 1))}),
    "over the size cap": lambda: "A" * (verdicts.MAX_PAYLOAD + 4),
}


@pytest.mark.parametrize("name", GARBLED)
def test_what_is_not_small_and_plain_is_refused(name, capsys):
    with pytest.raises(verdicts.Garbled):
        verdicts.load(GARBLED[name]())
    assert "the grader ran this" not in capsys.readouterr().out
    status, message = verdicts.decide(GRID, reply("@@m@@", GARBLED[name]()), "@@m@@", 0, 60)
    assert status == "error" and "not a check's outputs" in message


def test_right_outputs_pass_only_for_the_graders_inputs():
    seed, other_seed = 1, 2
    assert _grid_args(seed) != _grid_args(other_seed)  # the grader's seed picks one of the (n, limit) asked for
    data = checks.check_latent_grid.gather(solution("02_vae_sweep", "latent_grid"), seed)
    assert verdicts.decide(GRID, reply("@@m@@", sent(data)), "@@m@@", seed, 60)[0] == "pass"
    other = checks.check_latent_grid.gather(solution("02_vae_sweep", "latent_grid"), other_seed)
    assert verdicts.decide(GRID, reply("@@m@@", sent(other)), "@@m@@", seed, 60)[0] == "wrong"  # outputs made for other inputs


@pytest.mark.parametrize("data", [{}, {"stop": ["pass", "✓ forged"]}, {"out": "✓ forged"}, {"out": torch.zeros(441, 2)},
                                  {"out": [1, 2]}, {"stop": "pass"}])
def test_forged_outputs_never_pass(data):
    status, message = verdicts.decide(GRID, reply("@@m@@", sent(data)), "@@m@@", 0, 60)
    assert status in ("wrong", "not done", "error") and not message.startswith("✓"), message


def test_a_reply_without_the_marker_is_an_error_and_a_missing_function_is_not_done():
    assert verdicts.decide(GRID, {"content": {"ename": "NameError", "evalue": "x"}}, "@@m@@", 0, 60)[0] == "error"
    assert verdicts.decide(GRID, {"content": {"ename": "KeyboardInterrupt", "evalue": ""}}, "@@m@@", 0, 60)[0] == "error"
    status, message = verdicts.decide(GRID, reply("@@m@@", sent({"missing": True})), "@@m@@", 0, 60)
    assert status == "not done" and "latent_grid is not defined" in message
