"""Running out of file descriptors never fails a launch (one pidfd per supervised job)."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_watching_a_process_without_a_free_descriptor_degrades_instead_of_raising() -> None:
    script = textwrap.dedent(
        """
        import os, resource, subprocess
        from trainplane.executors.local.process_watcher import ProcessWatcher

        child = subprocess.Popen(["sleep", "30"])
        watcher = ProcessWatcher()
        assert watcher.watch(child.pid, "first", is_child=True)  # a descriptor is free: watched
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
        held = []
        try:
            while True:
                held.append(os.open("/dev/null", os.O_RDONLY))
        except OSError:
            pass  # EMFILE: none left
        assert watcher.watch(os.getppid(), "second") is True  # no pidfd possible: no exception
        assert not watcher.is_watching(os.getppid())
        for fd in held:
            os.close(fd)
        child.kill()
        child.wait()
        watcher.close()
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
