"""Record identifiers: UUIDs whose first bits are the creation time (RFC 9562 version 7).

Time-ordered ids land at the end of every primary-key and foreign-key index instead of at
random places, which keeps bulk imports fast as the registry grows; the random tail keeps
them unguessable.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_millis = 0
_counter = 0


def new_id() -> str:
    """A version-7 UUID string, strictly increasing within this process."""
    global _last_millis, _counter
    with _lock:
        millis = time.time_ns() // 1_000_000
        if millis > _last_millis:
            _last_millis, _counter = millis, int.from_bytes(os.urandom(2), "big") & 0x3FF
        else:
            _counter += 1
            if _counter > 0xFFF:  # 4,096 ids in one millisecond: borrow the next one
                _last_millis, _counter = _last_millis + 1, 0
            millis = _last_millis
        counter = _counter
    random_tail = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (millis & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62
    return str(uuid.UUID(int=value | random_tail))
