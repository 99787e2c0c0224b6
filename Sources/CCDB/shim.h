#ifndef MDAD_CCDB_SHIM_H
#define MDAD_CCDB_SHIM_H
/* tinycdb (Debian's libcdb-dev): constant databases, mmap'ed, for compiled lookup tables. */
#include <cdb.h>

/* Prefetch hints for batched lookups. They read the cdb format's public layout (the 256-entry
 * table of hash tables at the start of the file, 8-byte slots of hash and record position)
 * only to tell the processor which cache lines cdb_find will want soon; every position is
 * checked against the file size, and a hint never changes what cdb_find answers. */
static inline unsigned mdad_cdb_u32(const unsigned char *p) {
    return (unsigned)p[0] | ((unsigned)p[1] << 8) | ((unsigned)p[2] << 16) | ((unsigned)p[3] << 24);
}

/* The position of the first slot cdb_find probes for `hash`, or 0 when there is none. */
static inline unsigned mdad_cdb_first_slot(const struct cdb *c, unsigned hash) {
    if (c->cdb_mem == 0 || c->cdb_fsize < 2048) return 0;
    const unsigned char *t = c->cdb_mem + ((hash << 3) & 2047);
    unsigned n = mdad_cdb_u32(t + 4);
    if (n == 0) return 0;
    unsigned long slot = (unsigned long)mdad_cdb_u32(t) + (unsigned long)((hash >> 8) % n) * 8;
    return slot + 8 <= c->cdb_fsize ? (unsigned)slot : 0;
}

/* First stage: the slot. */
static inline void mdad_cdb_prefetch_slot(const struct cdb *c, unsigned hash) {
    unsigned slot = mdad_cdb_first_slot(c, hash);
    if (slot) __builtin_prefetch(c->cdb_mem + slot);
}

/* Second stage (the slot is in cache by now): the record it points at, when the hashes match. */
static inline void mdad_cdb_prefetch_record(const struct cdb *c, unsigned hash) {
    unsigned slot = mdad_cdb_first_slot(c, hash);
    if (!slot) return;
    const unsigned char *s = c->cdb_mem + slot;
    if (mdad_cdb_u32(s) != hash) return;
    unsigned record = mdad_cdb_u32(s + 4);
    if (record >= 2048 && (unsigned long)record + 8 <= c->cdb_fsize) __builtin_prefetch(c->cdb_mem + record);
}
#endif
