"""Researcher policies that drive the agent graph: `builtin` (no LLM) and `llm`."""
