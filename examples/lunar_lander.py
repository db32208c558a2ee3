"""The hard case: distil the committed LunarLander-v3 teacher end to end.

Same pipeline as ``cartpole.py``; LunarLander is where plain cloned trees lose most of the
teacher's return, so the search gets a larger budget and more teacher episodes.

    python examples/lunar_lander.py [--budget 150] [--out runs/lunar_lander]
"""

from pathlib import Path

from distil_env import Settings, main

if __name__ == "__main__":
    raise SystemExit(main(Settings("LunarLander-v3", Path("runs/lunar_lander"), budget_s=150.0, episodes=40, loop_episodes=10)))
