#define _GNU_SOURCE
#include <unistd.h>
#include "CSystemShims.h"

int mdad_syncfs(int fd) { return syncfs(fd); }
