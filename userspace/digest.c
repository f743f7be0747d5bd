/* digest.c: SHA-256, MD5, HMAC, PBKDF2, base64 and getrandom for md5 and SCRAM authentication without libcrypto */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <sys/random.h>

#include "digest.h"

/*
 * Bytes are loaded and stored one at a time: the compiler turns these into
 * single (byte-swapping) moves, and no alignment or host order is assumed.
 */
static inline uint32_t load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void store_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static inline uint32_t load_le32(const uint8_t *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static inline void store_le32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static inline uint32_t rotr32(uint32_t x, unsigned n)
{
	return x >> n | x << (32 - n);
}

static inline uint32_t rotl32(uint32_t x, unsigned n)
{
	return x << n | x >> (32 - n);
}

void digest_cleanse(void *p, size_t n)
{
	/* a plain memset of memory never read again is a dead store to the optimiser */
	explicit_bzero(p, n);
}

/* ---- SHA-256 ---- */

/* FIPS 180-4 4.2.2: cube roots of the first 64 primes */
static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/*
 * One round, with the roles of the eight working variables passed in
 * rather than moved: unrolled eight at a time, FIPS 180-4's shuffle
 * "h = g; g = f; ..." disappears into register naming.
 */
#define SHA256_ROUND(a, b, c, d, e, f, g, h, i)                                         \
	do {                                                                            \
		uint32_t t1 = h + (rotr32(e, 6) ^ rotr32(e, 11) ^ rotr32(e, 25)) +      \
			      ((e & f) ^ (~e & g)) + sha256_k[i] + w[i];                \
		d += t1;                                                                \
		h = t1 + (rotr32(a, 2) ^ rotr32(a, 13) ^ rotr32(a, 22)) +               \
		    ((a & b) ^ (a & c) ^ (b & c));                                      \
	} while (0)

/*
 * The compression function on a block already in words, so that PBKDF2
 * can chain its 32-byte values without a trip through bytes.  The schedule
 * left on the stack is not wiped: that would cost every block, and the
 * next hash overwrites it.
 */
static void sha256_transform(uint32_t s[8], const uint32_t m[16])
{
	uint32_t w[64];
	uint32_t a = s[0], b = s[1], c = s[2], d = s[3];
	uint32_t e = s[4], f = s[5], g = s[6], h = s[7];

	for (int i = 0; i < 16; i++)
		w[i] = m[i];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = rotr32(w[i - 15], 7) ^ rotr32(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = rotr32(w[i - 2], 17) ^ rotr32(w[i - 2], 19) ^ (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	for (int i = 0; i < 64; i += 8) {
		SHA256_ROUND(a, b, c, d, e, f, g, h, i);
		SHA256_ROUND(h, a, b, c, d, e, f, g, i + 1);
		SHA256_ROUND(g, h, a, b, c, d, e, f, i + 2);
		SHA256_ROUND(f, g, h, a, b, c, d, e, i + 3);
		SHA256_ROUND(e, f, g, h, a, b, c, d, i + 4);
		SHA256_ROUND(d, e, f, g, h, a, b, c, i + 5);
		SHA256_ROUND(c, d, e, f, g, h, a, b, i + 6);
		SHA256_ROUND(b, c, d, e, f, g, h, a, i + 7);
	}
	s[0] += a;
	s[1] += b;
	s[2] += c;
	s[3] += d;
	s[4] += e;
	s[5] += f;
	s[6] += g;
	s[7] += h;
}

#undef SHA256_ROUND

static void sha256_block(uint32_t s[8], const uint8_t *p)
{
	uint32_t m[16];

	for (int i = 0; i < 16; i++)
		m[i] = load_be32(p + 4 * i);
	sha256_transform(s, m);
}

void digest_sha256_init(struct digest_sha256 *c)
{
	/* FIPS 180-4 5.3.3: square roots of the first 8 primes */
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(c->h, iv, sizeof(iv));
	c->bytes = 0;
}

/* one compression function: SHA-256's and MD5's share their buffering */
typedef void (*digest_block_fn)(uint32_t *state, const uint8_t *block);

static void digest_absorb(uint32_t *state, uint8_t *buf, uint64_t *bytes, const void *data,
			  size_t len, digest_block_fn block)
{
	const uint8_t *p = data;
	size_t have = *bytes % DIGEST_BLOCK_LEN;

	*bytes += len;
	if (have) {
		size_t take = DIGEST_BLOCK_LEN - have;

		if (len < take) {
			memcpy(buf + have, p, len);
			return;
		}
		memcpy(buf + have, p, take);
		block(state, buf);
		p += take;
		len -= take;
	}
	/* whole blocks straight from the caller's buffer, no copy */
	for (; len >= DIGEST_BLOCK_LEN; p += DIGEST_BLOCK_LEN, len -= DIGEST_BLOCK_LEN)
		block(state, p);
	if (len)
		memcpy(buf, p, len);
}

/* the 0x80 byte and the zeros up to the 8-byte length, which the caller stores at buf + 56 */
static void digest_pad(uint32_t *state, uint8_t *buf, uint64_t bytes, digest_block_fn block)
{
	size_t have = bytes % DIGEST_BLOCK_LEN;

	buf[have++] = 0x80;
	/* no room left for the length: it goes in a block of its own */
	if (have > DIGEST_BLOCK_LEN - 8) {
		memset(buf + have, 0, DIGEST_BLOCK_LEN - have);
		block(state, buf);
		have = 0;
	}
	memset(buf + have, 0, DIGEST_BLOCK_LEN - 8 - have);
}

void digest_sha256_update(struct digest_sha256 *c, const void *data, size_t len)
{
	digest_absorb(c->h, c->buf, &c->bytes, data, len, sha256_block);
}

void digest_sha256_final(struct digest_sha256 *c, uint8_t out[DIGEST_SHA256_LEN])
{
	uint64_t bits = c->bytes << 3;

	digest_pad(c->h, c->buf, c->bytes, sha256_block);
	store_be32(c->buf + 56, bits >> 32);
	store_be32(c->buf + 60, bits);
	sha256_block(c->h, c->buf);
	for (int i = 0; i < 8; i++)
		store_be32(out + 4 * i, c->h[i]);
	/* the state of an HMAC or PBKDF2 hash is as good as its key */
	digest_cleanse(c, sizeof(*c));
}

void digest_sha256(const void *data, size_t len, uint8_t out[DIGEST_SHA256_LEN])
{
	struct digest_sha256 c;

	digest_sha256_init(&c);
	digest_sha256_update(&c, data, len);
	digest_sha256_final(&c, out);
}

/* ---- MD5 ---- */

/* RFC 1321 3.4: floor(2^32 * |sin(i + 1)|) */
static const uint32_t md5_t[64] = {
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
	0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
	0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
	0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
	0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
	0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
	0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
	0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

/* the rotations of each round's four steps, which repeat four times */
static const uint8_t md5_r[4][4] = {
	{ 7, 12, 17, 22 },
	{ 5, 9, 14, 20 },
	{ 4, 11, 16, 23 },
	{ 6, 10, 15, 21 },
};

static void md5_block(uint32_t s[4], const uint8_t *p)
{
	uint32_t x[16];
	uint32_t a = s[0], b = s[1], c = s[2], d = s[3];

	for (int i = 0; i < 16; i++)
		x[i] = load_le32(p + 4 * i);
	for (int i = 0; i < 64; i++) {
		int round = i / 16;
		uint32_t f;
		unsigned k;

		switch (round) {
		case 0:
			f = (b & c) | (~b & d);
			k = i;
			break;
		case 1:
			f = (b & d) | (c & ~d);
			k = 5 * i + 1;
			break;
		case 2:
			f = b ^ c ^ d;
			k = 3 * i + 5;
			break;
		default:
			f = c ^ (b | ~d);
			k = 7 * i;
			break;
		}
		f = b + rotl32(a + f + x[k % 16] + md5_t[i], md5_r[round][i % 4]);
		a = d;
		d = c;
		c = b;
		b = f;
	}
	s[0] += a;
	s[1] += b;
	s[2] += c;
	s[3] += d;
}

void digest_md5_init(struct digest_md5 *c)
{
	c->h[0] = 0x67452301;
	c->h[1] = 0xefcdab89;
	c->h[2] = 0x98badcfe;
	c->h[3] = 0x10325476;
	c->bytes = 0;
}

void digest_md5_update(struct digest_md5 *c, const void *data, size_t len)
{
	digest_absorb(c->h, c->buf, &c->bytes, data, len, md5_block);
}

void digest_md5_final(struct digest_md5 *c, uint8_t out[DIGEST_MD5_LEN])
{
	uint64_t bits = c->bytes << 3;

	digest_pad(c->h, c->buf, c->bytes, md5_block);
	/* unlike SHA-256, MD5 is little-endian, the length too */
	store_le32(c->buf + 56, bits);
	store_le32(c->buf + 60, bits >> 32);
	md5_block(c->h, c->buf);
	for (int i = 0; i < 4; i++)
		store_le32(out + 4 * i, c->h[i]);
	/* md5 of a password and a user name is itself a pool_passwd secret */
	digest_cleanse(c, sizeof(*c));
}

/* ---- HMAC-SHA-256 and PBKDF2 ---- */

/*
 * The states after the key ^ ipad and key ^ opad blocks: HMAC restarts
 * from copies of them, so PBKDF2 pays for the key once, not per iteration.
 */
static void hmac_sha256_keys(struct digest_sha256 *inner, struct digest_sha256 *outer,
			     const void *key, size_t keylen)
{
	uint8_t pad[DIGEST_BLOCK_LEN] = { 0 };

	if (keylen > DIGEST_BLOCK_LEN)
		digest_sha256(key, keylen, pad);
	else if (keylen)
		memcpy(pad, key, keylen);
	for (int i = 0; i < DIGEST_BLOCK_LEN; i++)
		pad[i] ^= 0x36;
	digest_sha256_init(inner);
	digest_sha256_update(inner, pad, sizeof(pad));
	/* 0x36 ^ 0x5c: from ipad to opad without the key again */
	for (int i = 0; i < DIGEST_BLOCK_LEN; i++)
		pad[i] ^= 0x36 ^ 0x5c;
	digest_sha256_init(outer);
	digest_sha256_update(outer, pad, sizeof(pad));
	digest_cleanse(pad, sizeof(pad));
}

/* the outer hash over the inner one; inner is consumed (wiped) */
static void hmac_sha256_finish(struct digest_sha256 *inner, const struct digest_sha256 *outer,
			       uint8_t out[DIGEST_SHA256_LEN])
{
	struct digest_sha256 o = *outer;

	digest_sha256_final(inner, out);
	digest_sha256_update(&o, out, DIGEST_SHA256_LEN);
	digest_sha256_final(&o, out);
}

void digest_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
			uint8_t out[DIGEST_SHA256_LEN])
{
	struct digest_sha256 inner, outer;

	hmac_sha256_keys(&inner, &outer, key, keylen);
	digest_sha256_update(&inner, data, len);
	hmac_sha256_finish(&inner, &outer, out);
	digest_cleanse(&outer, sizeof(outer));
}

void digest_pbkdf2_sha256(const void *password, size_t plen, const void *salt, size_t slen,
			  int iterations, uint8_t out[DIGEST_SHA256_LEN])
{
	static const uint8_t block_index[4] = { 0, 0, 0, 1 };	/* INT(1): the only block */
	struct digest_sha256 inner, outer, c;
	uint8_t u[DIGEST_SHA256_LEN];
	uint32_t m[16], s[8], t[8];

	hmac_sha256_keys(&inner, &outer, password, plen);

	/* U1 = PRF(P, S || INT(1)) */
	c = inner;
	digest_sha256_update(&c, salt, slen);
	digest_sha256_update(&c, block_index, sizeof(block_index));
	hmac_sha256_finish(&c, &outer, u);
	for (int i = 0; i < 8; i++)
		t[i] = load_be32(u + 4 * i);

	/*
	 * Every later U is the HMAC of 32 bytes: after the pad block, each of
	 * the two hashes is exactly one more block, U then SHA-256's padding
	 * for 64 + 32 bytes.  Built once in words, it is fed to the transform
	 * directly, with none of update()'s copying or final()'s wiping.
	 */
	for (int i = 0; i < 8; i++)
		m[i] = t[i];
	m[8] = 0x80000000;
	for (int i = 9; i < 15; i++)
		m[i] = 0;
	m[15] = (DIGEST_BLOCK_LEN + DIGEST_SHA256_LEN) * 8;
	for (int n = 1; n < iterations; n++) {
		memcpy(s, inner.h, sizeof(s));
		sha256_transform(s, m);
		memcpy(m, s, sizeof(s));
		memcpy(s, outer.h, sizeof(s));
		sha256_transform(s, m);
		for (int i = 0; i < 8; i++) {
			m[i] = s[i];
			t[i] ^= s[i];
		}
	}
	for (int i = 0; i < 8; i++)
		store_be32(out + 4 * i, t[i]);

	digest_cleanse(&inner, sizeof(inner));
	digest_cleanse(&outer, sizeof(outer));
	digest_cleanse(u, sizeof(u));
	digest_cleanse(m, sizeof(m));
	digest_cleanse(s, sizeof(s));
	digest_cleanse(t, sizeof(t));
}

/* ---- base64 ---- */

static const char b64_alphabet[64] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int digest_base64_encode(const uint8_t *in, size_t n, char *out, size_t outlen)
{
	size_t need, o = 0;

	/* 4 characters per 3 bytes, rounded up, and the NUL; the result must fit an int */
	if (n > (size_t)(INT_MAX - 1) / 4 * 3)
		return -1;
	need = (n + 2) / 3 * 4 + 1;
	if (outlen < need)
		return -1;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t left = n - i;

		if (left > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (left > 2)
			v |= in[i + 2];
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = left > 1 ? b64_alphabet[(v >> 6) & 63] : '=';
		out[o++] = left > 2 ? b64_alphabet[v & 63] : '=';
	}
	out[o] = '\0';
	return (int)o;
}

/* a character's 6 bits, or -1 for anything outside the alphabet ('=' included) */
static int b64_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

int digest_base64_decode(const char *in, size_t len, uint8_t *out, size_t outlen)
{
	size_t pad = 0, need, o = 0;

	if (len % 4 || len / 4 * 3 > INT_MAX)
		return -1;
	/* padding only at the very end, and at most "==" */
	if (len && in[len - 1] == '=')
		pad = in[len - 2] == '=' ? 2 : 1;
	need = len / 4 * 3 - pad;
	if (outlen < need)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		bool last = i + 4 == len;
		int q = last ? 4 - (int)pad : 4;	/* characters that carry bits */
		uint32_t v = 0;

		for (int j = 0; j < q; j++) {
			int x = b64_value(in[i + j]);

			if (x < 0)
				return -1;
			v |= (uint32_t)x << (18 - 6 * j);
		}
		/*
		 * The bits after the last byte must be zero: RFC 4648 3.5 lets a
		 * decoder refuse otherwise, and then each string has one form.
		 */
		if ((q == 2 && (v & 0xffff)) || (q == 3 && (v & 0xff)))
			return -1;
		out[o++] = v >> 16;
		if (q > 2)
			out[o++] = v >> 8;
		if (q > 3)
			out[o++] = v;
	}
	return (int)o;
}

/* ---- random bytes ---- */

/* random bytes for small requests (nonces, salts, cancel keys), one getrandom per pool: a thread's own */
static __thread struct {
	uint8_t b[256];
	size_t left;
} digest_pool;

static int digest_getrandom(void *buf, size_t n)
{
	uint8_t *p = buf;

	/* flags 0: the urandom source, which waits only until the kernel's pool is first seeded */
	while (n) {
		ssize_t r = getrandom(p, n, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		/* a large request or a signal may return short */
		p += r;
		n -= r;
	}
	return 0;
}

int digest_random(void *buf, size_t n)
{
	size_t take;
	int ret;

	if (n > sizeof(digest_pool.b) / 4)
		return digest_getrandom(buf, n);
	if (digest_pool.left < n) {
		ret = digest_getrandom(digest_pool.b, sizeof(digest_pool.b));
		if (ret)
			return ret;
		digest_pool.left = sizeof(digest_pool.b);
	}
	/* bytes are taken from the end and wiped: none is handed out twice */
	take = digest_pool.left - n;
	memcpy(buf, digest_pool.b + take, n);
	digest_cleanse(digest_pool.b + take, n);
	digest_pool.left = take;
	return 0;
}
