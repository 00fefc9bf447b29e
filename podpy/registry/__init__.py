"""Registries as the user configured them: registries.conf (names, mirrors, security) and credentials."""
