// The seccomp allow-list of a sandbox helper, a classic BPF program written here (libseccomp is
// not needed). docs/sandbox.md ("The second wall") lists every rule and why it is there.
#define _GNU_SOURCE
#include "CIsolation.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define MF_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define MF_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "the seccomp filter knows x86_64 and aarch64"
#endif

#define MF_ALLOW SECCOMP_RET_ALLOW
#define MF_KILL SECCOMP_RET_KILL_PROCESS
#define MF_EPERM (SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))
#define MF_ENOSYS (SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA))

#define MF_MAX_FILTER 256

struct program {
    struct sock_filter code[MF_MAX_FILTER];
    unsigned short length;
    int overflow;
};

static void emit(struct program *p, struct sock_filter instruction) {
    if (p->length >= MF_MAX_FILTER) {
        p->overflow = 1;
        return;
    }
    p->code[p->length++] = instruction;
}

static void load_nr(struct program *p) {
    emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
}

// The low 32 bits of argument `index` (little-endian: the first word).
static void load_arg(struct program *p, int index) {
    emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[index])));
}

static void ret(struct program *p, uint32_t action) {
    emit(p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, action));
}

// nr == `nr` → `action`. The accumulator holds the number before and after.
static void rule(struct program *p, long nr, uint32_t action) {
    emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 1));
    ret(p, action);
}

// nr == `nr` → (argument `index` & `mask` ? `if_set` : `if_clear`).
static void rule_mask(struct program *p, long nr, int index, uint32_t mask, uint32_t if_set, uint32_t if_clear) {
    emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 4));
    load_arg(p, index);
    emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, mask, 0, 1));
    ret(p, if_set);
    ret(p, if_clear);
}

// nr == `nr` → (argument `index` == `value` ? `if_equal` : `otherwise`).
static void rule_equal(struct program *p, long nr, int index, uint32_t value, uint32_t if_equal, uint32_t otherwise) {
    emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 4));
    load_arg(p, index);
    emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, value, 0, 1));
    ret(p, if_equal);
    ret(p, otherwise);
}

// What a helper may call as it is: reading and writing its socket, memory, signals, threads'
// synchronisation, time, its own limits and exiting.
static const long allowed[] = {
    SYS_read, SYS_write, SYS_sendto, SYS_recvfrom, SYS_readv, SYS_writev, SYS_close, SYS_fstat, SYS_newfstatat, SYS_lseek,
    SYS_brk, SYS_munmap, SYS_mremap, SYS_madvise,
    SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_rt_sigreturn, SYS_sigaltstack,
    SYS_futex, SYS_sched_yield, SYS_sched_getaffinity, SYS_nanosleep, SYS_clock_nanosleep, SYS_clock_gettime,
    SYS_clock_getres, SYS_gettimeofday, SYS_getpid, SYS_gettid, SYS_getppid, SYS_getrusage, SYS_getrlimit, SYS_setrlimit,
    SYS_ppoll, SYS_epoll_pwait, SYS_epoll_ctl, SYS_eventfd2, SYS_timerfd_settime, SYS_timerfd_gettime, SYS_getrandom, SYS_membarrier, SYS_rseq,
    SYS_set_robust_list, SYS_set_tid_address, SYS_restart_syscall, SYS_exit, SYS_exit_group,
#ifdef SYS_poll
    SYS_poll,
#endif
#ifdef SYS_epoll_wait
    SYS_epoll_wait,
#endif
#ifdef SYS_futex_waitv
    SYS_futex_waitv,
#endif
};

// What kills the helper at once: running programs, new processes, tracing, other processes' memory.
static const long killing[] = {
    SYS_execve, SYS_execveat, SYS_ptrace, SYS_process_vm_readv, SYS_process_vm_writev, SYS_kexec_load,
    SYS_init_module, SYS_finit_module,
#ifdef SYS_fork
    SYS_fork,
#endif
#ifdef SYS_vfork
    SYS_vfork,
#endif
};

// Refused with EPERM (listed for the record: everything not allowed is refused so).
static const long refused[] = {
    SYS_openat, SYS_socket, SYS_socketpair, SYS_connect, SYS_bind, SYS_listen, SYS_accept4,
#ifdef SYS_open
    SYS_open,
#endif
};

int mf_iso_install_seccomp(void) {
    static struct program p;
    p.length = 0;
    p.overflow = 0;
    // Another architecture's numbers mean other calls: refuse the mix.
    emit(&p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
    emit(&p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MF_AUDIT_ARCH, 1, 0));
    ret(&p, MF_KILL);
    load_nr(&p);
#if defined(__x86_64__)
    // The x32 ABI's numbers carry bit 30.
    emit(&p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1));
    ret(&p, MF_KILL);
#endif
    for (size_t i = 0; i < sizeof killing / sizeof killing[0]; i++) rule(&p, killing[i], MF_KILL);
    // Files and the network are refused with EPERM, not a kill: the C library and the runtime
    // probe them on their own (a name-service socket, a locale file) and carry on without.
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) rule(&p, refused[i], MF_EPERM);
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) rule(&p, allowed[i], MF_ALLOW);
    // Memory may be mapped and protected, never executable (no code the helper did not start with).
    rule_mask(&p, SYS_mmap, 2, PROT_EXEC, MF_KILL, MF_ALLOW);
    rule_mask(&p, SYS_mprotect, 2, PROT_EXEC, MF_KILL, MF_ALLOW);
    // Threads (a clone sharing the process) yes, processes no; clone3 cannot be inspected, so it
    // answers ENOSYS and the C library falls back to clone.
    rule_mask(&p, SYS_clone, 0, CLONE_THREAD, MF_ALLOW, MF_KILL);
    rule(&p, SYS_clone3, MF_ENOSYS);
    // Limits and signals of this process only.
    rule_equal(&p, SYS_prlimit64, 0, 0, MF_ALLOW, MF_EPERM);
    rule_equal(&p, SYS_tgkill, 0, (uint32_t)getpid(), MF_ALLOW, MF_EPERM);
    rule_equal(&p, SYS_kill, 0, (uint32_t)getpid(), MF_ALLOW, MF_EPERM);
    // Everything else — open, openat, stat of paths, unlink, … — fails with EPERM.
    ret(&p, MF_EPERM);
    if (p.overflow) return E2BIG;

    struct sock_fprog program = {.len = p.length, .filter = p.code};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &program) != 0) return errno;
    return 0;
}
