"""The closed loop: rollouts, closed-loop measurement, DAgger, fine-tuning and paired statistics."""
