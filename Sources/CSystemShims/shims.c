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

#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <sys/types.h>
int mdad_setfsuid(unsigned int uid) { return setfsuid((uid_t)uid); }
int mdad_setfsgid(unsigned int gid) { return setfsgid((gid_t)gid); }
/* The raw system call changes the calling thread's groups only; glibc's setgroups()
   changes every thread's. */
long mdad_thread_setgroups(int count, const unsigned int *gids) {
    return syscall(SYS_setgroups, count, (const gid_t *)gids);
}
#include <pthread.h>
/* Names the calling thread as top(1) and /proc show it (at most 15 bytes). */
int mdad_name_thread(const char *name) { return pthread_setname_np(pthread_self(), name); }

/* A fully static program has no dynamic section: _DYNAMIC is then an unresolved weak symbol. */
extern const char _DYNAMIC[] __attribute__((weak));
int mdad_is_static_executable(void) { return _DYNAMIC == 0; }

/* glibc's own override of /etc/nsswitch.conf for one database (for static programs). */
#include <nss.h>
int mdad_nss_configure(const char *database, const char *sources) {
    return __nss_configure_lookup(database, sources);
}
