"""The kernel shared by models, audit, cards and app: errors, atomic writing, the audit.json contract."""
