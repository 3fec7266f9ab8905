"""Command line: `python -m labvae sweep` trains both models and writes their 588x588 sweeps."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from ._io import atomic_write
from .config import LABELS, LabConfig
from .data import DataError
from .grid import decode_grid, save_grid
from .training import CheckpointError, TrainingError

SWEEP_MODELS = ("vae", "ae")  # the lab's VAE and the lab's AE retrained with a 2-d code

DESCRIPTION = """\
Exploring latent spaces: train a VAE and a plain autoencoder with 2-d codes on Fashion-MNIST
and decode a 21x21 sweep over z in [-4, 4]^2 into one 588x588 image per model.

z = [-4, 4] is the top-left tile and z = [4, -4] the bottom-right: z1 grows left to right,
z2 grows bottom to top."""

SWEEP_HELP = """\
writes into --out:
  vae_grid.png, ae_grid.png   the 21x21 sweeps, 588x588 8-bit grayscale
  metrics.json                per model: config, final train/test loss, recon and kl (nats per
                              image), epochs, seconds, and the measured comparison; the
                              seed report's claims with verdicts
  comparison.png              sweeps, classifier label maps and latent scatters side by side
  vae.pt, ae.pt               checkpoints; a later run with the same settings and data loads
                              them instead of training again

data: --data ROOT reads ROOT/FashionMNIST/raw/ (the four IDX files); without --data it reads
$LABVAE_DATA, else ~/.cache/labvae/data, downloading there if it can. --data synthetic uses
generated garment-like images (no download) for a quick demo."""


EXAMPLES = """\
examples:
  python -m labvae sweep                      Fashion-MNIST from $LABVAE_DATA (else ~/.cache/labvae/data)
  python -m labvae sweep --data synthetic     generated garments: no data or network needed
  python -m labvae sweep --help               every option, and what is written where
  python -m labvae grade submitted/           run students' notebooks, write their marks to grades.csv"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m labvae", description=DESCRIPTION, epilog=EXAMPLES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sweep = sub.add_parser("sweep", help="train the VAE and the lab AE, write both sweep images",
                           description=DESCRIPTION, epilog=SWEEP_HELP,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    sweep.add_argument("--data", metavar="ROOT|synthetic", default=None,
                       help="folder holding FashionMNIST/raw/, or 'synthetic' (default: $LABVAE_DATA)")
    sweep.add_argument("--epochs", type=_positive_int, default=10, help="training epochs per model (default: 10, the lab's)")
    sweep.add_argument("--out", type=Path, default=Path("results"), help="output folder (default: results)")
    sweep.add_argument("--seed", type=int, default=0, help="seed for weights, data order and noise (default: 0)")
    sweep.add_argument("--device", default="auto", help="auto (CUDA or MPS if present, else CPU), cpu, cuda or mps")
    sweep.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                       help="training arithmetic: auto = bf16 matmuls where the hardware has them natively, else fp32")
    sweep.add_argument("--quiet", action="store_true", help="no progress bars")
    student = sub.add_parser("student", help="write the student edition of the notebooks (solutions replaced)",
                             description="Write every lesson notebook with its solution regions replaced by "
                                         "`raise NotImplementedError()` stubs and 'YOUR ANSWER HERE', outputs cleared.")
    student.add_argument("out", type=Path, metavar="OUT", help="folder for the student notebooks, e.g. notebooks/student")
    student.add_argument("--notebooks", type=Path, default=Path("notebooks"),
                         help="folder holding the solution notebooks (default: notebooks)")
    from . import grade  # the `grade` subcommand: its arguments and help live in labvae/grade.py

    grade.add_parser(sub)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def sweep(args: argparse.Namespace) -> dict:
    """Train (or load) both models, write grids, checkpoints and metrics.json; return the metrics."""
    data = args.data if args.data is not None else os.environ.get("LABVAE_DATA")
    if args.data not in (None, "synthetic") and not Path(args.data).expanduser().is_dir():
        raise DataError(f"--data {args.data} is not a folder; give a folder holding FashionMNIST/raw/, or 'synthetic'.")
    cfg = LabConfig(data=data, epochs=args.epochs, seed=args.seed, out=args.out,
                    device=args.device, precision=args.precision, progress=not args.quiet)
    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out {args.out} is a file; give a folder for the results.")
    x_train, y_train, x_test, y_test = cfg.load_data()
    say = (lambda *a: None) if args.quiet else print
    say(f"data: {cfg.data_folder()} ({len(x_train)} train, {len(x_test)} test images)")
    metrics = {}
    for name in SWEEP_MODELS:
        t0 = time.perf_counter()
        model = cfg.model(name, x_train, x_test)
        png = save_grid(decode_grid(model.decode), args.out / f"{name}_grid.png")
        metrics[name] = {"label": LABELS[name], "config": model.config.to_dict(),
                         **model.history.final(), "grid": png.name}
        say(f"{LABELS[name]}: test loss {metrics[name].get('test_loss', float('nan')):.1f} nats/image "
            f"-> {png} ({time.perf_counter() - t0:.1f} s)")
    _compare(cfg, x_train, y_train, x_test, y_test, metrics, say)
    _write_json(args.out / "metrics.json", metrics)
    say(f"wrote {args.out / 'metrics.json'}")
    return metrics


def _compare(cfg, x_train, y_train, x_test, y_test, metrics, say) -> None:
    """Measured comparison (labvae.compare): metrics per model and comparison.png."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no window
    from . import compare

    models = {name: cfg.model(name, x_train, x_test) for name in SWEEP_MODELS}  # cached: loads
    clf = compare.load_or_train_classifier(cfg.out / "classifier.pt", x_train, y_train, x_test, y_test,
                                           seed=cfg.seed, device=cfg.device)
    results = {name: compare.compare_model(model, clf, x_test, y_test) for name, model in models.items()}
    for name, r in results.items():
        metrics[name]["comparison"] = {k: v for k, v in r.items() if k != "maps"}
    metrics["classifier"] = {"test_accuracy": clf.accuracy}
    labelled = {LABELS[n]: m for n, m in models.items()}
    compare.comparison_figure(labelled, {LABELS[n]: r for n, r in results.items()}, x_test, y_test,
                              path=cfg.out / "comparison.png")
    claims = compare.judge_claims({LABELS[n]: r for n, r in results.items()}, vae=LABELS["vae"])
    metrics["claims"] = [{k: c[k] for k in ("claim", "verdict", "per_model", "evidence")} for c in claims]
    say(compare.metrics_table({LABELS[n]: r for n, r in results.items()}))
    say(f"classifier test accuracy {clf.accuracy:.1%}; wrote {cfg.out / 'comparison.png'}")


def _write_json(path: Path, obj) -> None:
    atomic_write(path, lambda f: f.write(json.dumps(obj, indent=2).encode()))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "grade":
        from . import grade

        return grade.main(args)
    try:
        if args.command == "student":
            from .student import write_student_edition

            for path in write_student_edition(args.notebooks, args.out):
                print(f"wrote {path}")
            return 0
        sweep(args)
    except (DataError, CheckpointError, TrainingError, ValueError, OSError) as e:
        print(f"labvae: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("labvae: interrupted; finished checkpoints are kept, nothing half-written.", file=sys.stderr)
        return 130
    return 0
