"""graphgpo: graph-based credit assignment for LLM agents (placeholder while the engine is being built)."""
