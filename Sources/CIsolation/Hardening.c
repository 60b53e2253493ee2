// The helper's hardening before its first request, and the reads its engine makes of it.
#define _GNU_SOURCE
#include "CIsolation.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>
#include <sys/socket.h>

static int limit(int resource, rlim_t value) {
    struct rlimit l = {.rlim_cur = value, .rlim_max = value};
    return setrlimit(resource, &l) == 0 ? 0 : errno;
}

int mf_iso_harden(pid_t parent, uint64_t address_space) {
    // Descriptors 0–2 are /dev/null and 3 the socket; posix_spawn's file actions closed the rest,
    // and what the runtime opened since (its wake-up descriptors) stays: no new one can be opened.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) return errno;
    // The parent may have died before the line above: then nobody would kill us.
    if (getppid() != parent) _exit(0);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    // One malloc arena: each arena reserves 64MB of address space, which the limit below counts.
    mallopt(M_ARENA_MAX, 1);
    int highest = 3;
    for (int fd = 4; fd < 1024; fd++) {
        if (fcntl(fd, F_GETFD) != -1) highest = fd;
    }
    int error;
    if ((error = limit(RLIMIT_NOFILE, (rlim_t)highest + 1)) != 0) return error;
    if ((error = limit(RLIMIT_CORE, 0)) != 0) return error;
    if ((error = limit(RLIMIT_FSIZE, 0)) != 0) return error;
    if (address_space > 0 && (error = limit(RLIMIT_AS, (rlim_t)address_space)) != 0) return error;
    // The CPU limit is set per execution (mf_iso_cpu_budget); its hard limit stays where it is.
    return 0;
}

uint64_t mf_iso_address_space(void) {
    FILE *file = fopen("/proc/self/statm", "r");
    if (!file) return 0;
    unsigned long long pages = 0;
    if (fscanf(file, "%llu", &pages) != 1) pages = 0;
    fclose(file);
    return pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

// CPU seconds used as the last getrusage read them (-1: not read yet), and the soft limit set last.
static int64_t cpu_used = -1;
static rlim_t cpu_soft = RLIM_INFINITY;
static rlim_t cpu_hard = 0;

static void read_usage(struct rusage *usage) {
    if (getrusage(RUSAGE_SELF, usage) != 0) {
        memset(usage, 0, sizeof *usage);
        return;
    }
    cpu_used = (int64_t)usage->ru_utime.tv_sec + (int64_t)usage->ru_stime.tv_sec;
}

void mf_iso_cpu_budget(uint64_t seconds) {
    if (cpu_used < 0) {
        struct rusage usage;
        read_usage(&usage);
        struct rlimit l;
        if (getrlimit(RLIMIT_CPU, &l) != 0) return;
        cpu_hard = l.rlim_max;
        cpu_soft = l.rlim_cur;
    }
    rlim_t soft = (rlim_t)((uint64_t)cpu_used + 1 + seconds);
    if (cpu_hard != RLIM_INFINITY && soft > cpu_hard) soft = cpu_hard;
    if (soft == cpu_soft) return;
    struct rlimit l = {.rlim_cur = soft, .rlim_max = cpu_hard};
    if (setrlimit(RLIMIT_CPU, &l) == 0) cpu_soft = soft;
}

uint64_t mf_iso_peak_rss(void) {
    struct rusage usage;
    read_usage(&usage);
    return (uint64_t)usage.ru_maxrss * 1024;
}

uint64_t mf_iso_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

long mf_iso_read_some(int fd, void *buffer, size_t capacity, uint64_t deadline_ns) {
    for (;;) {
        if (deadline_ns != 0) {
            uint64_t now = mf_iso_now_ns();
            if (now >= deadline_ns) return -2;
            uint64_t wait = deadline_ns - now;
            struct timespec timeout = {.tv_sec = (time_t)(wait / 1000000000u), .tv_nsec = (long)(wait % 1000000000u)};
            struct pollfd p = {.fd = fd, .events = POLLIN};
            int ready = ppoll(&p, 1, &timeout, NULL);
            if (ready < 0 && errno != EINTR) return -1;
            if (ready <= 0) continue;
        }
        ssize_t n = read(fd, buffer, capacity);
        if (n > 0) return (long)n;
        if (n < 0 && errno == EINTR) continue;
        return -1;
    }
}

int mf_iso_write_full(int fd, const void *buffer, size_t count) {
    const char *at = buffer;
    while (count > 0) {
        ssize_t n = send(fd, at, count, MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK) n = write(fd, at, count);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        at += n;
        count -= (size_t)n;
    }
    return 0;
}

long mf_iso_forbidden_call(const char *which) {
#ifndef MF_ISOLATION_PROBE
    (void)which;
    return -1;
#else
    if (strcmp(which, "execve") == 0) {
        char *argv[] = {"/bin/true", NULL};
        char *envp[] = {NULL};
        return syscall(SYS_execve, "/bin/true", argv, envp);
    }
    if (strcmp(which, "socket") == 0) {
        long fd = syscall(SYS_socket, 2 /* AF_INET */, 1 /* SOCK_STREAM */, 0);
        return fd < 0 ? -errno : fd;
    }
    if (strcmp(which, "fork") == 0) return syscall(SYS_clone, (long)SIGCHLD, 0L, 0L, 0L, 0L);
    if (strcmp(which, "ptrace") == 0) return syscall(SYS_ptrace, 0L /* PTRACE_TRACEME */, 0L, 0L, 0L);
    if (strcmp(which, "exec_mmap") == 0) {
        return (long)syscall(SYS_mmap, 0L, 4096L, (long)(PROT_READ | PROT_EXEC), (long)(MAP_PRIVATE | MAP_ANONYMOUS), -1L, 0L);
    }
    if (strcmp(which, "open") == 0) {
        long fd = syscall(SYS_openat, (long)AT_FDCWD, "/etc/passwd", (long)O_RDONLY, 0L);
        return fd < 0 ? -errno : fd;
    }
    return -1;
#endif
}
