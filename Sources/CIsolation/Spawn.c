// Starting a helper: posix_spawn of the engine's own binary, never a fork of the engine.
#define _GNU_SOURCE
#include "CIsolation.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <unistd.h>

int mf_iso_spawn(const char *path, char *const argv[], int child_fd, pid_t *pid) {
    posix_spawn_file_actions_t actions;
    int error = posix_spawn_file_actions_init(&actions);
    if (error != 0) return error;
    if ((error = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)) != 0) goto done;
    if ((error = posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)) != 0) goto done;
    if ((error = posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)) != 0) goto done;
    if ((error = posix_spawn_file_actions_adddup2(&actions, child_fd, 3)) != 0) goto done;
    // Whatever the engine holds without close-on-exec stays out of the helper.
    if ((error = posix_spawn_file_actions_addclosefrom_np(&actions, 4)) != 0) goto done;
    posix_spawnattr_t attributes;
    if ((error = posix_spawnattr_init(&attributes)) != 0) goto done;
    // Default signal handling and an empty mask, whatever the engine set.
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attributes, &all);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_USEVFORK);
    char *const environment[] = {NULL};
    error = posix_spawn(pid, path, &actions, &attributes, argv, environment);
    posix_spawnattr_destroy(&attributes);
done:
    posix_spawn_file_actions_destroy(&actions);
    return error;
}

int mf_iso_socketpair(int fds[2]) {
    return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0 ? 0 : errno;
}
