import json
import os
import subprocess
import sys

import pytest
from PIL import Image


def run(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "labvae", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=300)


def test_sweep_on_synthetic_data(tmp_path):
    out = tmp_path / "results"
    r = run("sweep", "--data", "synthetic", "--epochs", "1", "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    for name in ("vae_grid.png", "ae_grid.png"):
        with Image.open(out / name) as im:
            assert im.size == (588, 588) and im.mode == "L"
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= {"vae", "ae"}
    assert metrics["vae"]["config"]["kind"] == "vae" and metrics["ae"]["config"]["hidden_dim"] is None
    for key in ("train_recon", "test_recon", "test_kl", "test_loss", "epochs", "seconds"):
        assert key in metrics["vae"]
    assert (out / "vae.pt").is_file() and (out / "ae.pt").is_file()
    assert (out / "seed1" / "vae.pt").is_file() and (out / "seed2" / "ae.pt").is_file()  # no collisions


def test_sweep_verdicts_rest_on_three_seeds(synthetic_root, tmp_path):
    r = run("sweep", "--data", str(synthetic_root), "--epochs", "1", "--out", str(tmp_path), "--quiet")
    assert r.returncode == 0, r.stderr

    def no_nan(token):
        raise AssertionError(f"metrics.json holds {token}: not strict JSON")

    metrics = json.loads((tmp_path / "metrics.json").read_text(), parse_constant=no_nan)
    assert metrics["claims"]["seeds"] == [0, 1, 2]
    assert [s["seed"] for s in metrics["ae"]["comparison_by_seed"]] == [0, 1, 2]
    words = {"holds", "does not hold", "mixed", "cannot tell", "depends on the seed"}
    for c in metrics["claims"]["verdicts"]:
        assert set(c["verdicts"]) == {"lab AE (linear)"} and c["verdicts"]["lab AE (linear)"] in words
        assert len(c["per_seed"]["lab AE (linear)"]) == 3 and c["primary"] and c["secondary"]
    grey = next(row for row in metrics["judge"]["calibration"] if row["input"] == "flat grey 0.50")
    assert grey["frac_garment"] == 0
    # What the report claims and the sweep alone never shows: interpolation, the aggregate posterior, train/test.
    assert (tmp_path / "interpolation.png").stat().st_size > 10_000 and (tmp_path / "posterior.png").stat().st_size > 10_000
    for key in ("frac_path_garment", "path_jump_share", "kl_gauss", "ks_max", "fit_gap", "train_loss_final"):
        assert key in metrics["vae"]["comparison"] and key in metrics["ae"]["comparison_by_seed"][2], key
    assert len(metrics["vae"]["comparison"]["posterior_z"]["cov"]) == 2
    assert {c["key"] for c in metrics["claims"]["verdicts"]} >= {"transitions", "not_normal", "overfit"}


def test_sweep_with_labvae_data(synthetic_root, tmp_path):
    r = run("sweep", "--epochs", "1", "--out", str(tmp_path), "--quiet", env={"LABVAE_DATA": str(synthetic_root)})
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "metrics.json").read_text())["vae"]["epochs"] == 1


def test_missing_data_is_one_readable_line(tmp_path):
    r = run("sweep", "--out", str(tmp_path / "out"), env={"LABVAE_DATA": str(tmp_path / "nothing")})
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "LABVAE_DATA" in lines[0] and "--data synthetic" in lines[0]
    assert not (tmp_path / "out" / "metrics.json").exists()


def test_bad_arguments(tmp_path):
    r = run("sweep", "--epochs", "zero")
    assert r.returncode == 2 and "whole number" in r.stderr and "Traceback" not in r.stderr
    r = run("sweep", "--data", str(tmp_path / "missing-folder"))
    assert r.returncode == 1 and "is not a folder" in r.stderr and "Traceback" not in r.stderr
    r = run("sweep", "--data", "synthetic", "--device", "tpu9")
    assert r.returncode == 1 and "unknown device" in r.stderr and "Traceback" not in r.stderr


def test_help_explains_the_outputs():
    r = run("sweep", "--help")
    assert r.returncode == 0
    for word in ("vae_grid.png", "comparison.png", "metrics.json", "LABVAE_DATA", "synthetic", "top-left"):
        assert word in r.stdout


def test_top_level_help_points_to_the_command():
    r = run("--help")
    assert r.returncode == 0 and "sweep" in r.stdout and "--data synthetic" in r.stdout


def test_beta_writes_figure_table_and_strict_json(synthetic_root, tmp_path):
    out = tmp_path / "beta"
    r = run("beta", "--data", str(synthetic_root), "--epochs", "1", "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    with Image.open(out / "beta.png") as im:
        assert im.size[0] > 1000
    result = json.loads((out / "beta.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert list(result["models"]) == ["vae-beta0", "vae-beta0.1", "vae-beta0.5", "vae", "vae-beta2", "vae-beta4",
                                      "vae-sigma0.01"]
    assert set(result["trends"]) == {"frac_codes_inside", "test_kl"}
    assert result["settings"]["epochs"] == 1
    for row in result["models"].values():
        assert {"beta", "test_recon", "test_kl", "frac_codes_inside", "frac_cells_hit", "frac_garment",
                "classes"} <= set(row)
    assert "β=0.5" in r.stdout and "inside" in r.stdout  # the table is printed even with --quiet
    assert (out / "vae.pt").is_file() and (out / "vae-beta4.pt").is_file()


def test_beta_bad_arguments(tmp_path):
    r = run("beta", "--data", str(tmp_path / "missing-folder"))
    assert r.returncode == 1 and "is not a folder" in r.stderr and "Traceback" not in r.stderr
    r = run("beta", "--help")
    assert r.returncode == 0 and "beta.png" in r.stdout and "beta.json" in r.stdout
