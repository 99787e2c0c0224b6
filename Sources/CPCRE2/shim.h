// The 8-bit PCRE2 library as Swift sees it. PCRE2_CODE_UNIT_WIDTH selects the `_8` functions;
// the two macros Swift cannot import (they are casts) are given as inline functions.
#ifndef MDAD_CPCRE2_SHIM_H
#define MDAD_CPCRE2_SHIM_H
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

static inline PCRE2_SIZE mdad_pcre2_zero_terminated(void) { return PCRE2_ZERO_TERMINATED; }
static inline PCRE2_SIZE mdad_pcre2_unset(void) { return PCRE2_UNSET; }
#endif
