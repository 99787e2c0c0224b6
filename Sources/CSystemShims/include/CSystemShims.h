#ifndef MDAD_CSYSTEMSHIMS_H
#define MDAD_CSYSTEMSHIMS_H

/// syncfs(2): flush every dirty buffer of the file system that holds `fd`. Declared by glibc
/// only under _GNU_SOURCE, which Swift's Glibc module does not define; this shim exposes it.
int mdad_syncfs(int fd);



/// pipe2(2) with O_CLOEXEC: a pipe whose ends no concurrently spawned child inherits.
int mdad_pipe_cloexec(int fds[2]);
/// posix_spawn_file_actions_addchdir_np (glibc 2.29): the spawned child starts in `path`.
/// `actions` is a posix_spawn_file_actions_t *.
int mdad_spawn_addchdir(void *actions, const char *path);
/// setfsuid(2)/setfsgid(2): the calling thread's file-system identity (Linux keeps it per
/// thread). Return the previous value; pass (unsigned)-1 to read the current one.
int mdad_setfsuid(unsigned int uid);
int mdad_setfsgid(unsigned int gid);
/// Names the calling thread (at most 15 bytes show in top and /proc).
int mdad_name_thread(const char *name);
/// 1 in a fully static program (no dynamic section), 0 otherwise.
int mdad_is_static_executable(void);
/// __nss_configure_lookup(3): use `sources` for `database` instead of /etc/nsswitch.conf.
int mdad_nss_configure(const char *database, const char *sources);
/// setgroups(2) for the calling thread only (the raw system call).
long mdad_thread_setgroups(int count, const unsigned int *gids);
#endif
