"""One HTTP GET that always ends within its deadline, whatever the network does.

``requests`` timeouts bound each socket operation, not the whole exchange: a
name server that never answers or a server that trickles one byte a second
would hold a portal request for minutes. The body is read one network read at
a time against the deadline, and the whole GET runs on a small thread pool so
that the caller waits at most the deadline even when something below requests
blocks (a name server that never answers); such a late thread ends on its own
socket timeout and its answer is dropped.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import requests
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import ReadTimeoutError

MAX_BYTES = 2_000_000  # a Sesame answer is a few kB; anything this big is not one
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="catalog-fetch")


class FetchError(Exception):
    """The service could not be asked or did not answer usefully; the message says why."""


def _get(url: str, timeout_s: float, deadline: float) -> bytes:
    try:
        with requests.get(url, timeout=timeout_s, stream=True, headers={"User-Agent": "OBSY target lookup"}) as reply:
            if reply.status_code != 200:
                raise FetchError(f"HTTP {reply.status_code} {reply.reason or ''}".strip())
            body = bytearray()
            # read1: at most one recv, so a server that drips bytes meets the deadline check
            while chunk := reply.raw.read1(65536, decode_content=True):
                body += chunk
                if len(body) > MAX_BYTES:
                    raise FetchError(f"answer larger than {MAX_BYTES} bytes")
                if time.monotonic() > deadline:
                    raise FetchError(f"no complete answer within {timeout_s:g} s")
            return bytes(body)
    except (requests.Timeout, ReadTimeoutError):  # the body is read from urllib3 directly: its errors too
        raise FetchError(f"no answer within {timeout_s:g} s") from None
    except requests.ConnectionError as exc:
        raise FetchError(f"cannot connect ({_reason(exc)})") from None
    except (requests.RequestException, Urllib3Error) as exc:
        raise FetchError(str(exc)) from None


def _reason(exc: Exception) -> str:
    # requests nests the useful words (e.g. "Name or service not known") a few levels down
    text = str(exc)
    for marker in ("] ", "): "):
        if marker in text:
            text = text.rsplit(marker, 1)[-1]
    return text.strip(" ')\"") or type(exc).__name__


def get_bytes(url: str, timeout_s: float) -> bytes:
    """The body of a 200 answer to ``url``, or ``FetchError`` within about ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    future = _pool.submit(_get, url, timeout_s, deadline)
    try:
        return future.result(timeout=timeout_s + 0.5)
    except FutureTimeout:
        future.cancel()
        raise FetchError(f"no answer within {timeout_s:g} s") from None


def get_json(url: str, timeout_s: float, service: str, instead: str, error=FetchError):
    """The JSON answer of ``service`` at ``url``; ``error`` (a FetchError or RequestError class) saying
    what went wrong and what the user can do ``instead`` when it cannot be had or is not JSON."""
    import json

    try:
        body = get_bytes(url, timeout_s)
    except FetchError as exc:
        raise error(f"{service} could not be reached ({exc}): {instead}") from None
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise error(f"{service} answered with something that is not JSON: {instead}") from None
