#ifndef MOONFLOW_CISOLATION_H
#define MOONFLOW_CISOLATION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// Starts `path` with `argv` by posix_spawn (never fork): an empty environment, standard input,
/// output and error on /dev/null, `child_fd` as descriptor 3 and every other descriptor closed.
/// Returns 0 or an errno; the child's pid in `pid`.
int mf_iso_spawn(const char *path, char *const argv[], int child_fd, pid_t *pid);

/// A connected pair of stream sockets, both close-on-exec. Returns 0 or an errno.
int mf_iso_socketpair(int fds[2]);

/// The helper's hardening before its first request (docs/sandbox.md, "The second wall"): dies
/// with its parent (and exits when the parent is already not `parent`), no new privileges, not
/// dumpable, rlimits (address space `address_space` bytes, no core files, no file writes, at
/// most the descriptors open now). Returns 0 or an errno.
int mf_iso_harden(pid_t parent, uint64_t address_space);

/// Installs the seccomp allow-list (docs/sandbox.md lists it). Returns 0 or an errno.
int mf_iso_install_seccomp(void);

/// Bytes of virtual address space the process maps now (read before the filter is on).
uint64_t mf_iso_address_space(void);

/// Lets the helper's CPU time run `seconds` more before SIGXCPU ends it: the CPU time counted is
/// the one `mf_iso_peak_rss` read after the previous execution (the helper only waited since), and
/// the limit is set only when it changes.
void mf_iso_cpu_budget(uint64_t seconds);

/// The helper's peak resident set, in bytes (and the CPU time it used so far, kept for
/// `mf_iso_cpu_budget`): one `getrusage`.
uint64_t mf_iso_peak_rss(void);

/// Reads what has arrived, at most `capacity` bytes, waiting for some at most until `deadline_ns`
/// (CLOCK_MONOTONIC; 0: no deadline). Returns the count, -1 at end of file or on an error, -2
/// when the deadline passed first.
long mf_iso_read_some(int fd, void *buffer, size_t capacity, uint64_t deadline_ns);

/// CLOCK_MONOTONIC in nanoseconds.
uint64_t mf_iso_now_ns(void);

/// Writes all `count` bytes. Returns 0, or -1 with errno.
int mf_iso_write_full(int fd, const void *buffer, size_t count);

/// Test-only (debug builds): makes the forbidden system call `which` names ("execve", "socket",
/// "fork", "ptrace", "exec_mmap", "open"); returns what the call returned (-errno on failure)
/// when it survived.
long mf_iso_forbidden_call(const char *which);

#endif
