"""Stop-signal handling shared by the worker, the supervisor and the web servers."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def on_stop_signals(callback: Callable[[signal.Signals], None]) -> Callable[[], None]:
    """Call `callback(signal)` on each SIGTERM/SIGINT until the returned function restores
    the previous handlers. Outside the main thread (where Python cannot install handlers)
    it does nothing and returns a no-op."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        callback(signal.Signals(signum))

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
