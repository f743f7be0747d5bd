/* digest.h: SHA-256, MD5, HMAC-SHA-256, PBKDF2, base64 and random bytes for md5 and SCRAM authentication, without libcrypto */
#ifndef PGXR_DIGEST_H
#define PGXR_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define DIGEST_SHA256_LEN 32
#define DIGEST_MD5_LEN 16
/* both hashes work on 64-byte blocks; HMAC pads its key to one */
#define DIGEST_BLOCK_LEN 64

/* caller-owned, so a hash needs no allocation; copyable mid-stream */
struct digest_sha256 {
	uint32_t h[8];
	uint64_t bytes;			/* total absorbed, for the length trailer */
	uint8_t buf[DIGEST_BLOCK_LEN];	/* a partial block; bytes % 64 of it used */
};

struct digest_md5 {
	uint32_t h[4];
	uint64_t bytes;
	uint8_t buf[DIGEST_BLOCK_LEN];
};

/* final() wipes the context: init() it again before reuse */
void digest_sha256_init(struct digest_sha256 *c);
void digest_sha256_update(struct digest_sha256 *c, const void *data, size_t len);
void digest_sha256_final(struct digest_sha256 *c, uint8_t out[DIGEST_SHA256_LEN]);
void digest_sha256(const void *data, size_t len, uint8_t out[DIGEST_SHA256_LEN]);

void digest_md5_init(struct digest_md5 *c);
void digest_md5_update(struct digest_md5 *c, const void *data, size_t len);
void digest_md5_final(struct digest_md5 *c, uint8_t out[DIGEST_MD5_LEN]);

/* RFC 2104; a key longer than a block is hashed first */
void digest_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
			uint8_t out[DIGEST_SHA256_LEN]);
/* RFC 8018 with HMAC-SHA-256, first block only (dkLen = 32): all SCRAM uses; iterations < 1 count as 1 */
void digest_pbkdf2_sha256(const void *password, size_t plen, const void *salt, size_t slen,
			  int iterations, uint8_t out[DIGEST_SHA256_LEN]);

/* RFC 4648, standard alphabet with padding: the length written (NUL terminated) or -1 */
int digest_base64_encode(const uint8_t *in, size_t n, char *out, size_t outlen);
/* strict (no whitespace, canonical padding): the bytes decoded, or -1 */
int digest_base64_decode(const char *in, size_t len, uint8_t *out, size_t outlen);

/* zeroes memory even where the compiler sees no later read */
void digest_cleanse(void *p, size_t n);
/* from the kernel's CSPRNG: 0 or -errno */
int digest_random(void *buf, size_t n);

#endif /* PGXR_DIGEST_H */
