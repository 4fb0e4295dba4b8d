"""Group commit: threads' items written together, each answered with its own outcome."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from fairshare.group_commit import GroupCommit


class Writer:
    """A `write` that records its groups, holds the first until released, and never runs
    twice at once (a second writer at the same time is recorded as an overlap)."""

    def __init__(self, fail_with: BaseException | None = None, short: bool = False) -> None:
        self.groups: list[list[int]] = []
        self.release = threading.Event()
        self.first_started = threading.Event()
        self.overlaps = 0
        self._running = 0
        self._lock = threading.Lock()
        self.fail_with = fail_with
        self.short = short

    def __call__(self, items: Sequence[int]) -> list[int]:
        with self._lock:
            self._running += 1
            self.overlaps += self._running > 1
            self.groups.append(list(items))
            first = len(self.groups) == 1
        try:
            if first:
                self.first_started.set()
                assert self.release.wait(10), "the test never released the first group"
            if self.fail_with is not None and not first:
                raise self.fail_with
            outcomes = [item * 10 for item in items]
            return outcomes[:-1] if self.short and not first else outcomes
        finally:
            with self._lock:
                self._running -= 1


def _submit_all(
    group: GroupCommit[int, int], writer: Writer, items: Sequence[int]
) -> tuple[dict[int, int], dict[int, BaseException]]:
    """Submit the first item, then the rest while the first is being written; release it
    once all are queued; return each item's outcome or error."""
    outcomes: dict[int, int] = {}
    errors: dict[int, BaseException] = {}

    def submit(item: int) -> None:
        try:
            outcomes[item] = group.submit(item, writer)
        except BaseException as error:
            errors[item] = error

    first = threading.Thread(target=submit, args=(items[0],))
    first.start()
    assert writer.first_started.wait(10)
    others = []
    for item in items[1:]:  # one at a time, so that the queue keeps their order
        others.append(threading.Thread(target=submit, args=(item,)))
        others[-1].start()
        deadline = time.monotonic() + 10
        while group.queued < len(others) and time.monotonic() < deadline:
            time.sleep(0.001)
    writer.release.set()
    for thread in [first, *others]:
        thread.join(10)
    return outcomes, errors


def test_a_lone_item_is_written_at_once_as_a_group_of_one() -> None:
    """Nothing waits for company: a single submit is written straight away."""
    group: GroupCommit[int, int] = GroupCommit()
    writer = Writer()
    writer.release.set()
    assert group.submit(7, writer) == 70
    assert writer.groups == [[7]]
    assert (group.groups_written, group.items_written) == (1, 1)


def test_items_arriving_during_a_write_form_the_next_group_in_order() -> None:
    """Those that queued while a group was written go together, each with its own outcome."""
    group: GroupCommit[int, int] = GroupCommit()
    writer = Writer()
    outcomes, errors = _submit_all(group, writer, [1, 2, 3, 4])
    assert errors == {}
    assert outcomes == {1: 10, 2: 20, 3: 30, 4: 40}
    assert writer.groups == [[1], [2, 3, 4]]
    assert writer.overlaps == 0


def test_a_long_queue_is_written_in_bounded_groups_one_at_a_time() -> None:
    """More than `max_group` waiting are written in several groups, oldest first, never two
    groups at once, and every thread gets its outcome."""
    group: GroupCommit[int, int] = GroupCommit(max_group=2)
    writer = Writer()
    outcomes, errors = _submit_all(group, writer, [1, 2, 3, 4, 5, 6])
    assert errors == {}
    assert outcomes == {n: 10 * n for n in range(1, 7)}
    assert writer.groups == [[1], [2, 3], [4, 5], [6]]
    assert writer.overlaps == 0


def test_an_error_of_the_group_reaches_every_member() -> None:
    """When the write fails, every item of that group raises its error; none gets an
    outcome, and the group after it is written as usual."""
    failure = RuntimeError("disk full")
    group: GroupCommit[int, int] = GroupCommit()
    writer = Writer(fail_with=failure)
    outcomes, errors = _submit_all(group, writer, [1, 2, 3])
    assert outcomes == {1: 10}
    assert errors == {2: failure, 3: failure}
    writer.fail_with = None
    assert group.submit(4, writer) == 40


def test_a_write_answering_the_wrong_number_of_items_fails_them_all() -> None:
    """Outcomes are matched to items by position; a short answer is an error, not a
    silent mismatch."""
    group: GroupCommit[int, int] = GroupCommit()
    writer = Writer(short=True)
    outcomes, errors = _submit_all(group, writer, [1, 2, 3])
    assert outcomes == {1: 10}
    assert set(errors) == {2, 3}
    assert all("a group of 2 got 1 outcomes" in str(error) for error in errors.values())


@pytest.mark.parametrize("threads", [8])
def test_many_threads_each_get_their_own_outcome(threads: int) -> None:
    """Under free-running load every item is written exactly once and answered with its
    own outcome, and items share groups."""
    group: GroupCommit[int, int] = GroupCommit()
    written: list[int] = []

    def write(items: Sequence[int]) -> list[int]:
        written.extend(items)
        time.sleep(0.001)  # a commit's sync, during which others queue
        return [item * 10 for item in items]

    results: dict[int, int] = {}

    def worker(first: int) -> None:
        for item in range(first, first + 50 * threads, threads):
            results[item] = group.submit(item, write)

    running = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join(30)
    assert sorted(written) == list(range(50 * threads))
    assert results == {item: item * 10 for item in range(50 * threads)}
    assert group.groups_written < group.items_written
