"""The package the three functions share: settings, database, cache, security and services."""
