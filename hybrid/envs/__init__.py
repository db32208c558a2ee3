"""Environments: the adapter every rollout runs through (gymnasium, PettingZoo) and noise wrappers."""
