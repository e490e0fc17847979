import os
import signal
import threading

from j3d.lib.signals import StopRequest


def test_a_stop_signal_landing_while_the_main_thread_holds_the_wait_lock_still_stops():
    """The printer link waits on an Event between ticks; a SIGTERM handled while that wait holds
    its condition's lock used to call Event.set() on the same lock and hang the process."""
    previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    stop = StopRequest().install()
    tick = threading.Event()
    try:
        with tick._cond:  # where Event.wait is when the signal lands in the bad window
            os.kill(os.getpid(), signal.SIGTERM)  # the handler runs here, on this thread
            assert stop.requested
        assert not tick.is_set()
        stop.wait()  # returns at once: the request is kept
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])
