"""The cascade in production: an OpenAI-compatible server in front of an LLM (``agent-distill serve``).

``create_app(ServeSettings(...))`` is the Starlette application; the CLI runs it under uvicorn.
"""

from auto_search.serve.app import DECIDED_BY, ServeSettings, create_app

__all__ = ["DECIDED_BY", "ServeSettings", "create_app"]
