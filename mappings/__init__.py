"""Shipped mapping presets (YAML). Installed as ``timetracker_import.mappings``."""
