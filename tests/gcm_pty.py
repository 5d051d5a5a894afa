#!/usr/bin/env python3
"""Drive a program through a pseudo-terminal, for gcm's tests.

    gcm_pty.py [--stdin FILE] [--timeout S] [--log FILE] [--cmdline FILE]
               [STEP...] -- CMD [ARG...]

The program runs with the pty as its controlling terminal (so it can open
/dev/tty) and as stdin/stdout/stderr, except stdin comes from FILE with
--stdin.  Each STEP is EXPECT=>SEND: wait until the output since the last
step holds EXPECT, then type SEND ("\\n" is Enter; <EOF> is Ctrl-D and
<INT> is Ctrl-C).  --cmdline FILE: when the first step matches, the
program's /proc/PID/cmdline goes to FILE (NULs as spaces).  The transcript
goes to --log (default stdout).  Exit status: the program's, 124 on a timeout.
"""
import os
import pty
import select
import sys
import time


def main(argv):
    if "--" not in argv:
        sys.exit(__doc__)
    opts, cmd = argv[:argv.index("--")], argv[argv.index("--") + 1:]
    stdin = log = cmdline = None
    timeout = 20.0
    steps = []
    i = 0
    while i < len(opts):
        if opts[i] in ("--stdin", "--timeout", "--log", "--cmdline"):
            val = opts[i + 1]
            if opts[i] == "--stdin":
                stdin = val
            elif opts[i] == "--timeout":
                timeout = float(val)
            elif opts[i] == "--log":
                log = val
            else:
                cmdline = val
            i += 2
            continue
        expect, send = opts[i].split("=>", 1)
        send = send.replace("\\n", "\n").replace("<EOF>", "\x04").replace("<INT>", "\x03")
        steps.append((expect, send))
        i += 1

    pid, fd = pty.fork()
    if pid == 0:
        if stdin:
            f = os.open(stdin, os.O_RDONLY)
            os.dup2(f, 0)
            os.close(f)
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)

    out = b""
    pos = 0
    deadline = time.time() + timeout
    timed_out = False
    step = 0
    while True:
        while step < len(steps):
            expect = steps[step][0].encode()
            k = out.find(expect, pos)
            if k < 0:
                break
            if step == 0 and cmdline:
                try:
                    with open("/proc/%d/cmdline" % pid, "rb") as f:
                        data = f.read()
                    with open(cmdline, "wb") as f:
                        f.write(data.replace(b"\0", b" "))
                except OSError:
                    pass
            pos = k + len(expect)
            os.write(fd, steps[step][1].encode())
            step += 1
        left = deadline - time.time()
        if left <= 0:
            timed_out = True
            break
        r, _, _ = select.select([fd], [], [], min(left, 0.5))
        if not r:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
    if timed_out:
        os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
    text = out.decode("utf-8", "replace")
    if log:
        with open(log, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    if timed_out:
        sys.stderr.write("gcm_pty: timed out at step %d of %d\n" % (step, len(steps)))
        return 124
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
