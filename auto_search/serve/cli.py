"""``agent-distill serve MODEL_DIR --upstream URL``: the cascade as an OpenAI-compatible server.

Safe by default: it listens on 127.0.0.1; listening wider needs an API key (``--api-key`` or
``AGENT_DISTILL_API_KEY``), which clients send as OpenAI's ``Authorization: Bearer …``. The
upstream's key comes from ``--upstream-key-env`` (an environment variable's name, so it never
sits in a shell history or a process list) and is never logged.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import sys
from pathlib import Path
from typing import Any

from hybrid.errors import HybridError

API_KEY_ENV = "AGENT_DISTILL_API_KEY"
EXAMPLE = """example:
  agent-distill search transcripts.jsonl --out router/ --policy cascade:0.99
  agent-distill serve router/ --upstream http://127.0.0.1:8080/v1 --log served.db --port 8000
  agent-distill serve router/ --upstream http://gpu:8080/v1 --route small=http://cpu:8081/v1 --route large=http://gpu:8082/v1
  kill -HUP <pid>   # or: curl -X POST localhost:8000/admin/reload — picks up a new router/model/model.json
  agent-distill search served.db --out router2/ --policy cascade:0.99   # re-distil from served traffic
replies carry x-agent-distill-decided-by: student | upstream. exit codes: 0 stopped, 2 bad input."""


def add_serve_parser(sub: Any) -> None:
    """The ``serve`` subcommand's options, on the ``agent-distill`` parser."""
    p = sub.add_parser("serve", help="serve a cascade as an OpenAI-compatible endpoint", epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model_dir", type=Path, metavar="MODEL_DIR", help="a search's --out folder (its model/model.json), or the model folder or file")
    p.add_argument("--upstream", required=True, metavar="URL", help="the OpenAI-compatible server deferred requests go to, e.g. http://127.0.0.1:8080/v1")
    p.add_argument("--route", action="append", default=[], metavar="ACTION=URL", help="send requests the student decides ACTION to URL (repeatable)")
    p.add_argument("--routes", type=Path, metavar="FILE", help='JSON file {"ACTION": "URL", ...}, as --route')
    p.add_argument("--log", type=Path, metavar="STORE.db", help="trajectory store to log every request in (the upstream's answers as decisions)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; any other needs an API key)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    p.add_argument("--api-key", help=f"key clients must send as Authorization: Bearer KEY (default: ${API_KEY_ENV})")
    p.add_argument("--upstream-key-env", metavar="VAR", help="environment variable holding the upstream's API key (sent to it, never logged)")
    p.add_argument("--max-body-bytes", type=int, default=1 << 20, help="largest request body accepted (default 1 MiB; larger gets 413)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the upstream per try (default 60)")
    p.add_argument("--retries", type=int, default=2, help="retries after a timeout or a 5xx before answering 502 (default 2)")
    p.add_argument("--backoff", type=float, default=0.25, help="first pause between retries in seconds, doubled each time (default 0.25)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")


def _url(value: str, what: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{what} must be an http(s) URL such as http://127.0.0.1:8080/v1; got {value!r}")
    return value


def routes_of(args: argparse.Namespace) -> dict[str, str]:
    """``--routes FILE`` then ``--route ACTION=URL`` (a later one wins)."""
    routes: dict[str, str] = {}
    if args.routes is not None:
        try:
            given = json.loads(args.routes.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ValueError(f"cannot read --routes {args.routes}: {e}") from None
        if not isinstance(given, dict) or not all(isinstance(v, str) for v in given.values()):
            raise ValueError(f'--routes {args.routes} must hold a JSON object {{"ACTION": "URL", ...}}')
        routes.update(given)
    for item in args.route:
        action, sep, url = item.partition("=")
        if not sep or not action:
            raise ValueError(f"--route takes ACTION=URL (e.g. small=http://127.0.0.1:8081/v1); got {item!r}")
        routes[action] = url
    return {action: _url(url, f"the route for {action!r}") for action, url in routes.items()}


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Check the options, load the model, and serve until interrupted."""
    api_key = args.api_key or os.environ.get(API_KEY_ENV) or None
    if not _loopback(args.host) and api_key is None:
        parser.error(f"--host {args.host} listens beyond this machine: give --api-key KEY (or set {API_KEY_ENV}) so only clients with the key are served")
    if not 0 <= args.port < 65536 or args.max_body_bytes < 1 or args.retries < 0 or args.timeout <= 0 or args.backoff < 0:
        parser.error("--port is 0–65535, --max-body-bytes ≥ 1, --retries ≥ 0, --timeout > 0 and --backoff ≥ 0")
    upstream_key = None
    if args.upstream_key_env:
        upstream_key = os.environ.get(args.upstream_key_env)
        if not upstream_key:
            parser.error(f"--upstream-key-env {args.upstream_key_env}: that environment variable is not set")
    try:
        import uvicorn

        from auto_search.serve.app import ServeSettings, create_app

        settings = ServeSettings(
            model_dir=args.model_dir,
            upstream=_url(args.upstream, "--upstream"),
            routes=routes_of(args),
            log=args.log,
            api_key=api_key,
            upstream_key=upstream_key,
            max_body_bytes=args.max_body_bytes,
            timeout_s=args.timeout,
            max_retries=args.retries,
            backoff_s=args.backoff,
        )
        app = create_app(settings)
    except ImportError as e:
        print(f"agent-distill: error: serving needs {e.name}: pip install 'agent-distill[serve]'", file=sys.stderr)
        return 2
    except (HybridError, OSError, ValueError) as e:
        if args.debug:
            raise
        print(f"agent-distill: error: {e}", file=sys.stderr)
        return 2
    server = app.state.server
    unknown = sorted(set(settings.routes) - set(server.model.action_names))
    if unknown:
        print(
            f"agent-distill: error: --route names {unknown}, which the student never decides; its actions are {list(server.model.action_names)}",
            file=sys.stderr,
        )
        return 2
    print(
        f"agent-distill serve: {server.model.model_hash} from {server.model.path} on http://{args.host}:{args.port}/v1, "
        f"deferring to {args.upstream}{f', logging to {args.log}' if args.log else ''}",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False, timeout_graceful_shutdown=10, timeout_keep_alive=30)
    return 0
