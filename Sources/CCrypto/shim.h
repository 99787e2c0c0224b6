#ifndef MDAD_CCRYPTO_SHIM_H
#define MDAD_CCRYPTO_SHIM_H
/* OpenSSL's libcrypto (Debian's libssl-dev), for HMAC-SHA1 in the Sender Rewriting Scheme:
   the one-shot HMAC() is all mdad uses of it. */
#include <openssl/hmac.h>
#include <openssl/evp.h>
#endif
