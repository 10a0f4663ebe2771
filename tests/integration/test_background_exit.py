"""Background loops end before the interpreter does, so a round that logs while Python shuts
down can never abort a finished process (what failed CI once every test had passed)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import REPO


def test_at_exit_every_loop_has_ended_before_the_interpreter_finalises() -> None:
    # A loop that writes to stderr all the time, in a process that just ends. The exit hook
    # registered first runs last (atexit is last in, first out) and sees whether it still runs.
    script = textwrap.dedent(
        """
        import atexit, sys
        from ops.background import BackgroundLoop
        loops = []
        atexit.register(lambda: print("alive-at-exit", any(l.alive for l in loops)))
        def noisy():
            sys.stderr.write("round\\n" * 50)
            return False
        loops += [BackgroundLoop(f"noisy-{i}", noisy, lambda _n: 0).start() for i in range(4)]
        """
    )
    for _ in range(5):
        done = subprocess.run(
            [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "alive-at-exit False" in done.stdout
