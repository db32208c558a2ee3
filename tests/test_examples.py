"""Every example runs end to end on a tiny budget, through its real command line, so none rots."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    # the scripts run in a temporary folder: a relative PYTHONPATH (e.g. ".") must still name this checkout
    env["PYTHONPATH"] = os.pathsep.join([str(EXAMPLES.parent), *(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)])
    return subprocess.run([sys.executable, str(EXAMPLES / script), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_seed_toy_distils_rules_and_mlp(tmp_path):
    proc = run_example("seed_toy.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "IF position" in proc.stdout and "THEN move_" in proc.stdout
    fidelities = [float(line.split("fidelity")[1].split()[0]) for line in proc.stdout.splitlines() if "fidelity" in line]
    assert len(fidelities) == 2 and min(fidelities) > 0.8


@pytest.mark.parametrize("script", ["cartpole.py", pytest.param("lunar_lander.py", marks=pytest.mark.slow)])
def test_environment_example_end_to_end(tmp_path, script):
    proc = run_example(script, "--budget", "20", "--episodes", "3", "--out", "out", "--key", "k/demo.key", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK:" in proc.stdout and "bit for bit" in proc.stdout  # verified, then re-derived from its lineage
    model = tmp_path / "out" / "model"
    assert (tmp_path / "out" / "report" / "report.html").exists()
    # every shipped file — artifact, Python and C exports — is recorded, with its lineage
    from provenance.cli import main as provenance_cli

    for shipped in ("model.json", "student.py", "student.h"):
        assert (
            provenance_cli(["verify", str(tmp_path / "out" / "ledger.db"), "--key", str(tmp_path / "k" / "demo.key.pub"), "--artifact", str(model / shipped)])
            == 0
        ), shipped
    (model / "student.h").write_text((model / "student.h").read_text() + "\n")
    assert (
        provenance_cli(["verify", str(tmp_path / "out" / "ledger.db"), "--key", str(tmp_path / "k" / "demo.key.pub"), "--artifact", str(model / "student.h")])
        == 1
    )


def test_a_bad_option_ends_in_one_line_before_any_work(tmp_path):
    proc = run_example("cartpole.py", "--policy", "bogus", "--out", "out", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error: unknown policy 'bogus'")
    assert "Traceback" not in proc.stderr and not (tmp_path / "out" / "trajectories.db").exists()


def test_many_agents_steps_a_vectorised_env_with_one_student_call_per_tick(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENT_DISTILL_CACHE", str(tmp_path / "cache"))
    proc = run_example("many_agents.py", "--agents", "500", "--ticks", "40", "--episodes", "3", "--json", "out.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    figures = json.loads((tmp_path / "out.json").read_text())
    assert figures["mode"] == "vector_entry_point" and figures["agents"] == 500 and figures["compiled"]
    assert list(figures["rows"]) == ["teacher (torch, batched)", "student, numpy predict", "student, compiled C"]
    for row in figures["rows"].values():
        assert row["decisions_per_s"] > 0 and 0 < row["share_deciding"] < 1
    assert "student, compiled C" in proc.stdout and "decisions/s" in proc.stdout


def test_many_agents_refuses_an_environment_without_a_committed_teacher(tmp_path):
    proc = run_example("many_agents.py", "--env", "MountainCar-v0", cwd=tmp_path)
    assert proc.returncode == 2 and "no committed teacher for 'MountainCar-v0'" in proc.stderr


@pytest.mark.slow
def test_continuous_control_example_distils_exports_signs_and_verifies(tmp_path):
    proc = run_example(
        "continuous_control.py", "--episodes", "5", "--val-episodes", "2", "--test-episodes", "2", "--out", "out", "--key", "k/demo.key", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK:" in proc.stdout and "THEN torque = " in proc.stdout
    assert (tmp_path / "out" / "model" / "student.h").exists() and (tmp_path / "out" / "trajectories.db").exists()


@pytest.mark.parametrize(
    "script, env, ops", [("train_continuous_teachers.py", "Pendulum-v1", 66560), ("train_teachers.py", "CartPole-v1", 4480)], ids=["continuous", "discrete"]
)
def test_teachers_measure_through_their_command_line(tmp_path, script, env, ops):
    proc = run_example(script, "--env", env, "--evaluate", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"{env}: mean return") and f"{ops} multiply-adds per decision" in proc.stdout
    assert run_example(script, "--env", env, "--evaluate", "0", cwd=tmp_path).returncode == 2  # parser.error


CLINC150 = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "clinc150"


@pytest.mark.slow
@pytest.mark.skipif(not (CLINC150 / "train.jsonl").exists(), reason=f"CLINC150 is not at {CLINC150} (it ships in ../shared beside the repository)")
def test_tool_router_distils_text_routing_into_a_cascade_and_verifies(tmp_path):
    proc = run_example("tool_router.py", "--requests", "3000", "--budget", "90", "--out", "out", "--key", "k/demo.key", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "fields: text (text)" in proc.stdout and "OK:" in proc.stdout and "val.jsonl through model/student.py" in proc.stdout
    module = (tmp_path / "out" / "model" / "student.py").read_text()
    ns: dict = {}
    exec(module, ns)
    assert ns["decide"]({"text": ""}) in (*ns["ACTION_NAMES"], None)


def test_team_example_distils_a_team_reports_per_agent_and_verifies(tmp_path):
    pytest.importorskip("mpe2")
    args = ("--budget", "8", "--episodes", "4", "--test-episodes", "4", "--jobs", "1", "--out", "out", "--key", "k/demo.key", "--quiet")
    proc = run_example("team.py", *args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK:" in proc.stdout and "| agent_0 |" in proc.stdout
    figures = json.loads((tmp_path / "out" / "report" / "team.json").read_text())
    assert set(figures["fidelity_by_agent_held_out"]) == {"agent_0", "agent_1", "agent_2"}
    assert figures["teacher_kind"] == "shared" and figures["test_episodes"] == 4
    from hybrid import TrajectoryStore

    with TrajectoryStore(tmp_path / "out" / "trajectories.db") as store:  # every decision keyed by its agent
        assert set(store.to_dataset().agent_ids.tolist()) == {"agent_0", "agent_1", "agent_2"}


@pytest.mark.slow
def test_mixture_finetune_example_records_both_teachers_and_the_finetune_step(tmp_path):
    proc = run_example("mixture_finetune.py", "--out", "out", "--key", "k/demo.key", cwd=tmp_path)  # the defaults: about 40 s
    assert proc.returncode == 0, proc.stderr
    assert "LunarLander-v3:PolicyTeacher" in proc.stdout and "LunarLander-v3-wind15:PolicyTeacher" in proc.stdout
    assert "fine-tune under wind" in proc.stdout
    lineage = [line.split() for line in proc.stdout.splitlines() if line.startswith("ancestor")]
    assert sum(kind == "teacher" for _, kind, _ in lineage) == 3  # both teachers and the mixture
    assert sum(kind == "model" for _, kind, _ in lineage) == 1  # the distilled parent of the fine-tuned model


def test_serve_transcripts_goes_from_chat_logs_to_a_served_cascade_and_back(tmp_path):
    pytest.importorskip("uvicorn")
    proc = run_example("serve_transcripts.py", "--conversations", "700", "--traffic", "25", "--budget", "10", "--out", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = {line[:2]: line for line in proc.stdout.splitlines() if line[:2] in ("1.", "3.", "5.", "6.")}
    assert "chat-completions calls" in lines["1."] and "decides" in lines["3."] and "decides" in lines["6."]
    served = lines["5."]
    assert "the student decided" in served and "LLM answers stored as new decisions" in served
    n_served = int(served.split("served ")[1].split()[0])
    assert f"{n_served} requests logged" in served  # nothing lost
    from hybrid import TrajectoryStore

    with TrajectoryStore(tmp_path / "out" / "S.db") as store:
        sources = [r["source"] for r in store.runs()]
        assert sources[0] == "openai-chat" and "served" in sources
        assert store.db["served_requests"].count == n_served
    assert (tmp_path / "out" / "router2" / "model" / "model.json").exists()
