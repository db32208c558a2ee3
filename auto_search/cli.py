"""``agent-distill search DATA --out DIR``: run AutoDistill on logged teacher decisions.

A thin layer: it loads the data, runs :class:`auto_search.search.AutoDistill` with a
:class:`auto_search.config.SearchConfig` built from the options, records the result in a
ledger when asked, and writes the report and the model into a staging folder moved into DIR
only when all of it is written. Exit codes: 0 ok, 1 MISSED with --require, 2 bad usage or
unreadable input, 130 interrupted (nothing shipped, DIR unchanged).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from auto_search.config import add_config_arguments, config_from_namespace
from auto_search.data_files import load_dataset
from auto_search.errors import SearchError
from auto_search.record import record, write_artifacts
from auto_search.reproduce import reproduce
from auto_search.search import AutoDistill
from auto_search.space import fit_imports
from auto_search.staging import staged
from hybrid.data.store import TrajectoryStore
from hybrid.errors import HybridError
from provenance.keys import load_key
from provenance.ledger import Ledger

EXAMPLE = """example:
  agent-distill search decisions.jsonl --out report/ --budget 30 --policy within-best:0.01 \\
      --ledger lineage.db --key signing.key
  agent-distill search cartpole.npz --out report/ --env CartPole-v1 --policy min-retention:0.99
  agent-distill search requests.jsonl --out router/ --policy cascade:0.99   # text states; router/model/student.py
DATA may be a DistillDataset .npz, decisions as .jsonl or .csv, a Parquet file or folder, or a trajectory store (.db/.sqlite).
exit codes: 0 done (the last line says MISSED when the shipped student does not show the declared
bound), 1 MISSED with --require, 2 bad input or nothing finished, 130 interrupted (nothing shipped,
DIR unchanged)."""

REPRODUCE_EXAMPLE = """example:
  agent-distill reproduce runs/cartpole/ledger.db sha256:3f2a --key runs/keys/demo.key.pub
  agent-distill reproduce lineage.db sha256:3f2a --key keys/ --data moved/decisions.jsonl --search
exit codes: 0 the refit model has the recorded hash, 1 it does not (the causes are printed), 2 bad input."""


INGEST_EXAMPLE = """example:
  agent-distill ingest transcripts.jsonl --format openai-chat --store S.db   # one decision per assistant turn
  agent-distill search S.db --out router/ --policy cascade:0.99
exit codes: 0 stored, 2 bad input (the message names the file's line; nothing is stored)."""
INGEST_FORMATS = ("jsonl", "csv", "openai-chat")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agent-distill", description="Distil an expensive agent into cheap students.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    search = sub.add_parser("search", help="search student families and choose one", epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    search.add_argument("data", type=Path, metavar="DATA", help=".npz, .jsonl, .csv, Parquet file or folder, or trajectory store")
    search.add_argument("--out", type=Path, required=True, metavar="DIR", help="where the report goes; the shipped model and its exports go to DIR/model")
    search.add_argument("--ledger", type=Path, help="provenance ledger to record the search in (needs --key)")
    search.add_argument("--key", type=Path, help="Ed25519 signing key for --ledger")
    search.add_argument(
        "--env",
        metavar="ENV_ID",
        help="gymnasium environment with a committed teacher (e.g. CartPole-v1): "
        "scores the Pareto front in the loop, allows --policy min-retention:0.99, and gives the chosen student DAgger rounds",
    )
    search.add_argument("--json", action="store_true", help="print the report data as JSON on stdout")
    search.add_argument("--require", action="store_true", help="exit 1 when the shipped student misses the declared bound (MISSED), for pipelines")
    search.add_argument("--debug", action="store_true", help="show tracebacks")
    add_config_arguments(search)
    again = sub.add_parser(
        "reproduce",
        help="refit a recorded model from its lineage and compare hashes",
        epilog=REPRODUCE_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    again.add_argument("ledger", type=Path, metavar="LEDGER", help="the ledger the model was recorded in")
    again.add_argument("model", metavar="MODEL_HASH", help="the model's sha256:… hash (a unique prefix will do)")
    again.add_argument("--key", type=Path, action="append", required=True, help="trusted public key (.pub) or folder of them; repeatable")
    again.add_argument("--data", type=Path, help="the dataset file, when it is no longer at the recorded path")
    again.add_argument("--search", action="store_true", help="re-run the whole recorded search too and check it ships the same student")
    again.add_argument("--allow-version-drift", action="store_true", help="accept a match under library versions other than the recorded ones")
    again.add_argument("--exact", action="store_true", help="require the same bits (by default a refit differing only by floating-point rounding reproduces)")
    again.add_argument("--json", action="store_true", help="print the outcome as JSON on stdout")
    again.add_argument("--debug", action="store_true", help="show tracebacks")
    ingest = sub.add_parser(
        "ingest",
        help="store logged decisions or chat transcripts in a trajectory store",
        epilog=INGEST_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ingest.add_argument("file", type=Path, metavar="FILE", help="decisions (.jsonl/.csv) or chat-completions calls (.jsonl)")
    ingest.add_argument("--store", type=Path, required=True, metavar="STORE.db", help="trajectory store to add a run to (created when new)")
    ingest.add_argument("--format", choices=INGEST_FORMATS, help="how FILE is written (default: by its suffix; jsonl also recognises transcripts)")
    ingest.add_argument("--teacher", help="who made the decisions (recorded with the run)")
    ingest.add_argument("--debug", action="store_true", help="show tracebacks")
    from auto_search.serve.cli import add_serve_parser

    add_serve_parser(sub)
    return parser


def _version() -> str:
    try:
        return metadata.version("agent-distill")
    except metadata.PackageNotFoundError:  # run from a checkout that is not installed
        return "(not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "reproduce":
        return _reproduce(args)
    if args.command == "ingest":
        return _ingest(args)
    if args.command == "serve":
        from auto_search.serve.cli import serve

        return serve(args, parser)
    if (args.ledger is None) != (args.key is None):
        parser.error("--ledger and --key go together: the ledger signs each entry with the key.")
    t0, existed = time.monotonic(), args.out.exists()
    try:
        config = config_from_namespace(args)
        return _search(args, config, t0, existed)
    except KeyboardInterrupt:  # anywhere: nothing was moved into DIR
        print(_interrupted(args.out, t0, existed), file=sys.stderr)
        return 130
    except (HybridError, OSError, ValueError) as e:
        if args.debug:
            raise
        print(f"agent-distill: error: {e}", file=sys.stderr)
        return 2


def _interrupted(out: Path, t0: float, existed: bool) -> str:
    """The last line of an interrupted search: how long it ran, and that DIR is as it was."""
    state = "unchanged" if existed else "unchanged (not created)"
    return f"agent-distill: interrupted after {time.monotonic() - t0:.0f} s: nothing shipped, {out} {state}"


def _search(args: argparse.Namespace, config: Any, t0: float, existed: bool) -> int:
    teacher = None
    if args.env is not None:
        from hybrid.teachers.zoo import load_teacher

        teacher = load_teacher(args.env)  # an unknown environment fails here, naming the known ones
    dataset = load_dataset(args.data, max_rows=config.max_rows, seed=config.seed)  # with --max-rows, a Parquet log reads only the rows sampled
    if hasattr(dataset, "describe_fields"):  # record states: say which kind each field was read as
        print(f"fields: {dataset.describe_fields()}", file=sys.stderr)
    for module in fit_imports(config.families):  # now, not mid-search: a Ctrl-C landing while torch imports is lost
        importlib.import_module(module)
    print(
        f"searching {len(dataset)} states × {dataset.n_features} features, {dataset.n_actions} actions, "
        f"budget {config.budget_s:g} s (Ctrl-C stops and reports what finished)",
        file=sys.stderr,
        flush=True,
    )
    result = AutoDistill.from_config(config, env=args.env, teacher=teacher).fit(dataset)
    if result.stopped_by == "interrupted":  # what finished is not what was asked for: ship nothing
        print(f"{sum(c.status == 'ok' for c in result.candidates)} candidate(s) had finished when the search was interrupted", file=sys.stderr)
        print(_interrupted(args.out, t0, existed), file=sys.stderr)
        return 130
    with staged(args.out) as tmp:  # DIR changes only once the model, its exports and the report are all written
        exports = export_targets(result.student)
        if args.ledger is not None:
            with Ledger(args.ledger) as ledger:
                record(result, ledger, load_key(args.key), teacher=teacher, out_dir=tmp / "model", final_dir=args.out / "model", exports=exports)
        else:
            write_artifacts(result, tmp / "model", exports=exports)
        result.write_report(tmp)
    if args.json:
        print(json.dumps(result.to_data(), indent=2, sort_keys=True))
    print(result.summary(), file=sys.stderr)
    print(f"report: {args.out / 'report.html'}", file=sys.stderr)
    print(f"model: {args.out / 'model' / 'model.json'} (exports beside it)", file=sys.stderr)
    verdict = result.verdict()
    if verdict:
        print(verdict, file=sys.stderr)
    return 1 if args.require and result.shipped is not None and result.shipped.bound_met is False else 0


def export_targets(student: Any) -> tuple[str, ...]:
    """The exports written beside a shipped student: Python, and C where it has one (a
    featurized student has none)."""
    return ("python", "c") if callable(getattr(student, "c_source", None)) else ("python",)


def _ingest(args: argparse.Namespace) -> int:
    """Add FILE to the store as one new run (all or nothing); exit 2 naming the bad line."""
    fmt = args.format or ("csv" if args.file.suffix.lower() == ".csv" else "jsonl")
    try:
        if not args.file.exists():
            raise FileNotFoundError(f"no such file: {args.file}")
        with TrajectoryStore(args.store) as store:
            readers: dict[str, Callable[..., int]] = {"jsonl": store.ingest_jsonl, "csv": store.ingest_csv, "openai-chat": store.ingest_transcripts}
            ingest = readers[fmt]
            run_id = ingest(args.file, teacher=args.teacher)
            n = store.n_steps(run_id)
    except (HybridError, OSError) as e:
        if args.debug:
            raise
        print(f"agent-distill: error: {e}", file=sys.stderr)
        return 2
    print(f"stored {n} decisions from {args.file} as run {run_id} of {args.store}", file=sys.stderr)
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    """Exit 0 when the model is re-derived (bit for bit, or up to floating-point rounding unless
    ``--exact``), 1 when it is not (the causes on stdout), 2 on bad input."""
    try:
        outcome = reproduce(
            args.ledger, args.model, trusted_keys=args.key, data=args.data, search=args.search, allow_version_drift=args.allow_version_drift, exact=args.exact
        )
    except (SearchError, HybridError, OSError, ValueError) as e:
        if args.debug:
            raise
        print(f"agent-distill: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(outcome.to_dict(), indent=2, sort_keys=True) if args.json else outcome.summary())
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
