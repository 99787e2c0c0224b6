#ifndef MDAD_CLMDB_SHIM_H
#define MDAD_CLMDB_SHIM_H
/* LMDB (Debian's liblmdb-dev): the Bayes token store; readers see a snapshot while one writer learns. */
#include <lmdb.h>
#endif
