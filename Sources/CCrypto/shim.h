#ifndef MDAD_CCRYPTO_SHIM_H
#define MDAD_CCRYPTO_SHIM_H
/* HMAC-SHA1 from OpenSSL's libcrypto (Debian's libssl3), for the Sender Rewriting Scheme.
 *
 * libcrypto is loaded at the first use (dlopen), not linked: every mdad program links the
 * stages, and loading libcrypto costs each `mdad deliver` process about a millisecond of
 * relocations and page faults, though only hosts with srs_domain ever need it. The one-shot
 * HMAC() and EVP_sha1() are all mdad uses; their prototypes are OpenSSL's stable API.
 *
 * The fully static mdad-deliver (bench/build-release.sh) cannot dlopen libcrypto (a static
 * program would load a second libc with it, and crash); it links libcrypto.a instead, which
 * defines the two weak references below. Every other program leaves them null. */
#include <dlfcn.h>
#include <stddef.h>

typedef const void *(*mdad_evp_md_fn)(void);
typedef unsigned char *(*mdad_hmac_fn)(const void *md, const void *key, int key_len, const unsigned char *data,
                                       size_t data_len, unsigned char *out, unsigned int *out_len);

/* HMAC-SHA1 of data under key into out (20 bytes); 20 on success, 0 when libcrypto cannot be
 * loaded or fails. The first callers may each load libcrypto (dlopen counts references and
 * returns the same library); the pointers are published atomically. */
extern unsigned char *HMAC(const void *md, const void *key, int key_len, const unsigned char *data, size_t data_len,
                           unsigned char *out, unsigned int *out_len) __attribute__((weak));
extern const void *EVP_sha1(void) __attribute__((weak));

static inline unsigned int mdad_hmac_sha1(const void *key, int key_len, const unsigned char *data, size_t data_len,
                                          unsigned char *out) {
    static mdad_evp_md_fn sha1_fn;
    static mdad_hmac_fn hmac_fn;
    mdad_hmac_fn hmac = __atomic_load_n(&hmac_fn, __ATOMIC_ACQUIRE);
    mdad_evp_md_fn sha1;
    if (HMAC && EVP_sha1) {
        hmac = HMAC;
        sha1 = EVP_sha1;
    } else if (hmac) {
        sha1 = __atomic_load_n(&sha1_fn, __ATOMIC_RELAXED);
    } else {
        void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
        if (!h) return 0;
        sha1 = (mdad_evp_md_fn)dlsym(h, "EVP_sha1");
        hmac = (mdad_hmac_fn)dlsym(h, "HMAC");
        if (!sha1 || !hmac) return 0;
        __atomic_store_n(&sha1_fn, sha1, __ATOMIC_RELAXED);
        __atomic_store_n(&hmac_fn, hmac, __ATOMIC_RELEASE);
    }
    unsigned int len = 0;
    return hmac(sha1(), key, key_len, data, data_len, out, &len) && len == 20 ? 20 : 0;
}
#endif
