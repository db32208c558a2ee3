"""AutoDistill: search student families, pick the accuracy/cost tradeoff, report and record it."""

__all__: list[str] = []
