"""Login rate limiting: too many failures for a username or an address lock it for a while.

The counts live in memory, per process: with several gunicorn workers each keeps its
own, so the effective limit is up to ``workers`` times higher, and a restart forgets
them. That is enough to make guessing passwords slow.
"""
from __future__ import annotations

import threading
import time
from collections import deque

MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 20  # several people may share one address
WINDOW_S = 15 * 60
LOCKOUT_S = 15 * 60


class LoginThrottle:
    def __init__(self, per_user=MAX_FAILURES_PER_USER, per_address=MAX_FAILURES_PER_ADDRESS,
                 window_s=WINDOW_S, lockout_s=LOCKOUT_S, clock=time.monotonic):
        self.limits = {"user": per_user, "address": per_address}
        self.window_s, self.lockout_s, self.clock = window_s, lockout_s, clock
        self._failures: dict[tuple[str, str], deque] = {}
        self._locked_until: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def keys(username: str, address: str | None) -> list[tuple[str, str]]:
        return [("user", (username or "").strip().lower()), ("address", address or "unknown")]

    def retry_after(self, username: str, address: str | None) -> float:
        """Seconds until a login may be tried again (0 when it may be tried now)."""
        now = self.clock()
        with self._lock:
            waits = [self._locked_until.get(key, 0) - now for key in self.keys(username, address)]
        return max(0.0, *waits)

    def failed(self, username: str, address: str | None) -> None:
        now = self.clock()
        with self._lock:
            for key in self.keys(username, address):
                failures = self._failures.setdefault(key, deque())
                failures.append(now)
                while failures and failures[0] <= now - self.window_s:
                    failures.popleft()
                if len(failures) >= self.limits[key[0]]:
                    self._locked_until[key] = now + self.lockout_s
                    failures.clear()

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(self.keys(username, None)[0], None)
