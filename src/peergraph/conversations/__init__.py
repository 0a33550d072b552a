"""Focused conversations between researchers (docs/conversations.md)."""
