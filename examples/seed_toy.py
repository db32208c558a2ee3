"""The idea in 40 lines: a seed-style agent whose act() returns action probabilities,
distilled into readable rules and a tiny MLP trained on its soft labels (temperature-scaled KL).

    python examples/seed_toy.py
"""

import numpy as np

from hybrid import DistillDataset, as_teacher, fidelity
from hybrid.students import MLPStudent, RuleListStudent


class ToyAgent:
    """Stands in for an expensive agent: walks toward the origin, stays put when close."""

    def act(self, state):
        position, speed = float(state[0]), float(state[1])
        logits = np.array([position + 0.5 * speed, -position - 0.5 * speed, 1.0 - 2.0 * abs(position)])
        p = np.exp(logits - logits.max())
        return dict(zip(("move_left", "move_right", "stay"), (p / p.sum()).tolist()))


def main(n_states: int = 4000, seed: int = 0) -> dict:
    teacher = as_teacher(ToyAgent(), feature_names=("position", "speed"))
    states = np.random.default_rng(seed).uniform(-4, 4, size=(n_states, 2)).astype(np.float32)
    decisions = DistillDataset(states, teacher.predict_proba(states), teacher.action_names, teacher.feature_names)
    train, held_out = decisions.split(0.25, seed=seed)

    rules = RuleListStudent(max_depth=4, max_rules=8).fit(train.X, train.P, feature_names=train.feature_names, action_names=train.action_names)
    # alpha weighs the T²-scaled KL to the teacher's softened probabilities against hard-label CE
    mlp = MLPStudent(hidden_sizes=(8,), temperature=2.0, alpha=0.7, epochs=40, random_state=seed).fit(train.X, train.P)

    print(rules.to_text(), "\n")
    scores = {}
    for name, student in (("rules", rules), ("mlp", mlp)):
        scores[name] = fidelity(held_out.P, student.predict(held_out.X))
        cost = student.cost()
        print(f"{name:5s}  fidelity {scores[name]:.3f}  ops/decision {cost.ops_per_decision:.0f}  params {cost.parameters}  hash {student.content_hash[:19]}…")
    return scores


if __name__ == "__main__":
    main()
