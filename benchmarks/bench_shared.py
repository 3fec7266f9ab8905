"""K trainings at once on C cores, as a class on one server runs them: each one's time against one alone.

Each copy is a fresh Python process that imports labvae, loads the data and builds the lab's VAE, then
waits; when all K are ready they start `labvae.fit` together (fp32, as on Colab and most laptops) and
each reports its wall time. Each K runs twice: "default" keeps torch's own thread count (the worker
sets OMP_NUM_THREADS to it before importing labvae, so labvae leaves it alone: what every kernel did
before fit_threads), "fitted" lets labvae.fit_threads choose, at import and at each epoch. "One alone"
is the faster of the two K = 1 runs: a student's time when the copy has the machine to itself. Target:
in the fitted rounds each of K copies finishes within 1.5 x K/C x one alone (K/C is the ideal: K
copies share C cores; 1 when K < C). A round still running after --timeout seconds is killed and fails.

Each copy's CPU seconds (all its threads, spinning ones too) are printed beside its wall time: on a
machine that others use they show whether the copies compute or spin, whatever share of the cores
the others leave them. The load average at the start and end of each K is printed: on a machine that others use too the
figures measure K copies *plus* their work, and "one alone" is then not alone either.
--cpus 0 pins every copy to CPU 0 (sched_setaffinity), as a pod whose cpuset holds one CPU: torch's
default then is 1 thread already. A pod limited by a cgroup quota instead gets one thread per core
of the host; --cpus 0 --default-threads 2 emulates that on 2 cores (without the quota's throttling).

    python benchmarks/bench_shared.py                 # K = 1, 4, 8 on this machine's cores
    python benchmarks/bench_shared.py --cpus 0 --default-threads 2 --copies 4
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import torch


def worker(data: str, n_train: int, epochs: int, mode: str, default_threads: int | None) -> None:
    """One copy: import, load, build; print 'ready'; on 'go' train and print its time as JSON."""
    if mode == "default":  # torch's own count under this affinity, set as a user would: labvae keeps it
        if default_threads:  # what torch would start where it cannot see the limit (a cgroup quota)
            torch.set_num_threads(default_threads)
        os.environ["OMP_NUM_THREADS"] = str(torch.get_num_threads())
    import labvae
    from labvae import training

    used = []  # the thread count of each epoch (and of the test passes)
    fit_threads = training.fit_threads

    def recording():
        decision = fit_threads()
        used.append(torch.get_num_threads())
        return decision

    training.fit_threads = recording
    x_train, _ = labvae.load_fashion_mnist(data, train=True)
    x_test, _ = labvae.load_fashion_mnist(data, train=False)
    model = labvae.VAE()  # the lab's VAE: 512 hidden units, a 2-d latent space
    print("ready", flush=True)
    sys.stdin.readline()
    start, cpu = time.perf_counter(), time.process_time()
    labvae.fit(model, x_train[:n_train], x_test, epochs=epochs, precision="fp32", progress=False)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu  # cpu: all threads, spinning too
    print(json.dumps({"seconds": seconds, "cpu": cpu, "threads": used}), flush=True)


def run_copies(k: int, mode: str, args, data: str) -> list[dict]:
    """Start k copies, let them all get ready, start them together, return each one's result."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    command = [sys.executable, __file__, "--worker", data, "--mode", mode, "--n-train", str(args.n_train),
               "--epochs", str(args.epochs), "--default-threads", str(args.default_threads or 0)]
    procs = [subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for _ in range(k)]
    for p in procs:
        line = p.stdout.readline()
        if line.strip() != "ready":
            raise SystemExit(f"a copy failed to start: {line!r}; its error is above.")
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    timer = threading.Timer(args.timeout, lambda: [p.kill() for p in procs])  # a collapse must not run for ever
    timer.start()
    results = [json.loads(p.stdout.readline() or "null") for p in procs]
    timer.cancel()
    for p in procs:
        p.wait()
    return [r or {"seconds": float("inf"), "cpu": float("inf"), "threads": []} for r in results]  # killed: did not finish in time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="fitted", help=argparse.SUPPRESS)
    parser.add_argument("--data", help="a folder with FashionMNIST/raw/ (default: synthetic, written to a temp folder)")
    parser.add_argument("--copies", default="4,8", help="K values beside 1, comma-separated (default: 4,8)")
    parser.add_argument("--cpus", help="pin every copy to these CPUs, e.g. 0 (default: all)")
    parser.add_argument("--n-train", type=int, default=1500, help="training images per copy (default: 1500)")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per copy (default: 4; fit_threads runs at each)")
    parser.add_argument("--default-threads", type=int, help="threads of the default rounds (default: torch's own "
                        "under the affinity); 2 with --cpus 0: a 1-CPU-quota pod on a 2-core host")
    parser.add_argument("--timeout", type=float, default=300, help="seconds before a round's copies are killed")
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.n_train, args.epochs, args.mode, args.default_threads)
    if args.cpus:
        os.sched_setaffinity(0, {int(c) for c in args.cpus.split(",")})  # the copies inherit it
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if not data:
            import labvae

            labvae.make_synthetic_fashion(tmp, n_train=args.n_train, n_test=500)
            data = tmp
        print(f"C = {cores} cores (affinity), {os.cpu_count()} online; torch {torch.__version__}; "
              f"{args.n_train} images x {args.epochs} epochs per copy, fp32; load at start: "
              f"{open('/proc/loadavg').read().strip()}", flush=True)
        modes = ("default", "fitted")
        ones = {mode: measure(1, mode, args, data) for mode in modes}
        alone = min(r["seconds"] for _, results, _ in ones.values() for r in results)  # one alone at its best
        cpu_alone = min(r["cpu"] for _, results, _ in ones.values() for r in results)
        failed = any([report(mode, 1, ones[mode], alone, cores, args.timeout) for mode in modes])
        for k in [int(k) for k in args.copies.split(",")]:
            for mode in modes:
                failed |= report(mode, k, measure(k, mode, args, data), alone, cores, args.timeout)
        print(f"one alone = {alone:.2f} s, the faster of the two K = 1 runs; CPU seconds of the leaner: "
              f"{cpu_alone:.2f}")
    sys.exit(1 if failed else 0)


def measure(k: int, mode: str, args, data: str) -> tuple[float, list[dict], float]:
    """(load average before, each copy's result, load average after) for k copies in this mode."""
    load0 = os.getloadavg()[0]
    results = run_copies(k, mode, args, data)
    return load0, results, os.getloadavg()[0]


def report(mode: str, k: int, run: tuple, alone: float, cores: int, timeout: float) -> bool:
    """Print one run's line against one alone; True if a fitted run missed its goal."""
    load0, results, load1 = run
    times = sorted(r["seconds"] for r in results)
    ratios = [t / alone for t in times]
    ideal = max(1.0, k / cores)  # fewer copies than cores: each has a core of its own
    goal = 1.5 * ideal
    verdict = "PASS" if max(ratios) <= goal else "FAIL"
    seen = sorted({n for r in results for n in r["threads"]})
    cpus = sorted(r["cpu"] for r in results)  # CPU seconds: what spinning threads waste shows here
    cpu_text = f"{cpus[0]:.2f}-{cpus[-1]:.2f}" if cpus[-1] < float("inf") else "unknown (killed)"
    if times[-1] == float("inf"):  # killed at --timeout: more than that, by how much unknown
        times = [min(t, timeout) for t in times]
        ratios = [t / alone for t in times]
    late = ">" if verdict == "FAIL" and ratios[-1] == timeout / alone else ""
    print(f"{mode:7s} K={k}: each {min(times):.2f}-{late}{max(times):.2f} s = {min(ratios):.1f}-{late}{max(ratios):.1f}x "
          f"one alone (ideal {ideal:.1f}x, goal <= {goal:.1f}x: {verdict}); torch threads {seen}; "
          f"load {load0:.1f} -> {load1:.1f}; CPU s each {cpu_text}", flush=True)
    return mode == "fitted" and verdict == "FAIL"


if __name__ == "__main__":
    main()
