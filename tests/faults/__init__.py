"""Fault-injection helpers shared by the slow tests and by bench/: a ledger world to break,
a worker process to kill, and the invariants checked after each kill."""
