"""A seccomp filter for bwrap jobs: a classic-BPF denylist assembled with `struct` (no libseccomp).

It takes from Docker's default profile what matters to an unprivileged job: no namespaces (unshare,
setns, clone with a CLONE_NEW* flag), no mounts, no ptrace or cross-process memory access, no kernel
keyring, eBPF, perf, userfaultfd, io_uring, module or kexec calls, no file handles. Denied calls fail with
EPERM. clone3 fails with ENOSYS: its flags sit behind a pointer the filter cannot read, and libc falls
back to clone, whose flags it can. A call from another ABI (x32, i386) or an unknown architecture kills
the process. bwrap loads the program with `--seccomp FD` right before it executes the job.
"""

from __future__ import annotations

import errno
import platform
import struct

from aar.errors import InfraError

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_ARCH_ALIASES = {"amd64": "x86_64", "arm64": "aarch64"}
X32_SYSCALL_BIT = 0x40000000

# name: (x86_64 number, aarch64 number); None where the architecture has no such call.
DENIED: dict[str, tuple[int | None, int | None]] = {
    "unshare": (272, 97), "setns": (308, 268),
    "mount": (165, 40), "umount2": (166, 39), "pivot_root": (155, 41), "chroot": (161, 51),
    "fsopen": (430, 430), "fsconfig": (431, 431), "fsmount": (432, 432), "fspick": (433, 433),
    "move_mount": (429, 429), "open_tree": (428, 428), "mount_setattr": (442, 442),
    "ptrace": (101, 117), "process_vm_readv": (310, 270), "process_vm_writev": (311, 271),
    "kcmp": (312, 272), "pidfd_getfd": (438, 438), "process_madvise": (440, 440),
    "keyctl": (250, 219), "add_key": (248, 217), "request_key": (249, 218),
    "bpf": (321, 280), "perf_event_open": (298, 241), "userfaultfd": (323, 282),
    "io_uring_setup": (425, 425), "io_uring_enter": (426, 426), "io_uring_register": (427, 427),
    "kexec_load": (246, 104), "kexec_file_load": (320, 294),
    "init_module": (175, 105), "finit_module": (313, 273), "delete_module": (176, 106),
    "open_by_handle_at": (304, 265), "name_to_handle_at": (303, 264), "fanotify_init": (300, 262),
    "swapon": (167, 224), "swapoff": (168, 225), "reboot": (169, 142), "syslog": (103, 116),
    "acct": (163, 89), "quotactl": (179, 60), "quotactl_fd": (443, 443), "nfsservctl": (180, 42),
    "settimeofday": (164, 170), "clock_settime": (227, 112), "clock_adjtime": (305, 266),
    "adjtimex": (159, 171), "vhangup": (153, 58), "lookup_dcookie": (212, 18),
    "iopl": (172, None), "ioperm": (173, None), "uselib": (134, None),
}  # fmt: skip
CLONE = (56, 220)
CLONE3 = (435, 435)
# CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET
CLONE_NEW_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000

RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000
# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6] (little-endian)
OFFSET_NR, OFFSET_ARCH, OFFSET_ARG0_LOW = 0, 4, 16
_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06


class SeccompUnsupported(InfraError):
    """No filter is defined for this machine's architecture."""


def host_arch() -> str:
    """This machine's architecture as the filter names it (x86_64 or aarch64).

    Raises:
        SeccompUnsupported: any other architecture (or a big-endian one).
    """
    machine = platform.machine().lower()
    arch = _ARCH_ALIASES.get(machine, machine)
    if arch not in AUDIT_ARCH:
        raise SeccompUnsupported(
            f"no seccomp filter for the {machine} architecture; run jobs with --sandbox docker"
        )
    return arch


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def build_filter(arch: str) -> bytes:
    """The BPF program (an array of `struct sock_filter`) for `arch`, ready for `bwrap --seccomp`."""
    col = 0 if arch == "x86_64" else 1
    prog = [
        _insn(_LD_W_ABS, OFFSET_ARCH),
        _insn(_JEQ_K, AUDIT_ARCH[arch], jt=1),
        _insn(_RET_K, RET_KILL_PROCESS),
    ]
    prog.append(_insn(_LD_W_ABS, OFFSET_NR))
    if arch == "x86_64":  # x32 calls share the x86_64 arch value, with this bit set in the number
        prog += [_insn(_JGE_K, X32_SYSCALL_BIT, jf=1), _insn(_RET_K, RET_KILL_PROCESS)]
    for numbers in DENIED.values():
        if (nr := numbers[col]) is not None:
            prog += [_insn(_JEQ_K, nr, jf=1), _insn(_RET_K, RET_ERRNO | errno.EPERM)]
    prog += [_insn(_JEQ_K, CLONE3[col], jf=1), _insn(_RET_K, RET_ERRNO | errno.ENOSYS)]
    prog += [
        _insn(_JEQ_K, CLONE[col], jf=3),  # not clone: jump to ALLOW
        _insn(_LD_W_ABS, OFFSET_ARG0_LOW),  # clone's flags (the namespace bits are in the low word)
        _insn(_JSET_K, CLONE_NEW_FLAGS, jf=1),
        _insn(_RET_K, RET_ERRNO | errno.EPERM),
        _insn(_RET_K, RET_ALLOW),
    ]
    return b"".join(prog)
