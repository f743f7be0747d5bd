/* test_digest.c: SHA-256, MD5, HMAC, PBKDF2 and base64 on published vectors and against OpenSSL */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "digest.h"
#include "tap.h"

/* lower-case hex of n bytes into out (2n + 1 bytes) */
static const char *hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
	out[2 * n] = '\0';
	return out;
}

static const char *sha256_hex(const void *data, size_t len, char out[65])
{
	uint8_t d[DIGEST_SHA256_LEN];

	digest_sha256(data, len, d);
	return hex(d, sizeof(d), out);
}

static const char *md5_hex(const void *data, size_t len, char out[33])
{
	struct digest_md5 c;
	uint8_t d[DIGEST_MD5_LEN];

	digest_md5_init(&c);
	digest_md5_update(&c, data, len);
	digest_md5_final(&c, d);
	return hex(d, sizeof(d), out);
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/*
 * A fixed xorshift stream rather than digest_random(): a failure of the
 * cross-checks below then repeats on every run.
 */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void rng_fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = rng();
}

static int t_sha256_vectors(void)
{
	static const char *abc448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	static const char *abc896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
				    "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
	static const size_t chunks[] = { 1, 3, 7, 63, 64, 65, 127, 129, 1000, 4099 };
	struct digest_sha256 c;
	uint8_t d[DIGEST_SHA256_LEN], a[5000];
	char h[65];
	size_t left = 1000000;

	CHECK(!strcmp(sha256_hex("", 0, h),
		      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), "\"\": %s", h);
	CHECK(!strcmp(sha256_hex("abc", 3, h),
		      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "abc: %s", h);
	CHECK(!strcmp(sha256_hex(abc448, strlen(abc448), h),
		      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"), "448 bits: %s", h);
	CHECK(!strcmp(sha256_hex(abc896, strlen(abc896), h),
		      "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"), "896 bits: %s", h);

	/* a million 'a' in chunks that straddle the block boundaries every which way */
	memset(a, 'a', sizeof(a));
	digest_sha256_init(&c);
	for (unsigned i = 0; left; i++) {
		size_t n = chunks[i % (sizeof(chunks) / sizeof(chunks[0]))];

		if (n > left)
			n = left;
		digest_sha256_update(&c, a, n);
		left -= n;
	}
	digest_sha256_final(&c, d);
	CHECK(!strcmp(hex(d, sizeof(d), h),
		      "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"), "million a: %s", h);
	CHECK(all_zero(&c, sizeof(c)), "the context is not wiped after final");
	return 0;
}

static int t_md5_vectors(void)
{
	/* RFC 1321 A.5 */
	static const struct {
		const char *in, *md5;
	} v[] = {
		{ "", "d41d8cd98f00b204e9800998ecf8427e" },
		{ "a", "0cc175b9c0f1b6a831c399e269772661" },
		{ "abc", "900150983cd24fb0d6963f7d28e17f72" },
		{ "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
		{ "abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b" },
		{ "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
		  "d174ab98d277d9f5a5611c2c9f419d9f" },
		{ "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
		  "57edf4a22be3c955ac49da2e2107b67a" },
		/* PostgreSQL's md5 secret: md5(password || user), as in test_auth */
		{ "pg1235postgres", "f252e9712748c7dc93dbc8d58cdc746e" },
	};
	struct digest_md5 c;
	uint8_t d[DIGEST_MD5_LEN];
	char h[33];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		CHECK(!strcmp(md5_hex(v[i].in, strlen(v[i].in), h), v[i].md5), "md5(\"%s\") = %s", v[i].in, h);
	/* the last one again, a byte at a time */
	digest_md5_init(&c);
	for (const char *p = v[6].in; *p; p++)
		digest_md5_update(&c, p, 1);
	digest_md5_final(&c, d);
	CHECK(!strcmp(hex(d, sizeof(d), h), v[6].md5), "byte-wise: %s", h);
	CHECK(all_zero(&c, sizeof(c)), "the context is not wiped after final");
	return 0;
}

static int t_hmac_vectors(void)
{
	/* RFC 4231 4.2 to 4.8, all but 5 (a truncated output) */
	uint8_t k1[20], k3[20], k4[25], k6[131], d3[50], d4[50], out[DIGEST_SHA256_LEN];
	char h[65];
	const char *d6 = "Test Using Larger Than Block-Size Key - Hash Key First";
	const char *d7 = "This is a test using a larger than block-size key and a larger than block-size data."
			 " The key needs to be hashed before being used by the HMAC algorithm.";

	memset(k1, 0x0b, sizeof(k1));
	memset(k3, 0xaa, sizeof(k3));
	memset(d3, 0xdd, sizeof(d3));
	for (size_t i = 0; i < sizeof(k4); i++)
		k4[i] = i + 1;
	memset(d4, 0xcd, sizeof(d4));
	memset(k6, 0xaa, sizeof(k6));

	digest_hmac_sha256(k1, sizeof(k1), "Hi There", 8, out);
	CHECK(!strcmp(hex(out, sizeof(out), h),
		      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"), "case 1: %s", h);
	digest_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, out);
	CHECK(!strcmp(hex(out, sizeof(out), h),
		      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"), "case 2: %s", h);
	digest_hmac_sha256(k3, sizeof(k3), d3, sizeof(d3), out);
	CHECK(!strcmp(hex(out, sizeof(out), h),
		      "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"), "case 3: %s", h);
	digest_hmac_sha256(k4, sizeof(k4), d4, sizeof(d4), out);
	CHECK(!strcmp(hex(out, sizeof(out), h),
		      "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"), "case 4: %s", h);
	digest_hmac_sha256(k6, sizeof(k6), d6, strlen(d6), out);
	CHECK(!strcmp(hex(out, sizeof(out), h),
		      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"), "case 6: %s", h);
	digest_hmac_sha256(k6, sizeof(k6), d7, strlen(d7), out);
	CHECK(!strcmp(hex(out, sizeof(out), h),
		      "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"), "case 7: %s", h);
	return 0;
}

static int t_pbkdf2_vectors(void)
{
	static const struct {
		const char *p, *s;
		size_t plen, slen;
		int c;
		const char *dk;	/* a prefix of the first block when the vector's dkLen < 32 */
	} v[] = {
		{ "password", "salt", 8, 4, 1,
		  "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b" },
		{ "password", "salt", 8, 4, 2,
		  "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43" },
		{ "password", "salt", 8, 4, 4096,
		  "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a" },
		/* dkLen 40 in the published vector: its first block */
		{ "passwordPASSWORDpassword", "saltSALTsaltSALTsaltSALTsaltSALTsalt", 24, 36, 4096,
		  "348c89dbcbd32b2f32d814b8116e84cf2b17347ebc1800181c4e2a1fb8dd53e1" },
		/* NULs inside both: lengths, not strings */
		{ "pass\0word", "sa\0lt", 9, 5, 4096, "89b69d0516f829893c696226650a8687" },
	};
	uint8_t out[DIGEST_SHA256_LEN];
	char h[65];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		digest_pbkdf2_sha256(v[i].p, v[i].plen, v[i].s, v[i].slen, v[i].c, out);
		hex(out, sizeof(out), h);
		CHECK(!strncmp(h, v[i].dk, strlen(v[i].dk)), "vector %zu (c=%d): %s", i, v[i].c, h);
	}
	return 0;
}

static int b64_dec_str(const char *in, uint8_t *out, size_t outlen)
{
	return digest_base64_decode(in, strlen(in), out, outlen);
}

static int t_base64_vectors(void)
{
	/* RFC 4648 10 */
	static const struct {
		const char *raw, *enc;
	} v[] = {
		{ "", "" },
		{ "f", "Zg==" },
		{ "fo", "Zm8=" },
		{ "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	static const char *bad[] = {
		"Zg=", "Zg", "Z", "Zm9vY",	/* not a multiple of 4 */
		"Z===", "====", "Zg=a", "Z=g=", "Zm=v",	/* padding where it cannot be */
		"Zg==Zg==", "Zm8=Zm9v",		/* padding before the end */
		"Zm9\n", "Zm 9", " Zm9", "Zm9vYg\r\n", "Zm9v Zg=",	/* no whitespace */
		"Zm9-", "Zm9_", "Zm9.", "Zm9\xc3",	/* outside the alphabet (base64url's too) */
		"Zh==", "Zm9=",			/* bits past the last byte not zero */
	};
	uint8_t raw[16];
	char enc[16];
	int n;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t rl = strlen(v[i].raw), el = strlen(v[i].enc);

		n = digest_base64_encode((const uint8_t *)v[i].raw, rl, enc, sizeof(enc));
		CHECK(n == (int)el && !strcmp(enc, v[i].enc), "encode \"%s\": %d \"%s\"", v[i].raw, n, enc);
		/* exactly enough room, then one byte short of it (the NUL counts) */
		CHECK(digest_base64_encode((const uint8_t *)v[i].raw, rl, enc, el + 1) == (int)el,
		      "encode \"%s\" into %zu bytes", v[i].raw, el + 1);
		CHECK(digest_base64_encode((const uint8_t *)v[i].raw, rl, enc, el) == -1,
		      "encode \"%s\" into %zu bytes taken", v[i].raw, el);

		n = b64_dec_str(v[i].enc, raw, sizeof(raw));
		CHECK(n == (int)rl && !memcmp(raw, v[i].raw, rl), "decode \"%s\": %d", v[i].enc, n);
		CHECK(b64_dec_str(v[i].enc, raw, rl) == (int)rl, "decode \"%s\" into %zu bytes", v[i].enc, rl);
		if (rl)
			CHECK(b64_dec_str(v[i].enc, raw, rl - 1) == -1, "decode \"%s\" into %zu bytes taken",
			      v[i].enc, rl - 1);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(b64_dec_str(bad[i], raw, sizeof(raw)) == -1, "\"%s\" decoded", bad[i]);
	/* a NUL is a bad character too, not the end */
	CHECK(digest_base64_decode("Zm\0v", 4, raw, sizeof(raw)) == -1, "a NUL decoded");
	/* the length given is what counts: "Zm9v" out of "Zm9vYmFy" */
	CHECK(digest_base64_decode("Zm9vYmFy", 4, raw, sizeof(raw)) == 3 && !memcmp(raw, "foo", 3),
	      "length not honoured");
	return 0;
}

/* RFC 7677's SCRAM-SHA-256 example from the primitives, as auth.c will compute it */
static int t_scram_rfc7677(void)
{
	static const char *auth_message =
		"n=user,r=rOprNGfwEbeRWgbNEkqO,"
		"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
		"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
	uint8_t salt[16], salted[32], client_key[32], stored_key[32], server_key[32], sig[32], proof[32];
	char b64[64];
	int n;

	n = b64_dec_str("W22ZaJ0SNY7soEsUEjb6gQ==", salt, sizeof(salt));
	CHECK(n == 16, "salt: %d", n);
	digest_pbkdf2_sha256("pencil", 6, salt, sizeof(salt), 4096, salted);
	digest_hmac_sha256(salted, sizeof(salted), "Client Key", 10, client_key);
	digest_sha256(client_key, sizeof(client_key), stored_key);
	digest_hmac_sha256(salted, sizeof(salted), "Server Key", 10, server_key);
	digest_base64_encode(stored_key, sizeof(stored_key), b64, sizeof(b64));
	CHECK(!strcmp(b64, "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="), "StoredKey %s", b64);
	digest_base64_encode(server_key, sizeof(server_key), b64, sizeof(b64));
	CHECK(!strcmp(b64, "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="), "ServerKey %s", b64);

	digest_hmac_sha256(stored_key, sizeof(stored_key), auth_message, strlen(auth_message), sig);
	for (int i = 0; i < 32; i++)
		proof[i] = client_key[i] ^ sig[i];
	digest_base64_encode(proof, sizeof(proof), b64, sizeof(b64));
	CHECK(!strcmp(b64, "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="), "ClientProof %s", b64);
	digest_hmac_sha256(server_key, sizeof(server_key), auth_message, strlen(auth_message), sig);
	digest_base64_encode(sig, sizeof(sig), b64, sizeof(b64));
	CHECK(!strcmp(b64, "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="), "ServerSignature %s", b64);
	return 0;
}

/* every length over the padding boundaries of one and two blocks, in one call and split in two */
static int t_lengths_vs_openssl(void)
{
	uint8_t data[200], ours[32], theirs[32];
	unsigned len;

	rng_fill(data, sizeof(data));
	for (size_t n = 0; n <= sizeof(data); n++) {
		struct digest_sha256 s;
		struct digest_md5 m;
		size_t cut = n / 3;

		digest_sha256_init(&s);
		digest_sha256_update(&s, data, cut);
		digest_sha256_update(&s, data + cut, n - cut);
		digest_sha256_final(&s, ours);
		EVP_Digest(data, n, theirs, &len, EVP_sha256(), NULL);
		CHECK(len == 32 && !memcmp(ours, theirs, 32), "sha256 of %zu bytes", n);

		digest_md5_init(&m);
		digest_md5_update(&m, data, cut);
		digest_md5_update(&m, data + cut, n - cut);
		digest_md5_final(&m, ours);
		EVP_Digest(data, n, theirs, &len, EVP_md5(), NULL);
		CHECK(len == 16 && !memcmp(ours, theirs, 16), "md5 of %zu bytes", n);
	}
	return 0;
}

/* random lengths, contents, keys and splits, each primitive against OpenSSL's */
static int t_random_vs_openssl(void)
{
	static const int iters[] = { 1, 2, 3, 64, 1000 };
	uint8_t data[300], key[200], salt[100], ours[32], theirs[32], dec[300];
	char enc[404], enc_ssl[404];
	unsigned len;

	for (int round = 0; round < 200; round++) {
		size_t n = rng() % (sizeof(data) + 1);
		size_t kl = rng() % (sizeof(key) + 1);
		size_t sl = rng() % (sizeof(salt) + 1);
		size_t pos = 0;
		int c = iters[round % 5], e, d;
		struct digest_sha256 s;
		struct digest_md5 m;

		rng_fill(data, n);
		rng_fill(key, kl);
		rng_fill(salt, sl);

		/* the same bytes through update() in random pieces */
		digest_sha256_init(&s);
		digest_md5_init(&m);
		while (pos < n) {
			size_t piece = rng() % 80;

			if (piece > n - pos)
				piece = n - pos;
			digest_sha256_update(&s, data + pos, piece);
			digest_md5_update(&m, data + pos, piece);
			pos += piece;
		}
		digest_sha256_final(&s, ours);
		EVP_Digest(data, n, theirs, &len, EVP_sha256(), NULL);
		CHECK(!memcmp(ours, theirs, 32), "round %d: sha256 of %zu bytes", round, n);
		digest_sha256(data, n, ours);
		CHECK(!memcmp(ours, theirs, 32), "round %d: one-shot sha256 of %zu bytes", round, n);
		digest_md5_final(&m, ours);
		EVP_Digest(data, n, theirs, &len, EVP_md5(), NULL);
		CHECK(!memcmp(ours, theirs, 16), "round %d: md5 of %zu bytes", round, n);

		digest_hmac_sha256(key, kl, data, n, ours);
		HMAC(EVP_sha256(), key, kl, data, n, theirs, &len);
		CHECK(!memcmp(ours, theirs, 32), "round %d: hmac, key %zu, data %zu", round, kl, n);

		digest_pbkdf2_sha256(key, kl, salt, sl, c, ours);
		CHECK(PKCS5_PBKDF2_HMAC((const char *)key, kl, salt, sl, c, EVP_sha256(), 32, theirs) == 1,
		      "round %d: OpenSSL's pbkdf2 failed", round);
		CHECK(!memcmp(ours, theirs, 32), "round %d: pbkdf2, password %zu, salt %zu, c=%d", round,
		      kl, sl, c);

		e = digest_base64_encode(data, n, enc, sizeof(enc));
		EVP_EncodeBlock((uint8_t *)enc_ssl, data, n);
		CHECK(e >= 0 && !strcmp(enc, enc_ssl), "round %d: base64 of %zu bytes", round, n);
		d = digest_base64_decode(enc, e, dec, sizeof(dec));
		CHECK(d == (int)n && !memcmp(dec, data, n), "round %d: base64 back, %d of %zu", round, d, n);
	}
	return 0;
}

static int t_random_and_cleanse(void)
{
	static uint8_t big[1 << 20];
	static uint8_t small[200][8];
	uint8_t a[64], b[64];
	int ret;

	CHECK(digest_random(a, 0) == 0, "nothing asked");
	CHECK((ret = digest_random(a, sizeof(a))) == 0, "getrandom: %d", ret);
	CHECK((ret = digest_random(b, sizeof(b))) == 0, "getrandom: %d", ret);
	/* 2^-512 of a false alarm */
	CHECK(memcmp(a, b, sizeof(a)), "two draws the same");
	/* small draws come from a pool refilled as it runs out: none repeats across refills */
	for (int i = 0; i < 200; i++) {
		CHECK((ret = digest_random(small[i], sizeof(small[i]))) == 0, "draw %d: %d", i, ret);
		for (int j = 0; j < i; j++)
			CHECK(memcmp(small[i], small[j], sizeof(small[i])), "draws %d and %d the same", j, i);
	}
	/* more than one call of getrandom() returns at once, for some kernels */
	memset(big, 0, sizeof(big));
	CHECK((ret = digest_random(big, sizeof(big))) == 0, "1 MiB: %d", ret);
	CHECK(!all_zero(big + sizeof(big) - 64, 64), "the end of 1 MiB not filled");
	digest_cleanse(a, sizeof(a));
	CHECK(all_zero(a, sizeof(a)), "cleanse left bytes");
	return 0;
}

int main(void)
{
	tap_run("digest: SHA-256, FIPS 180-4's examples and a million 'a' in pieces", t_sha256_vectors);
	tap_run("digest: MD5, RFC 1321's test suite", t_md5_vectors);
	tap_run("digest: HMAC-SHA-256, RFC 4231's cases", t_hmac_vectors);
	tap_run("digest: PBKDF2-HMAC-SHA-256, published vectors", t_pbkdf2_vectors);
	tap_run("digest: base64, RFC 4648's vectors, sizes and broken input", t_base64_vectors);
	tap_run("digest: RFC 7677's SCRAM keys, proof and signature", t_scram_rfc7677);
	tap_run("digest: SHA-256 and MD5 of 0 to 200 bytes against OpenSSL", t_lengths_vs_openssl);
	tap_run("digest: random input against OpenSSL's SHA-256, MD5, HMAC, PBKDF2 and base64",
		t_random_vs_openssl);
	tap_run("digest: getrandom and cleanse", t_random_and_cleanse);
	return tap_done();
}
