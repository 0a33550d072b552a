"""Claims, verification, disputes, moderation, the audit log, owners' settings, follows."""
