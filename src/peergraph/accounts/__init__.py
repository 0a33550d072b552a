"""Accounts: sign-up, log-in, sessions, API tokens, rate limits and outgoing mail."""
