"""The database's schema versions: read once per connection, as a store's and the containers'
tables are opened (each asked before and in its migration), and known after a migration."""

import sqlite3

from storage.db import Database


def _counting(db: Database) -> list[str]:
    seen: list[str] = []
    db.conn.set_trace_callback(seen.append)
    return seen


def test_a_version_is_read_once_and_known_after_its_migration(tmp_path):
    db = Database(str(tmp_path / "podpy.db"))
    seen = _counting(db)
    assert db.version("things") == 0
    db.migrate("things", ["CREATE TABLE a (x)", "CREATE TABLE b (y)"])
    migrated = len(seen)
    assert db.version("things") == 2
    db.migrate("things", ["CREATE TABLE a (x)", "CREATE TABLE b (y)"])   # nothing to do
    assert seen[migrated:] == []   # known from the migration: not read again
    db.close()

    again = Database(str(tmp_path / "podpy.db"))
    seen = _counting(again)
    assert again.version("things") == 2 and again.version("things") == 2
    again.migrate("things", ["CREATE TABLE a (x)", "CREATE TABLE b (y)"])
    assert len([s for s in seen if s.startswith("SELECT version")]) == 1
    again.close()


def test_a_missing_version_is_asked_again(tmp_path):
    """None yet is not remembered: another command may make the tables meanwhile."""
    path = str(tmp_path / "podpy.db")
    db = Database(path)
    assert db.version("things") == 0
    other = Database(path)
    other.migrate("things", ["CREATE TABLE a (x)"])
    other.close()
    assert db.version("things") == 1
    db.close()


def test_the_busy_timeout_is_the_connections(tmp_path):
    db = Database(str(tmp_path / "podpy.db"))
    assert db.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 60_000
    db.close()
    assert isinstance(db.conn, sqlite3.Connection)
