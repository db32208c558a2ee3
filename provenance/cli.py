"""The ``provenance`` command: a thin layer that formats results and sets exit codes.

Exit codes: 0 ok, 1 verification failed, 2 bad usage or unreadable input. Errors are one line
on stderr, without a traceback unless ``--debug``. Only argparse is imported up front; each
command imports what it needs, so ``provenance --help`` starts as fast as Python itself.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXAMPLES = """\
examples:
  provenance keygen ci.key                                   # writes ci.key (0600) and ci.key.pub
  provenance record --ledger L.db --key ci.key dataset data.npz
  provenance record --ledger L.db --key ci.key model student.json --parent sha256:… --attr family=tree
  provenance log L.db
  provenance rotate --ledger L.db --key ci.key new.key.pub      # new.key signs from the next entry
  provenance revoke --ledger L.db --key new.key sha256:… --reason "leaked test data"
  provenance verify L.db --key ci.key.pub --checkpoint cp.json --artifact student.json
  provenance checkpoint --ledger L.db --key ci.key -o cp.json
  provenance checkpoint --ledger L.db --key ci.key -o cp.note --format note   # C2SP tlog-checkpoint
  provenance prove L.db sha256:… --checkpoint cp.json -o proof.json
  provenance verify-proof proof.json --checkpoint cp.json --key ci.key.pub
  provenance lineage L.db sha256:… --dot | dot -Tsvg > lineage.svg
  provenance export L.db --in-toto attestations/ --key ci.key

An encrypted key's passphrase is read from the environment variable PROVENANCE_PASSPHRASE
(or the one named by --passphrase-env), never from the command line.
exit codes: 0 ok, 1 verification failed, 2 bad usage or unreadable input
"""


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, got {text!r}")
    return int(text)


def _passphrase(args: argparse.Namespace) -> str | None:
    return os.environ.get(args.passphrase_env) or None


def _signing_key(args: argparse.Namespace) -> Any:
    from provenance.keys import load_key

    return load_key(args.key, _passphrase(args))


def _emit_json(obj: Any) -> None:
    import json

    print(json.dumps(obj, indent=2, sort_keys=True))


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("agent-distill")
    except metadata.PackageNotFoundError:  # run from a checkout that is not installed
        return "(not installed)"


def cmd_keygen(args: argparse.Namespace) -> int:
    from provenance.keys import generate_key, public_path

    existed = Path(args.keyfile).exists()
    key = generate_key(args.keyfile, _passphrase(args))
    done = "kept the existing" if existed else "wrote"
    print(f"{done} {args.keyfile} and {public_path(args.keyfile)}; key id {key.key_id}")
    return 0


def _parse_attrs(pairs: list[str]) -> dict[str, Any]:
    import json

    attrs: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"--attr takes NAME=VALUE, got {pair!r}")
        try:
            attrs[name] = json.loads(value)
        except ValueError:
            attrs[name] = value
    return attrs


def cmd_record(args: argparse.Namespace) -> int:
    from pathlib import Path

    from provenance.hashing import hash_dir, hash_file
    from provenance.ledger import Ledger

    target = Path(args.file)
    if not target.exists():
        raise FileNotFoundError(f"{target} not found; record an existing file or folder")
    subject = hash_dir(target) if target.is_dir() else hash_file(target)
    attrs = {"name": target.name} | _parse_attrs(args.attr)
    key = _signing_key(args)
    with Ledger(args.ledger) as ledger:
        entry = ledger.append(args.kind, subject, parents=args.parent, attrs=attrs, key=key)
    print(entry.entry_hash)
    return 0


def cmd_rotate(args: argparse.Namespace) -> int:
    from provenance.keys import load_public_key
    from provenance.ledger import Ledger

    new, key = load_public_key(args.new_key), _signing_key(args)
    with Ledger(args.ledger, create=False) as ledger:
        print(ledger.rotate_key(new, key=key, retire=not args.keep_old).entry_hash)
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    from provenance.ledger import Ledger

    key = _signing_key(args)
    with Ledger(args.ledger, create=False) as ledger:
        print(ledger.revoke(args.subject, key=key, reason=args.reason).entry_hash)
    return 0


def _open(path: str) -> Any:
    from provenance.ledger import Ledger

    return Ledger(path, create=False)


def cmd_log(args: argparse.Namespace) -> int:
    with _open(args.ledger) as ledger:
        entries = ledger.entries()
    if args.json:
        _emit_json([e.to_dict() for e in entries])
    for e in [] if args.json else entries:
        print(f"{e.seq:>6}  {e.time}  {e.kind:<12}  {e.subject}  {e.attrs.get('name', '')}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    with _open(args.ledger) as ledger:
        _emit_json(ledger.get(args.ref).to_dict())
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from provenance.verify import verify_ledger

    if not args.key:
        raise ValueError("verify needs --key KEYFILE.pub (repeatable) or --key DIR of trusted public keys")
    result = verify_ledger(args.ledger, args.key, checkpoint=args.checkpoint, artifact=args.artifact, jobs=args.jobs)
    if args.json:
        _emit_json(result.to_dict())
        return 0 if result.ok else 1
    untrusted = [f for f in result.findings if f.problem.startswith("signed by untrusted key ")]
    if untrusted and len(untrusted) == len(result.findings) and result.signatures_checked == 0:  # the wrong key, not a tampered ledger
        from provenance.keys import load_public_keys

        given = ", ".join(f"{key_id} from {' '.join(map(str, args.key))}" for key_id in load_public_keys(args.key))
        signers = sorted({f.problem.rsplit(" ", 1)[-1] for f in untrusted})
        print(
            f"FAILED: none of the {result.size} entries is signed by the key(s) given ({given}); they are signed by {', '.join(signers)}. "
            "Pass the .pub of that key with --key."
        )
        return 1
    for finding in result.findings:
        print(f"FINDING {finding}")
    for subject, seq in sorted(result.revoked.items(), key=lambda kv: (kv[1], kv[0])):
        print(f"REVOKED {subject} (revocation at entry {seq})")
    for e in result.lineage:
        print(f"LINEAGE {e.seq:>6}  {e.kind:<8}  {e.subject}  {e.attrs.get('name', '')}")
    verdict = "OK" if result.ok else f"FAILED: {len(result.findings)} finding(s)"
    print(f"{verdict}: {result.size} entries, {result.signatures_checked} signatures checked")
    return 0 if result.ok else 1


def cmd_checkpoint(args: argparse.Namespace) -> int:
    from provenance.checkpoint import make_checkpoint, make_checkpoint_note
    from provenance.note import check_key_name, verifier_key

    if args.origin is not None and args.format != "note":
        raise ValueError("--origin names the log in a checkpoint note; add --format note")
    if args.origin is not None:
        check_key_name(args.origin)
    key = _signing_key(args)
    with _open(args.ledger) as ledger:
        note = make_checkpoint_note(ledger, key, args.origin) if args.format == "note" else None
        cp = note or make_checkpoint(ledger, key)
    cp.save(args.output)
    print(f"checkpoint of {cp.size} entries, root {cp.root}, written to {args.output}")
    if note is not None:
        print(f"verifier key: {verifier_key(note.origin, key.public_key)}")
    return 0


def cmd_prove(args: argparse.Namespace) -> int:
    from pathlib import Path

    from provenance.checkpoint import load_checkpoint, prove

    cp = load_checkpoint(args.checkpoint)
    with _open(args.ledger) as ledger:
        proof = prove(ledger, args.entry_hash, cp)
    if args.output:
        import json

        Path(args.output).write_text(json.dumps(proof.to_dict(), indent=2) + "\n")
        print(f"inclusion proof of entry {proof.index} ({len(proof.path)} hashes) written to {args.output}")
    else:
        _emit_json(proof.to_dict())
    return 0


def cmd_verify_proof(args: argparse.Namespace) -> int:
    from provenance.checkpoint import InclusionProof, load_checkpoint
    from provenance.keys import load_public_keys

    proof, cp = InclusionProof.load(args.proof), load_checkpoint(args.checkpoint)
    if cp.signed_by(load_public_keys(args.key)) is None:
        print(f"FAILED: checkpoint {args.checkpoint} is not signed by a trusted key")
        return 1
    if not proof.verify(cp):
        print(f"FAILED: {proof.entry_hash} is not proven to be entry {proof.index} of the checkpointed ledger")
        return 1
    print(f"OK: {proof.entry_hash} is entry {proof.index} of {cp.size}, root {cp.root}")
    return 0


def cmd_lineage(args: argparse.Namespace) -> int:
    from provenance.lineage import ancestors, descendants, lineage_graph, to_dot

    with _open(args.ledger) as ledger:
        graph = lineage_graph(ledger.entries())
    if args.subject not in graph:
        raise ValueError(f"{args.subject} is not a recorded subject or parent; list subjects with `provenance log`")
    up, down = ancestors(graph, args.subject), descendants(graph, args.subject)
    if args.dot:
        print(to_dot(graph.subgraph(up | down | {args.subject}), highlight=[args.subject]), end="")
    elif args.json:
        _emit_json({"subject": args.subject, "ancestors": sorted(up), "descendants": sorted(down)})
    else:
        for label, nodes in (("ancestor", up), ("descendant", down)):
            for n in sorted(nodes, key=lambda n: graph.nodes[n].get("seq", -1)):
                print(f"{label:<10}  {graph.nodes[n].get('kind', 'external'):<8}  {n}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from provenance.intoto import export_in_toto

    key = _signing_key(args)
    with _open(args.ledger) as ledger:
        written = export_in_toto(ledger.entries(), args.in_toto, key, kinds=tuple(args.kind or ["model"]))
    print(f"wrote {len(written)} DSSE envelope(s) to {args.in_toto}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (kept separate so tests and docs can inspect it)."""
    kinds = ("dataset", "teacher", "search", "model", "export", "key-rotation", "revocation", "note")
    parser = argparse.ArgumentParser(
        prog="provenance",
        description="Hash-chained, Ed25519-signed lineage ledger: record, verify, prove.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument(
        "--passphrase-env", default="PROVENANCE_PASSPHRASE", metavar="NAME", help="environment variable holding the key passphrase (default: %(default)s)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(func=func)
        return p

    p = add("keygen", cmd_keygen, "create an Ed25519 key (KEYFILE, mode 0600) and KEYFILE.pub")
    p.add_argument("keyfile")
    p = add("record", cmd_record, "record a file's (or folder's) hash in the ledger; prints the entry hash")
    p.add_argument("--ledger", required=True)
    p.add_argument("--key", required=True, help="private key file")
    p.add_argument("kind", choices=kinds)
    p.add_argument("file")
    p.add_argument("--parent", action="append", default=[], metavar="HASH", help="hash this was derived from (repeatable)")
    p.add_argument("--attr", action="append", default=[], metavar="NAME=VALUE", help="attribute; VALUE parsed as JSON when it can be")
    p = add("rotate", cmd_rotate, "admit NEW.pub as a signer from the next entry (and retire --key unless --keep-old)")
    p.add_argument("--ledger", required=True)
    p.add_argument("--key", required=True, help="private key of a currently valid signer")
    p.add_argument("new_key", metavar="NEW.pub")
    p.add_argument("--keep-old", action="store_true", help="the signing key stays valid")
    p = add("revoke", cmd_revoke, "revoke a subject (and everything derived from it) or a signer key id")
    p.add_argument("--ledger", required=True)
    p.add_argument("--key", required=True, help="private key of a currently valid signer")
    p.add_argument("subject", metavar="HASH")
    p.add_argument("--reason", required=True)
    p = add("log", cmd_log, "list the entries")
    p.add_argument("ledger")
    p.add_argument("--json", action="store_true")
    p = add("show", cmd_show, "print one entry (by seq or entry hash) as JSON")
    p.add_argument("ledger")
    p.add_argument("ref", metavar="SEQ|HASH")
    p = add("verify", cmd_verify, "check hashes, chain, signatures, signer trust; exit 1 on any finding")
    p.add_argument("ledger")
    p.add_argument("--key", action="append", default=[], metavar="PUB", help="trusted public key file or folder of *.pub (repeatable)")
    p.add_argument("--checkpoint", metavar="FILE", help="also catch truncation and forks; trust the prefix it signs")
    p.add_argument("--artifact", metavar="FILE", help="check FILE's hash is recorded and not revoked; print its lineage")
    p.add_argument("--jobs", type=_positive, default=1, metavar="N", help="check signatures in N processes")
    p.add_argument("--json", action="store_true")
    p = add("checkpoint", cmd_checkpoint, "sign the ledger's size, head and Merkle root into a file kept elsewhere")
    p.add_argument("--ledger", required=True)
    p.add_argument("--key", required=True, help="private key file")
    p.add_argument("-o", "--output", required=True, metavar="FILE")
    p.add_argument(
        "--format",
        choices=("json", "note"),
        default="json",
        help="json (default) or note: a C2SP tlog-checkpoint signed note (origin, size, root; no head or time)",
    )
    p.add_argument("--origin", metavar="NAME", help="the note's origin and key name (default: agent-distill.dev/ledger/ + entry 0's hash prefix)")
    p = add("prove", cmd_prove, "inclusion proof of one entry against a checkpoint")
    p.add_argument("ledger")
    p.add_argument("entry_hash", metavar="HASH")
    p.add_argument("--checkpoint", required=True, metavar="FILE")
    p.add_argument("-o", "--output", metavar="FILE")
    p = add("verify-proof", cmd_verify_proof, "check an inclusion proof offline, without the ledger")
    p.add_argument("proof")
    p.add_argument("--checkpoint", required=True, metavar="FILE")
    p.add_argument("--key", action="append", required=True, metavar="PUB", help="trusted public key (repeatable)")
    p = add("lineage", cmd_lineage, "ancestors and descendants of a subject hash")
    p.add_argument("ledger")
    p.add_argument("subject", metavar="HASH")
    p.add_argument("--dot", action="store_true", help="Graphviz DOT output")
    p.add_argument("--json", action="store_true")
    p = add("export", cmd_export, "write entries as in-toto Statement v1 in DSSE envelopes")
    p.add_argument("ledger")
    p.add_argument("--in-toto", required=True, metavar="DIR")
    p.add_argument("--key", required=True, help="private key file")
    p.add_argument("--kind", action="append", choices=kinds, help="kinds to export (default: model; repeatable)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly, as Unix tools do
        sys.stderr.close()
        return 0
    except Exception as exc:
        from provenance.errors import ProvenanceError

        if args.debug or not isinstance(exc, (ProvenanceError, OSError, ValueError)):
            raise
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if isinstance(exc, OSError) and exc.filename and exc.strerror:
            message = f"{exc.filename}: {exc.strerror}"
        print(f"provenance: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
