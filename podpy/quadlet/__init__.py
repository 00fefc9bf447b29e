"""Quadlet-style unit files (podman-systemd.unit(5)) -> systemd services that run podpy.

unitfile.py reads and writes unit files; keys.py lists each section's keys; common.py,
container.py and resources.py convert one file each; generator.py finds the files, resolves
what they refer to, writes the services and is the generator's command line (`podpy quadlet`,
podpy-user-generator, podpy-system-generator). Nothing here imports the CLI.
"""
