"""The README's main job: distil the committed CartPole-v1 teacher end to end.

Logs teacher rollouts into a trajectory store, runs AutoDistill with the environment in the
loop (retention of the Pareto candidates, DAgger for the chosen student), writes the report,
records dataset → teacher → search → model → exports in a signed ledger, exports the student
to Python and C, and verifies the ledger and the exported file. About 3 minutes on 2 cores.

    python examples/cartpole.py [--budget 60] [--out runs/cartpole]
"""

from pathlib import Path

from distil_env import Settings, main

if __name__ == "__main__":
    raise SystemExit(main(Settings("CartPole-v1", Path("runs/cartpole"), budget_s=60.0, episodes=20)))
