#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>
#include "CSystemShims.h"

int mdad_syncfs(int fd) { return syncfs(fd); }

int mdad_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

#include <spawn.h>
int mdad_spawn_addchdir(void *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np((posix_spawn_file_actions_t *)actions, path);
}
