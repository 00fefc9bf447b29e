"""The kernel's numbers that podpy uses: flags, prctl options, ioctl requests, syscall numbers.

Taken from the uapi headers named beside each group. Only modules that every Python process
has loaded (os) or that are written in C (termios) are imported, so any module may use these;
termios (a shared library to load) only when a terminal's number is first asked for (child.py
asks when it is imported, before any pivot_root or change of mount namespace).
"""

import os as _os

# Namespace flags (linux/sched.h).
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_INTO_CGROUP = 0x200000000   # clone3 only (linux/sched.h)
SIGCHLD = 17   # a clone3 child's exit signal, as fork(2)'s (the same on every Linux architecture)

# Mount flags (linux/mount.h).
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_STRICTATIME = 1 << 24
MNT_DETACH = 2

# prctl options (linux/prctl.h).
PR_SET_PDEATHSIG = 1
PR_SET_KEEPCAPS = 8
PR_SET_SECCOMP = 22
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

# seccomp (linux/seccomp.h).
SECCOMP_MODE_FILTER = 2
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3
SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = 1 << 5   # Linux 5.19
SECCOMP_IOCTL_NOTIF_RECV = 0xC0502100       # _IOWR('!', 0, struct seccomp_notif)       80 bytes
SECCOMP_IOCTL_NOTIF_SEND = 0xC0182101       # _IOWR('!', 1, struct seccomp_notif_resp)  24 bytes
SECCOMP_IOCTL_NOTIF_ID_VALID = 0x40082102   # _IOW('!', 2, __u64)
SECCOMP_IOCTL_NOTIF_ADDFD = 0x40182103      # _IOW('!', 3, struct seccomp_notif_addfd)  24 bytes

# Namespace fds (linux/nsfs.h): _IO(0xb7, 1) and _IO(0xb7, 2).
NS_GET_USERNS = 0xB701
NS_GET_PARENT = 0xB702

# Network interfaces (linux/sockios.h, linux/if.h).
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

# Sockets (asm-generic/socket.h).
SO_ATTACH_FILTER = 26
SO_LOCK_FILTER = 44

# Terminals (asm-generic/ioctls.h), as this architecture's termios names them; unlockpt's and
# ptsname's ioctls, which termios does not name: _IOW/_IOR('T', 0x31/0x30, int), with the
# direction bits swapped on powerpc.
_PPC = _os.uname().machine.startswith("ppc")
TIOCSPTLCK = 0x80045431 if _PPC else 0x40045431
TIOCGPTN = 0x40045430 if _PPC else 0x80045430
_FROM_TERMIOS = ("TIOCSCTTY", "TIOCGWINSZ", "TIOCSWINSZ")


def __getattr__(name: str) -> int:
    """TIOCSCTTY, TIOCGWINSZ, TIOCSWINSZ: this architecture's, as termios names them."""
    if name in _FROM_TERMIOS:
        import termios

        value: int = getattr(termios, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

# Numbers of the calls glibc has no wrapper for, per architecture (pidfd_getfd is 438 on all).
SYSCALL_NUMBERS = {
    "x86_64": {"pivot_root": 155, "capget": 125, "capset": 126, "seccomp": 317},
    "aarch64": {"pivot_root": 41, "capget": 90, "capset": 91, "seccomp": 277},
    "ppc64le": {"pivot_root": 203, "capget": 183, "capset": 184, "seccomp": 358},
    "s390x": {"pivot_root": 217, "capget": 184, "capset": 185, "seccomp": 348},
    "riscv64": {"pivot_root": 41, "capget": 90, "capset": 91, "seccomp": 277},
}
NR_PIDFD_GETFD = 438
NR_OPEN_TREE = 428    # the same on every architecture, as every number from 424 on
NR_MOVE_MOUNT = 429
NR_CLONE3 = 435

# open_tree(2) and move_mount(2)
OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = 0o2000000
AT_RECURSIVE = 0x8000
AT_EMPTY_PATH = 0x1000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
AT_FDCWD = -100

# resource numbers of getrlimit(2), by the names the OCI spec gives them
RLIMITS = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
    "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
    "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
    "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}
RLIM_INFINITY = (1 << 64) - 1

LINUX_CAPABILITY_VERSION_3 = 0x20080522
