"""Command line: `python -m labvae sweep` trains both models and writes their 588x588 sweeps."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

from ._io import atomic_write, check_writable
from .checkpoints import CheckpointError
from .config import LABELS, SEEDS, SWEEP_MODELS, LabConfig
from .data import DataError
from .grid import decode_grid, save_grid
from .models import MAX_SEED, check_seed
from .training import TrainingError, pick_device, pick_precision

# What a subcommand may raise for bad input or a broken environment: main prints it as one line.
ERRORS = (DataError, CheckpointError, TrainingError, ValueError, OSError)

DESCRIPTION = """\
Exploring latent spaces: train a VAE and a plain autoencoder with 2-d codes on Fashion-MNIST
and decode a 21x21 sweep over z in [-4, 4]^2 into one 588x588 image per model.

z = [-4, 4] is the top-left tile and z = [4, -4] the bottom-right: z1 grows left to right,
z2 grows bottom to top."""

SWEEP_HELP = """\
writes into --out:
  vae_grid.png, ae_grid.png   the 21x21 sweeps, 588x588 8-bit grayscale
  metrics.json                per model: config, final train/test loss, recon and kl (nats per
                              image), epochs, seconds, and the measured comparison for each of
                              3 seeds (interpolation, aggregate posterior, train/test gap
                              included); the judge's calibration; the lab report's claims with
                              verdicts per AE and per seed
  comparison.png              sweeps, classifier label maps and latent scatters side by side
  interpolation.png           decoded straight lines between pairs of test images' codes
  posterior.png               each code dimension's marginal against N(0, 1), per model
  vae.pt, ae.pt               checkpoints; a later run with the same settings and data loads
                              them instead of training again (seed1/, seed2/: the other seeds)

data: --data ROOT reads ROOT/FashionMNIST/raw/ (the four IDX files); without --data it reads
$LABVAE_DATA, else ~/.cache/labvae/data, downloading there if it can. --data synthetic uses
generated garment-like images (no download) for a quick demo."""


BETA_HELP = """\
writes into --out:
  beta.png    the sweeps of VAEs trained with KL weight beta in 0, 0.1, 0.5, 1, 2, 4 and of a VAE
              with its posterior sigma fixed small, side by side; their test codes with sigma
              ellipses; test recon, KL, codes inside [-4, 4]^2, sweep cells hit and the judged
              quality of the sweep, each against beta
  beta.json   the same numbers per model, the settings, and whether codes inside and KL move
              one way as beta grows
  vae-beta*.pt, vae-sigma*.pt, vae.pt, classifier.pt
              checkpoints (beta = 1 is the lab's VAE, vae.pt, shared with `sweep`)

data: as for `sweep` (--data ROOT, else $LABVAE_DATA, else ~/.cache/labvae/data)."""


EXAMPLES = """\
examples:
  python -m labvae sweep                      Fashion-MNIST from $LABVAE_DATA (else ~/.cache/labvae/data)
  python -m labvae sweep --data synthetic     generated garments: no data or network needed
  python -m labvae sweep --help               every option, and what is written where
  python -m labvae beta --data synthetic      VAEs with KL weight beta from 0 to 4, side by side
  python -m labvae student notebooks/student  the student edition: solutions replaced by stubs
  python -m labvae repository URL             your course's GitHub copy: badges, setup cells, pyproject
  python -m labvae handout DIR --repository URL   the public hand-out repository, without solutions
  python -m labvae course DIR --handout URL   the course folder: nbgrader config, hand-out, due date, data
  python -m labvae grade submitted/           run students' notebooks, write their marks to labvae-grades.csv
  python -m labvae gradebook                  apply the hand marks; rewrite feedback and the export
  python -m labvae collect submissions.zip    Moodle's or Canvas's bulk download -> submitted/STUDENT/
  python -m labvae export canvas ROSTER.csv   labvae-grades.csv -> a file Canvas's (or Moodle's) gradebook imports
  python -m labvae explorer results/ pad.html the latent pad of saved models, one offline page"""


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line (no usage block) that points at --help."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser; each subcommand sets run=function(args), which main calls."""
    parser = _Parser(prog="python -m labvae", description=DESCRIPTION, epilog=EXAMPLES,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")  # subparsers are _Parser too
    sweep_parser = sub.add_parser("sweep", help="train the VAE and the lab AE, write both sweep images",
                                  description=DESCRIPTION, epilog=SWEEP_HELP,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    _run_options(sweep_parser, seed_help="seed for weights, data order and noise; the comparison also "
                                         "trains seeds N+1 and N+2 (default: 0)")
    sweep_parser.set_defaults(run=sweep)
    beta_parser = sub.add_parser(
        "beta", help="train VAEs with KL weight beta from 0 to 4, write beta.png and beta.json",
        description="The KL weight beta, from an AE with noise (0) through the lab's VAE (1) "
                    "to a strong pull towards the prior (4).", epilog=BETA_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _run_options(beta_parser)
    beta_parser.set_defaults(run=beta)
    student_parser = sub.add_parser(
        "student", help="write the student edition of the notebooks (solutions replaced)",
        description="Write every lesson notebook with its solution regions replaced by "
                    "`raise NotImplementedError()` stubs and 'YOUR ANSWER HERE', outputs cleared.")
    student_parser.add_argument("out", type=_folder, metavar="OUT",
                                help="folder for the student notebooks, e.g. notebooks/student")
    student_parser.add_argument("--notebooks", type=_folder, default=Path("notebooks"),
                                help="folder holding the solution notebooks (default: notebooks)")
    student_parser.add_argument("--repository", metavar="URL", default=None,
                                help="the course's GitHub repository, https://github.com/OWNER/NAME, for the "
                                     "Colab badges and setup cells (default: the one the solutions name)")
    student_parser.set_defaults(run=student)
    repository_parser = sub.add_parser(
        "repository", help="name the course's own GitHub repository in pyproject.toml and every notebook",
        description="Write URL into pyproject.toml ([project.urls] Repository), into the Colab badge and "
                    "setup cell of every lesson notebook and its .py twin, and into the student edition "
                    "(notebooks/student/) when there is one. Run it in the repository's root.")
    repository_parser.add_argument("url", metavar="URL", help="https://github.com/OWNER/NAME")
    repository_parser.add_argument("--notebooks", type=_folder, default=Path("notebooks"),
                                   help="folder holding the solution notebooks (default: notebooks)")
    repository_parser.set_defaults(run=repository)
    from .course.editions import handout as handout_command

    handout_command.add_parser(sub)  # the hand-out repository: its arguments and help live with it
    from .course import (
        grade,  # the `grade` subcommand: its arguments and help live in labvae/course/grade/
    )

    grade.add_parser(sub)
    sub.choices["grade"].set_defaults(run=grade.main)  # handles its own errors (it must stop kernels)
    from .course.grade import gradebook

    gradebook.add_parser(sub)  # after marking by hand: marks file -> grades.csv, feedback, export
    from .course.grade import course

    course.add_parser(sub)  # the course folder both routes read: nbgrader config, hand-out, due date, data
    from .course.grade import lms, lms_export

    lms.add_parser(sub)  # an LMS's bulk download -> submitted/STUDENT/
    lms_export.add_parser(sub)  # labvae-grades.csv -> Moodle's and Canvas's import files
    from . import pad_page

    pad_page.add_parser(sub)  # `explorer RESULTS OUT.html`: the latent pad as one standalone page
    return parser


def _run_options(parser: argparse.ArgumentParser,
                 seed_help: str = "seed for weights, data order and noise (default: 0)") -> None:
    """The options every training command takes: data, epochs, output folder, seed, device, quiet."""
    parser.add_argument("--data", metavar="ROOT|synthetic", type=_nonempty, default=None,
                        help="folder holding FashionMNIST/raw/, or 'synthetic' (default: $LABVAE_DATA)")
    parser.add_argument("--epochs", type=_positive_int, default=10, help="training epochs per model (default: 10, the lab's)")
    parser.add_argument("--out", type=_folder, default=Path("results"), help="output folder (default: results)")
    parser.add_argument("--seed", type=_seed, default=0, help=seed_help)
    parser.add_argument("--device", default="auto", help="auto (CUDA or MPS if present, else CPU), cpu, cuda or mps")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                        help="training arithmetic: auto = bf16 matmuls where the hardware has them natively, else fp32")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    try:
        return check_seed(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e).rstrip(".")) from None


def _nonempty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; give a folder name")
    return text


def _folder(text: str) -> Path:
    return Path(_nonempty(text)).expanduser()


def _lab_config(args: argparse.Namespace) -> LabConfig:
    """The run settings from the command line; everything checkable before training is checked now."""
    data = args.data if args.data is not None else os.environ.get("LABVAE_DATA") or None
    if args.data not in (None, "synthetic") and not Path(args.data).expanduser().is_dir():
        raise DataError(f"--data {args.data} is not a folder; give a folder holding FashionMNIST/raw/, or 'synthetic'.")
    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out {args.out} is a file; give a folder for the results.")
    pick_precision(args.precision, pick_device(args.device))
    check_writable(args.out)
    return LabConfig(data=data, epochs=args.epochs, seed=args.seed, out=args.out,
                     device=args.device, precision=args.precision, progress=not args.quiet)


def sweep(args: argparse.Namespace) -> dict:
    """Train (or load) both models, write grids, checkpoints and metrics.json; return the metrics."""
    if args.seed + len(SEEDS) - 1 > MAX_SEED:  # the comparison also trains the next seeds
        raise ValueError(f"--seed {args.seed} is too large: the comparison also trains seeds up to "
                         f"{args.seed + len(SEEDS) - 1}; use at most {MAX_SEED - len(SEEDS) + 1}.")
    cfg = _lab_config(args)
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
    import matplotlib

    matplotlib.use("Agg")  # files only, no window
    from .analysis.comparison import compare_lab

    compare_lab(cfg, x_train, y_train, x_test, y_test, metrics, say)
    _write_json(args.out / "metrics.json", metrics)
    say(f"wrote {args.out / 'metrics.json'}")
    return metrics


def student(args: argparse.Namespace) -> None:
    """Write the student edition of every lesson notebook into args.out."""
    from .course.editions.student import write_student_edition

    for path in write_student_edition(args.notebooks, args.out, repository=args.repository):
        print(f"wrote {path}")


def repository(args: argparse.Namespace) -> None:
    """Name args.url as the course's repository everywhere a notebook or pyproject.toml names one."""
    from .course.editions.student import set_repository

    for path in set_repository(args.url, args.notebooks):
        print(f"wrote {path}")


def _write_json(path: Path, obj) -> None:
    """Strict JSON: a number that is not finite (e.g. a spread over one image) is written as null."""
    text = json.dumps(_finite(obj), indent=2, allow_nan=False)
    atomic_write(path, lambda f: f.write(text.encode()))


def beta(args: argparse.Namespace) -> dict:
    """Train (or load) the beta family, write beta.png and beta.json; return what beta.json holds."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no window
    from .analysis import beta as family

    result = family.run(_lab_config(args), say=(lambda *a: None) if args.quiet else print)
    print(family.beta_table(result["models"]))  # the command's answer: printed even with --quiet
    print("as beta grows: " + "; ".join(f"{k} {v}" for k, v in result["trends"].items()))
    return result


def _finite(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help()
        return 2
    if args.command == "grade":
        return args.run(args)  # its exit code: 1 for bad input, 130 when interrupted
    try:
        args.run(args)
    except ERRORS as e:
        message = " ".join(str(e).split()) or type(e).__name__  # one line, whatever the subcommand raised
        print(f"labvae: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("labvae: interrupted; finished checkpoints are kept, nothing half-written.", file=sys.stderr)
        return 130
    return 0
