"""Read text lines from a serial device (a tty) without ever blocking.

The port is opened non-blocking in raw mode at the given speed with ``termios`` (Linux and other
POSIX systems; no extra package). Each :meth:`SerialLines.poll` takes whatever the kernel has
buffered since the last call and returns the complete lines; a partial line waits for its end.
A device that disappears (USB unplugged: EIO, or a hang-up) is closed and reopened at the next poll.
"""
from __future__ import annotations

import os
import termios

from common.config_observatory import SERIAL_BAUD_RATES as BAUD_RATES

from .base import SourceError

#: a line longer than this is noise, not a sensor's message
MAX_LINE = 4096


class SerialLines:
    def __init__(self, path: str, baud: int = 9600):
        if baud not in BAUD_RATES:
            raise ValueError(f"baud {baud} is not one of {', '.join(map(str, BAUD_RATES))}")
        self.path = path
        self.baud = baud
        self.fd: int | None = None
        self._partial = b""

    def _open(self) -> int:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except FileNotFoundError:
            raise SourceError(f"serial device {self.path} does not exist") from None
        except OSError as exc:
            raise SourceError(f"cannot open serial device {self.path}: {exc.strerror or exc}") from None
        try:
            attrs = termios.tcgetattr(fd)
            speed = getattr(termios, f"B{self.baud}")
            attrs[0] = termios.IGNPAR  # iflag: no CR/LF translation, no flow control
            attrs[1] = 0  # oflag: raw output
            attrs[2] = termios.CS8 | termios.CREAD | termios.CLOCAL  # 8N1, ignore modem lines
            attrs[3] = 0  # lflag: no echo, no canonical mode
            attrs[4] = attrs[5] = speed
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
        except termios.error as exc:
            os.close(fd)
            raise SourceError(f"{self.path} is not a serial device: {exc.args[-1]}") from None
        self._partial = b""
        return fd

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def _lost(self, exc: OSError) -> SourceError:
        self.close()
        return SourceError(f"serial device {self.path} lost: {exc.strerror or exc}")

    def write(self, text: str) -> None:
        if self.fd is None:
            self.fd = self._open()
        try:
            os.write(self.fd, text.encode("ascii", "replace"))
        except BlockingIOError:
            pass  # the output buffer is full: the next poll asks again
        except OSError as exc:
            raise self._lost(exc) from None

    def poll(self) -> list[str]:
        """The complete lines received since the last poll (may be empty)."""
        if self.fd is None:
            self.fd = self._open()
        data = b""
        while True:
            try:
                chunk = os.read(self.fd, 4096)
            except BlockingIOError:
                break
            except OSError as exc:  # EIO and the like: the device went away
                raise self._lost(exc) from None
            if not chunk:  # non-blocking, "no data" is EAGAIN: an empty read is a hang-up
                self.close()
                raise SourceError(f"serial device {self.path} lost: hung up")
            data += chunk
        text = (self._partial + data).replace(b"\r", b"\n")
        *complete, self._partial = text.split(b"\n")
        self._partial = self._partial[-MAX_LINE:]
        return [line.decode("ascii", "replace").strip() for line in complete if line.strip()]
