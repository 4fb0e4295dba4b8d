"""Group commit: concurrent requests of one process written in one transaction.

A database that commits one transaction at a time (SQLite) pays for each commit, and its
sync to disk, more than for the rows in it. When several threads of one server process have
a write ready at the same moment, one of them (the leader) writes them all at once while the
others wait; whoever arrives while a group is being written forms the next group. No thread
waits for others to arrive: a lone request is written straight away, as a group of one, so a
quiet server answers as fast as before and a busy one writes more per commit (as PostgreSQL's
own WAL group commit does with flushes).

Each member gets its own outcome back; an error of the whole group reaches every member.
Nothing here knows about the database.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")

MAX_GROUP = 64  # a bound on one transaction's size, far above a server's thread count
GATHER_SECONDS = 0.001  # at most this long a busy leader waits for the last group's size


class _Slot(Generic[Item, Outcome]):
    __slots__ = ("done", "error", "item", "outcome")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.done = False
        self.outcome: Outcome | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[Item, Outcome]):
    """Collects items from threads and writes them in groups, one group at a time."""

    def __init__(self, max_group: int = MAX_GROUP, gather_seconds: float = GATHER_SECONDS) -> None:
        self.max_group = max_group
        self.gather_seconds = gather_seconds
        lock = threading.Lock()
        self._changed = threading.Condition(lock)  # a group was written
        self._arrived = threading.Condition(lock)  # an item joined the queue
        self._last_size = 1
        self._waiting: list[_Slot[Item, Outcome]] = []
        self._writing = False
        self.groups_written = 0  # for tests and benchmarks: how many groups, how many items
        self.items_written = 0

    @property
    def queued(self) -> int:
        """Items waiting for a group (not those being written)."""
        with self._changed:
            return len(self._waiting)

    def submit(self, item: Item, write: Callable[[Sequence[Item]], Sequence[Outcome]]) -> Outcome:
        """Write `item` with whatever else is waiting and return its outcome.

        `write` takes a group's items and returns one outcome per item, in order; it is
        called by the thread that leads the group (on that thread's resources) and may get
        items of other threads. Raises what `write` raised for the group.
        """
        slot: _Slot[Item, Outcome] = _Slot(item)
        with self._changed:
            self._waiting.append(slot)
            self._arrived.notify()
            while not slot.done and self._writing:
                self._changed.wait()
            leads = not slot.done
            if leads:
                self._writing = True
        # The leader writes groups, oldest items first, until its own is written (in a
        # later group when more than `max_group` wait ahead of it).
        while leads and not slot.done:
            self._write_group(write, last=slot)
        if slot.error is not None:
            raise slot.error
        return slot.outcome  # type: ignore[return-value]

    def _write_group(
        self, write: Callable[[Sequence[Item]], Sequence[Outcome]], last: _Slot[Item, Outcome]
    ) -> None:
        with self._changed:
            # Busy (the last group had company): give the threads that were in it a moment
            # to come back with their next write, or each group would be its first arrival.
            if self._last_size > 1:
                self._arrived.wait_for(
                    lambda: len(self._waiting) >= self._last_size, self.gather_seconds
                )
            group = self._waiting[: self.max_group]
            self._last_size = len(group)
            del self._waiting[: self.max_group]
        error: BaseException | None = None
        outcomes: Sequence[Outcome] = ()
        try:
            outcomes = write([slot.item for slot in group])
            if len(outcomes) != len(group):
                raise RuntimeError(f"a group of {len(group)} got {len(outcomes)} outcomes")
        except BaseException as failure:  # every member must hear of it
            error = failure
        with self._changed:
            for index, slot in enumerate(group):
                if error is None:
                    slot.outcome = outcomes[index]
                else:
                    slot.error = error
                slot.done = True
            self.groups_written += 1
            self.items_written += len(group)
            if last.done:
                self._writing = False  # the next to wake with an item waiting leads
            self._changed.notify_all()


_groups: weakref.WeakKeyDictionary[Any, GroupCommit[Any, Any]] = weakref.WeakKeyDictionary()
_groups_lock = threading.Lock()


def group_for(owner: Any) -> GroupCommit[Any, Any]:
    """The one group of this process for `owner` (say, a database engine)."""
    with _groups_lock:
        group = _groups.get(owner)
        if group is None:
            group = _groups[owner] = GroupCommit()
        return group


def _forget_after_fork() -> None:
    """A forked child starts with no group being written: the threads that were writing
    did not come with it, and neither did their waiting items."""
    global _groups_lock
    _groups_lock = threading.Lock()
    _groups.clear()


os.register_at_fork(after_in_child=_forget_after_fork)
