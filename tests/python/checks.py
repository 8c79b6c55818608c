"""A pass/fail tally for the Python checks: one line per check, a summary, an exit code; and
`clipclap serve` for the length of a block."""
import contextlib
import subprocess


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def __call__(self, ok, what):
        self.passed += bool(ok)
        self.failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {what}")

    def summary(self):
        print(f"{self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0


@contextlib.contextmanager
def serving(check: Checks, binary, *flags):
    """`clipclap serve FLAGS --port 0` for the block, which gets the port; SIGTERM after it, and
    a check that the server exits 0."""
    server = subprocess.Popen([str(binary), "serve", *map(str, flags), "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        yield int(server.stdout.readline().rsplit(":", 1)[1])
    finally:
        server.terminate()
        code = server.wait(timeout=60)
        check(code == 0, f"server exits {code} on SIGTERM")
