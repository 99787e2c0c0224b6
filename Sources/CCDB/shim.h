#ifndef MDAD_CCDB_SHIM_H
#define MDAD_CCDB_SHIM_H
/* tinycdb (Debian's libcdb-dev): constant databases, mmap'ed, for compiled lookup tables. */
#include <cdb.h>
#endif
