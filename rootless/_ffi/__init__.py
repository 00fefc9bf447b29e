"""What stands behind rootless.syscalls: kernel numbers, the ctypes bindings and the ioctls.

Nothing outside rootless/syscalls.py imports these modules: code that needs the kernel goes
through a `syscalls.Syscalls` object, which a test may replace by a recorder.

    numbers.py      flags, prctl options, ioctl requests and syscall numbers (no imports)
    ioctl.py        ioctl(2) through fcntl: terminals, namespace fds, interfaces, seccomp
                    notifications (no ctypes, so the monitor may use it)
    libc.py         the calls the standard library lacks, through ctypes
    libseccomp.py   libseccomp's filter builder, through ctypes
"""
