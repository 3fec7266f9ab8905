from pathlib import Path

from labvae.config import CONVERGED_STEPS, SEEDS, LabConfig


def test_each_seed_has_its_own_checkpoints(data, tmp_path):
    x_train, _, x_test, _ = data
    cfg = LabConfig(data="synthetic", epochs=1, out=tmp_path, progress=False, device="cpu")
    assert cfg.with_seed(0) is cfg and cfg.with_seed(2).out == tmp_path / "seed2" and cfg.with_seed(2).seed == 2
    a = cfg.with_seed(0).model("ae", x_train[:300], x_test[:50])
    b = cfg.with_seed(1).model("ae", x_train[:300], x_test[:50])
    assert (tmp_path / "ae.pt").is_file() and (tmp_path / "seed1" / "ae.pt").is_file()
    assert a.config.seed == 0 and b.config.seed == 1
    assert not all((p == q).all() for p, q in zip(a.parameters(), b.parameters()))


def test_longer_training_gets_its_own_file(data, tmp_path):
    x_train, _, _, _ = data
    cfg = LabConfig(data="synthetic", epochs=1, out=tmp_path, progress=False, device="cpu")
    short = cfg.model("ae", x_train[:300])
    long = cfg.model("ae", x_train[:300], epochs=3)
    assert (tmp_path / "ae.pt").is_file() and (tmp_path / "ae-3ep.pt").is_file()
    assert short.history.epochs == 1 and long.history.epochs == 3


def test_converged_epochs_give_the_same_number_of_steps():
    cfg = LabConfig(data=Path("."))
    assert cfg.converged_epochs(60000) * 60000 / cfg.batch_size >= CONVERGED_STEPS
    assert cfg.converged_epochs(8226) == 206  # 6,600 steps of 256 on the partial training set
    assert cfg.converged_epochs(10**7) == cfg.epochs  # never fewer than the lab's
    assert len(SEEDS) == 3
