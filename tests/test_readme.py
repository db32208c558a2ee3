"""The README is the five-minute page: short, with the quick start `.ci/run` reads, one example per
kind of agent, the ledger in five lines, at most five results rows, and links that resolve. The
details it used to hold live in docs/ (their Python blocks run in tests/test_docs.py)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
TEXT = README.read_text(encoding="utf-8")


def _section(title: str) -> str:
    return TEXT.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def test_readme_is_short() -> None:
    assert len(TEXT.splitlines()) <= 200


def test_quick_start_is_the_two_commands_ci_reads() -> None:
    block = _section("Quick start").split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert block == [
        'pip install torch==2.13.0 && pip install -e ".[box2d]" && python examples/cartpole.py',
        'pip install torch==2.13.0 && pip install -e ".[dev,box2d]" && python -m pytest',
    ]
    ci_line = next(line for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines() if line.startswith("cmd=$("))
    awk = subprocess.run(["bash", "-c", ci_line[len("cmd=$(") : -1]], cwd=ROOT, capture_output=True, text=True, check=True)  # .ci/run's own reader
    assert awk.stdout.strip() == block[1]


def test_one_example_per_kind_of_agent() -> None:
    examples = _section("One example per kind of agent")
    blocks = examples.count("```python")
    assert blocks == 4
    for marker in ('collect("CartPole-v1"', 'load_teacher("Pendulum-v1")', 'policy="cascade:0.99"', "TeamEnv("):
        assert marker in examples


def test_ledger_in_five_lines_and_at_most_five_results_rows() -> None:
    ledger = [line for line in _section("What the ledger proves").splitlines() if re.match(r"^\d\. ", line)]
    assert len(ledger) == 5
    rows = [line for line in _section("Results").splitlines() if line.startswith("| ") and not line.startswith("| what")]
    assert 1 <= len(rows) <= 5 and all("](docs/results/" in row for row in rows)


def test_links_resolve_and_say_how_to_serve_the_docs() -> None:
    for target in re.findall(r"\]\(((?!https?:)[^)#]+)(?:#[^)]*)?\)", TEXT):
        assert (ROOT / target).exists(), f"README links to {target}, which does not exist"
    assert "mkdocs serve" in TEXT and 'pip install -e ".[docs]"' in TEXT
