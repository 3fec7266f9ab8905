"""One grading kernel: started sandboxed (or, when trusted, plain), its output capped, killable from any thread."""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
import time

OUTPUT_CAP = 20 << 20  # bytes of output kept per notebook: the lab's figures take a few MB; the rest is dropped
CHECK_OUTPUT_CAP = 1 << 20  # bytes kept per check cell (the student's function may print while it is checked)
MESSAGE_CAP = 16 << 20  # a bigger message from the kernel is refused by zmq, so one print cannot flood the grader
UNCOUNTED = ("status", "execute_input")  # the kernel's own bookkeeping: small, and needed to see a cell end

_LIVE: dict = {}  # thread id -> kernel manager, so Ctrl-C can stop every kernel
_LIVE_LOCK = threading.Lock()
_STOP = threading.Event()  # set on Ctrl-C: workers start no new notebook and report nothing
# zmq caps each part of a message at MESSAGE_CAP, but receives a message of many parts whole before the
# grader sees any of it: one kernel could so fill the grader's memory. Past this growth while kernels run,
# the grader stops every kernel then running (their notebooks score "error" and say why), not itself.
GRADER_MEMORY = 2 << 30
_GUARD: dict = {"on": False, "base": 0}
_TRIPPED: set = set()  # threads whose kernel the guard stopped


class Interrupted(Exception):
    """Ctrl-C in the main thread: a worker's notebook stops where it is."""


def _size(value) -> int:
    """Roughly how many bytes a message's content holds: its strings' lengths, 8 per other value (no recursion)."""
    total, todo = 0, [value]
    while todo:
        v = todo.pop()
        if isinstance(v, str | bytes | bytearray | memoryview):
            total += len(v) if not isinstance(v, memoryview) else v.nbytes
        elif isinstance(v, dict):
            total += 8 * len(v)
            todo.extend(v.keys())
            todo.extend(v.values())
        elif isinstance(v, list | tuple):
            total += 8 * len(v)
            todo.extend(v)
        else:
            total += 8
    return total


@functools.cache
def _capped_client():
    """The client class, made on first use: nbclient is the instructors' extra, not labvae's dependency."""
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):
        """A NotebookClient that keeps at most `cap` bytes of output and each cell's execute reply."""

        def __init__(self, nb, **kw):
            super().__init__(nb, **kw)
            self.cap, self.kept, self.dropped, self.timed_out, self.idle, self.reply = OUTPUT_CAP, 0, 0, False, False, None
            self.on_cell_executed = lambda cell, cell_index, execute_reply: setattr(self, "reply", execute_reply)

        def run(self, cell, index, **kw) -> dict | None:
            """Execute one cell; its execute reply. Outputs lost to a refused message are noted, iopub rejoined."""
            self.idle, self.reply = False, None
            self.execute_cell(cell, index, **kw)
            if not self.idle:  # zmq drops the subscription after refusing a message: make it afresh
                cell.setdefault("outputs", []).append(
                    _note(f"[labvae grade: output was lost here (one message over {MESSAGE_CAP >> 20} MB)]"))
                self.kc.iopub_channel.stop()
                self.kc._iopub_channel = None  # jupyter_client makes a new socket on next use
                self.kc.iopub_channel.start()
                time.sleep(0.3)  # a new subscriber needs a moment before it receives
            return self.reply

        def process_message(self, msg, cell, cell_index):
            kind, content = msg.get("msg_type"), msg.get("content") or {}
            if kind == "status" and content.get("execution_state") == "idle":
                self.idle = True
            if kind not in UNCOUNTED:  # every other message counts, widget (comm) messages and their buffers too
                size = _size(content) + _size(msg.get("buffers") or [])
                if self.kept + size > self.cap:
                    if not self.dropped and kind in ("stream", "display_data", "execute_result", "error"):
                        cell.setdefault("outputs", []).append(
                            _note(f"[labvae grade: output past {self.cap >> 20} MB was not kept]"))
                    self.dropped += size
                    return None
                self.kept += size
            if kind.startswith("comm_"):  # widget state: of no use to a mark, and nbclient trips on odd messages
                return None
            return super().process_message(msg, cell, cell_index)

        async def _async_handle_timeout(self, timeout, cell=None):
            self.timed_out = True  # the run loop decides what a timeout costs: see runner.run_notebook
            return await super()._async_handle_timeout(timeout, cell)

    return CappedClient


def capped_client(nb, km):
    """A NotebookClient for nb on km that keeps at most OUTPUT_CAP bytes of output (see CappedClient)."""
    return _capped_client()(nb, km=km, allow_errors=True, record_timing=False, shutdown_kernel="immediate")


def _note(text: str):
    import nbformat

    return nbformat.v4.new_output("stream", name="stderr", text=text + "\n")


def kernel_manager(sandbox=None):
    """A kernel manager: in `sandbox` (a sandbox.Sandbox), or the grader's own Python when it is None."""
    import zmq

    if sandbox is not None:
        from .sandbox import SandboxKernelManager

        km = SandboxKernelManager(sandbox=sandbox)
    else:
        from jupyter_client import AsyncKernelManager

        km = AsyncKernelManager(kernel_name="python3", kernel_spec_manager=_grader_python())
    client = km.client

    def capped(**kw):  # the client makes a zmq context of its own; its sockets come after, and inherit this
        kc = client(**kw)
        kc.context.setsockopt(zmq.MAXMSGSIZE, MESSAGE_CAP)
        return kc

    km.client = capped
    return km


def _grader_python():
    """A kernel-spec manager whose every kernel is this Python: a user's own python3 spec cannot redirect it."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

    from .sandbox import KERNEL_ARGS

    class GraderPython(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}", *KERNEL_ARGS],
                              display_name="Python (labvae grade)", language="python")

    return GraderPython()


def kill(km) -> None:
    """SIGKILL a kernel's process group (it leads its own session; in a sandbox, bwrap's death ends all inside)."""
    proc = getattr(getattr(km, "provisioner", None), "process", None)
    if proc is not None and proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass  # it ended meanwhile


def register(km) -> None:
    """Note this thread's kernel so Ctrl-C can kill it; raise Interrupted when Ctrl-C came first."""
    with _LIVE_LOCK:  # _STOP is set before the kill sweep: a kernel registered after it stops here
        if _STOP.is_set():
            raise Interrupted
        _LIVE[threading.get_ident()] = km
        _TRIPPED.discard(threading.get_ident())
        if not _GUARD["on"]:
            _GUARD.update(on=True, base=_rss())
            threading.Thread(target=_guard, daemon=True, name="labvae-memory-guard").start()


def _rss() -> int:
    """The grader's resident memory in bytes (0 where /proc is not there)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _guard() -> None:
    """While kernels run: past GRADER_MEMORY of growth, stop them all (the grader keeps its results)."""
    while True:
        time.sleep(0.05)
        with _LIVE_LOCK:
            if not _LIVE:
                _GUARD["on"] = False
                return
            live = list(_LIVE.items())
        if _rss() - _GUARD["base"] > GRADER_MEMORY:
            for tid, km in live:
                _TRIPPED.add(tid)
                kill(km)
            time.sleep(1)  # what the dead kernels' sockets held is freed as they close
            _GUARD["base"] = max(_GUARD["base"], _rss() - GRADER_MEMORY // 2)


def tripped() -> str:
    """Why the memory guard stopped this thread's kernel, or "" (maybe not its doing: it ran beside the one)."""
    if threading.get_ident() not in _TRIPPED:
        return ""
    return (f"stopped when the grader's own memory grew past {GRADER_MEMORY >> 20} MB while it ran (a kernel "
            "sent huge messages); if this student sent none, grade them again")


def unregister() -> None:
    with _LIVE_LOCK:
        _LIVE.pop(threading.get_ident(), None)


def kill_live_kernels() -> None:
    with _LIVE_LOCK:
        kms = list(_LIVE.values())
    for km in kms:
        kill(km)


def cancel_pending() -> None:
    """Cancel what nbclient left running on this thread's event loop after a timeout or a dead kernel."""
    import asyncio

    from jupyter_core.utils import ensure_event_loop

    loop = ensure_event_loop()  # the loop nbclient's run_sync used on this thread (made if there is none)
    if loop.is_running() or loop.is_closed():
        return
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in tasks:
        t.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


_SLOTS = threading.local()
_SLOTS_LOCK = threading.Lock()
_SLOTS_TAKEN: list = []


def worker_slot() -> int:
    """This worker thread's number, 0 .. jobs - 1 (kept for the thread's life)."""
    if not hasattr(_SLOTS, "n"):
        with _SLOTS_LOCK:
            _SLOTS_TAKEN[:] = [(n, t) for n, t in _SLOTS_TAKEN if t.is_alive()]  # workers of past runs
            alive = {n for n, _ in _SLOTS_TAKEN}
            _SLOTS.n = min(set(range(len(alive) + 1)) - alive)
            _SLOTS_TAKEN.append((_SLOTS.n, threading.current_thread()))
    return _SLOTS.n
