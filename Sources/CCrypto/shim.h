#ifndef MDAD_CCRYPTO_SHIM_H
#define MDAD_CCRYPTO_SHIM_H
/* HMAC from OpenSSL's libcrypto (Debian's libssl3): HMAC-SHA1 for the Sender Rewriting
 * Scheme, HMAC-MD5 for SMTP AUTH CRAM-MD5 (Plugins' HMAC.compute is the Swift side).
 *
 * libcrypto is loaded at the first use (dlopen), not linked: every mdad program links the
 * stages, and loading libcrypto costs each `mdad deliver` process about a millisecond of
 * relocations and page faults, though only hosts with srs_domain or a CRAM-MD5 relay ever
 * need it. HMAC(), EVP_sha1() and EVP_md5() are all mdad uses; their prototypes are
 * OpenSSL's stable API.
 *
 * The fully static mdad-deliver (scripts/build-static-deliver) cannot dlopen libcrypto (a
 * static program would load a second libc with it, and crash); it links libcrypto.a instead,
 * which defines the weak references below. Every other program leaves them null. A static
 * program without them gets no HMAC rather than a dlopen. */
#include <dlfcn.h>
#include <stddef.h>

typedef const void *(*mdad_evp_md_fn)(void);
typedef unsigned char *(*mdad_hmac_fn)(const void *md, const void *key, int key_len, const unsigned char *data,
                                       size_t data_len, unsigned char *out, unsigned int *out_len);

extern unsigned char *HMAC(const void *md, const void *key, int key_len, const unsigned char *data, size_t data_len,
                           unsigned char *out, unsigned int *out_len) __attribute__((weak));
extern const void *EVP_sha1(void) __attribute__((weak));
extern const void *EVP_md5(void) __attribute__((weak));
extern const char _DYNAMIC[] __attribute__((weak));

/* The functions, linked or loaded; 0 when neither. The first callers may each load libcrypto
 * (dlopen counts references and returns the same library); the pointers are published
 * atomically. `which` is 0 for SHA-1, 1 for MD5. */
static inline int mdad_crypto_functions(int which, mdad_hmac_fn *hmac_out, mdad_evp_md_fn *md_out) {
    static mdad_hmac_fn hmac_fn;
    static mdad_evp_md_fn md_fns[2];
    if (HMAC && EVP_sha1 && EVP_md5) {
        *hmac_out = HMAC;
        *md_out = which ? EVP_md5 : EVP_sha1;
        return 1;
    }
    mdad_hmac_fn hmac = __atomic_load_n(&hmac_fn, __ATOMIC_ACQUIRE);
    if (!hmac) {
        if (!_DYNAMIC) return 0; /* a static program: no dlopen */
        void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
        if (!h) return 0;
        mdad_evp_md_fn sha1 = (mdad_evp_md_fn)dlsym(h, "EVP_sha1");
        mdad_evp_md_fn md5 = (mdad_evp_md_fn)dlsym(h, "EVP_md5");
        hmac = (mdad_hmac_fn)dlsym(h, "HMAC");
        if (!sha1 || !md5 || !hmac) return 0;
        __atomic_store_n(&md_fns[0], sha1, __ATOMIC_RELAXED);
        __atomic_store_n(&md_fns[1], md5, __ATOMIC_RELAXED);
        __atomic_store_n(&hmac_fn, hmac, __ATOMIC_RELEASE);
    }
    *hmac_out = hmac;
    *md_out = __atomic_load_n(&md_fns[which ? 1 : 0], __ATOMIC_RELAXED);
    return 1;
}

/* HMAC of data under key into out: `which` 0 is SHA-1 (20 bytes), 1 is MD5 (16 bytes).
 * Returns the length written, or 0 when libcrypto cannot be had or fails. */
static inline unsigned int mdad_hmac(int which, const void *key, int key_len, const unsigned char *data,
                                     size_t data_len, unsigned char *out) {
    mdad_hmac_fn hmac;
    mdad_evp_md_fn md;
    if (!mdad_crypto_functions(which, &hmac, &md)) return 0;
    unsigned int len = 0, expected = which ? 16 : 20;
    return hmac(md(), key, key_len, data, data_len, out, &len) && len == expected ? expected : 0;
}
#endif
