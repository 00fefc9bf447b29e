"""How long a registry client waits before trying again: its back-off, or the registry's Retry-After."""

from __future__ import annotations

import time
from email.utils import formatdate

from storage.transports._http import RETRY_AFTER_MAX, SessionOptions, retry_delay


def test_backoff_doubles_up_to_its_limit() -> None:
    opts = SessionOptions(backoff=0.2, backoff_max=1.0)
    assert [retry_delay(opts, n, None) for n in range(5)] == [0.2, 0.4, 0.8, 1.0, 1.0]


def test_retry_after_in_seconds_is_waited_for_when_longer() -> None:
    opts = SessionOptions(backoff=0.2, backoff_max=1.0)
    assert retry_delay(opts, 0, "3") == 3.0
    assert retry_delay(opts, 2, "0") == 0.8   # shorter than the back-off: the back-off
    assert retry_delay(opts, 0, "86400") == RETRY_AFTER_MAX   # a registry cannot make us wait a day


def test_retry_after_as_a_date() -> None:
    opts = SessionOptions(backoff=0.2, backoff_max=1.0)
    delay = retry_delay(opts, 0, formatdate(time.time() + 10, usegmt=True))
    assert 8.0 < delay <= 10.0


def test_an_unreadable_retry_after_is_ignored() -> None:
    opts = SessionOptions(backoff=0.2, backoff_max=1.0)
    assert retry_delay(opts, 1, "soon") == 0.4
    assert retry_delay(opts, 1, "") == 0.4
