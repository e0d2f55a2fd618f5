"""Test doubles: scripted LLM clients and fake provider HTTP servers (never shipped in the wheel)."""
