"""Prompt files live here as text; `summarizer.prompts` loads them (see summarizer/prompts.py)."""
