"""-it through a real pty (pexpect), window size, Ctrl-C inside, raw mode restored; signal forwarding."""

import signal
import subprocess
import time

import pexpect
import pytest


def spawn(podpy, *args, **kw):
    cmd = podpy.command(*args)
    return pexpect.spawn(cmd[0], cmd[1:], env=podpy.environ(), encoding="utf-8", timeout=30, **kw)


def test_interactive_terminal(podpy, busybox):
    child = spawn(podpy, "run", "--rm", "-it", "--network", "none", busybox, "sh", dimensions=(33, 101))
    child.expect("# ")
    child.sendline("stty size; tty; echo $TERM")
    child.expect(r"33 101\r\n/dev/pts/0\r\nxterm")
    # Job control and Ctrl-C belong to the container's shell, not to podpy.
    child.sendline("sleep 30")
    time.sleep(0.5)
    child.sendcontrol("c")
    child.expect("# ")
    child.sendline("echo still-here")
    child.expect("still-here")
    child.setwinsize(40, 120)
    time.sleep(0.2)
    child.sendline("stty size")
    child.expect(r"40 120")
    child.sendline("exit 7")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 7


def test_terminal_mode_restored_after_exit(podpy, busybox):
    # bash prints its terminal settings after podpy returns; raw mode would show -icanon / -echo.
    script = f"{' '.join(podpy.command('run', '--rm', '-it', '--network', 'none', busybox, 'true'))}; stty -a"
    child = pexpect.spawn("/bin/bash", ["-c", script], env=podpy.environ(), encoding="utf-8", timeout=30)
    child.expect(pexpect.EOF)
    out = child.before
    assert " icanon " in f" {out} " or "icanon" in out.split()
    assert "-icanon" not in out.split() and "-echo" not in out.split()


def test_tty_without_interactive(podpy, busybox):
    child = spawn(podpy, "run", "--rm", "-t", "--network", "none", busybox, "sh", "-c", "tty; exit 3")
    child.expect("/dev/pts/0")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signals_reach_the_container(podpy, busybox, sig):
    script = ("trap 'echo got-$1; exit 42' TERM INT HUP; "
              "trap 'echo got-TERM; exit 42' TERM; trap 'echo got-INT; exit 42' INT; "
              "trap 'echo got-HUP; exit 42' HUP; echo ready; while true; do sleep 0.1; done")
    proc = subprocess.Popen(podpy.command("run", "--rm", "--network", "none", busybox, "sh", "-c", script),
                            env=podpy.environ(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    name = signal.Signals(sig).name[3:]
    assert f"got-{name}" in out, err
    assert proc.returncode == 42
