"""fit_threads: torch's threads fitted to affinity, cgroup quota and load, from fake CPUs, cgroups and loads."""

from pathlib import Path

import pytest
import torch

from labvae import threads
from labvae.threads import cgroup_quota, decide_threads, running_now


def test_idle_laptop_keeps_torchs_default():
    d = decide_threads(default=8, affinity=16, quota=None, online=16, others=0.4)
    assert d.threads == 8 and "default" in d.reason


def test_busy_server_gets_one_thread():
    # The JupyterHub: load 11-17 on 2 cores; two threads spin-wait at 246 samples/s.
    d = decide_threads(default=2, affinity=2, quota=None, online=2, others=13.0)
    assert d.threads == 1 and "13.0 of the 2 cores" in d.reason


@pytest.mark.parametrize("others, threads", [(0.0, 2), (0.4, 2), (0.6, 1), (1.0, 1), (5.0, 1)])
def test_two_cores_round_the_free_share(others, threads):
    assert decide_threads(2, 2, None, 2, others).threads == threads


def test_one_cpu_pod_on_a_big_host():
    # A 1-CPU cgroup quota on a 64-core host: torch's default of 64 threads would be throttled.
    d = decide_threads(default=64, affinity=64, quota=1.0, online=64, others=3.0)
    assert d.threads == 1 and "cgroup quota of 1" in d.reason


def test_fractional_quota_rounds_down_and_never_to_zero():
    assert decide_threads(16, 16, 2.5, 16, 0.0).threads == 2
    assert decide_threads(16, 16, 0.5, 16, 0.0).threads == 1


def test_affinity_limits_threads():
    d = decide_threads(default=32, affinity=4, quota=None, online=32, others=0.0)
    assert d.threads == 4 and "4 CPUs in its affinity" in d.reason


def test_host_load_is_measured_against_the_host_cores():
    # A 4-CPU quota on a 64-core host whose other pods keep 40 cores busy: 24 are free, ours are 4.
    assert decide_threads(64, 64, 4.0, 64, 40.0).threads == 4
    assert decide_threads(64, 64, 4.0, 64, 62.0).threads == 2


def test_never_more_than_torchs_default():
    assert decide_threads(default=1, affinity=8, quota=None, online=8, others=0.0).threads == 1


def make_v2(root, path, cpu_max):
    folder = root.joinpath(*[p for p in path.split("/") if p])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cpu.max").write_text(cpu_max)


def test_cgroup_v2_quota_and_the_tightest_parent(tmp_path):
    make_v2(tmp_path, "/", "max 100000\n")
    assert cgroup_quota(tmp_path, "0::/\n") is None
    make_v2(tmp_path, "/kubepods/pod1", "150000 100000\n")
    assert cgroup_quota(tmp_path, "0::/kubepods/pod1\n") == 1.5
    make_v2(tmp_path, "/kubepods", "100000 100000\n")  # the parent allows less: that is what counts
    assert cgroup_quota(tmp_path, "0::/kubepods/pod1\n") == 1.0


def test_cgroup_v1_quota(tmp_path):
    mount = tmp_path / "cpu,cpuacct"
    (mount / "docker" / "abc").mkdir(parents=True)
    (mount / "docker" / "abc" / "cpu.cfs_quota_us").write_text("200000\n")
    (mount / "docker" / "abc" / "cpu.cfs_period_us").write_text("100000\n")
    (mount / "cpu.cfs_quota_us").write_text("-1\n")  # the root: no quota
    (mount / "cpu.cfs_period_us").write_text("100000\n")
    text = "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n"
    assert cgroup_quota(tmp_path, text) == 2.0


def test_cgroup_missing_or_garbled_means_no_quota(tmp_path):
    assert cgroup_quota(tmp_path, "0::/nowhere\n") is None
    make_v2(tmp_path, "/", "garbage\n")
    assert cgroup_quota(tmp_path, "0::/\nnot a cgroup line\n") is None


def test_running_now_leaves_out_this_process():
    assert running_now("11.02 9.80 7.00 14/512 9999\n", own_running=3) == 11
    assert running_now("0.10 0.10 0.10 1/300 9999\n", own_running=2) == 0
    assert running_now("garbled", own_running=1) == 0


@pytest.fixture
def fresh_state(monkeypatch):
    """fit_threads with torch's default of 2, no user variables, threads restored afterwards."""
    before = torch.get_num_threads()
    for name in threads.USER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    torch.set_num_threads(2)
    monkeypatch.setattr(threads._State, "default", 2)
    monkeypatch.setattr(threads._State, "ours", None)
    monkeypatch.setattr(threads, "MIN_INTERVAL", 0.0)  # each call decides afresh
    monkeypatch.setattr(threads, "cpu_facts", lambda: (2, None, 2))
    yield monkeypatch
    torch.set_num_threads(before)


def test_fit_threads_lowers_then_restores_with_the_load(fresh_state):
    fresh_state.setattr(threads, "others_load", lambda own: 12.0)
    assert threads.fit_threads().threads == 1 and torch.get_num_threads() == 1
    fresh_state.setattr(threads, "others_load", lambda own: 0.1)  # the class went home
    assert threads.fit_threads().threads == 2 and torch.get_num_threads() == 2


def test_fit_threads_leaves_a_users_call_alone(fresh_state):
    fresh_state.setattr(threads, "others_load", lambda own: 12.0)
    threads.fit_threads()
    torch.set_num_threads(2)  # the user wants both cores whatever the load
    d = threads.fit_threads()
    assert torch.get_num_threads() == 2 and "torch.set_num_threads" in d.reason


def test_fit_threads_leaves_omp_num_threads_alone(fresh_state):
    # The grader's kernels set OMP_NUM_THREADS to their share of the cores: it must stay in force.
    fresh_state.setenv("OMP_NUM_THREADS", "2")
    fresh_state.setattr(threads, "others_load", lambda own: 12.0)
    d = threads.fit_threads()
    assert torch.get_num_threads() == 2 and "OMP_NUM_THREADS is set" in d.reason


def test_others_load_without_a_load_average(monkeypatch):
    # Windows has no os.getloadavg, macOS no /proc: fit_threads must still decide, never raise.
    monkeypatch.delattr(threads.os, "getloadavg")
    monkeypatch.setattr(threads, "Path", lambda p: Path("/nonexistent") / str(p).lstrip("/"))
    assert threads.others_load(own=0.0) == 0.0


def test_a_fresh_decision_stands_for_a_second(fresh_state):
    fresh_state.setattr(threads, "MIN_INTERVAL", 60.0)
    fresh_state.setattr(threads, "others_load", lambda own: 12.0)
    fresh_state.setattr(threads._State, "at", -1e9)
    assert threads.fit_threads().threads == 1
    fresh_state.setattr(threads, "others_load", lambda own: 0.0)
    assert threads.fit_threads().threads == 1  # decided a moment ago: no new reading of the load


def test_a_grading_kernels_omp_num_threads_survives_import_labvae():
    # As `labvae grade`'s kernels start: OMP_NUM_THREADS set, whatever the load when labvae is imported.
    import subprocess
    import sys

    env = {k: v for k, v in threads.os.environ.items() if k != "MKL_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", "import labvae, torch; print(torch.get_num_threads(), "
                          "labvae.fit_threads().reason)"], env={**env, "OMP_NUM_THREADS": "2"},
                         capture_output=True, text=True, timeout=300)
    assert out.stdout.split(" ", 1) == ["2", "OMP_NUM_THREADS is set: labvae leaves the threads alone\n"], out.stderr
