/*
 * auth.c: the proxy's authentication.  pool_hba.conf says which method a
 * client must pass, pool_passwd (pgpool's format, all four kinds of entry)
 * holds what pgxr checks it against and proves to the servers with; md5
 * and SCRAM-SHA-256 (RFC 5802, 7677) are done here on both sides, with
 * digest.c's primitives (OpenSSL only decrypts AES entries: its provider
 * set-up costs 3 MB of resident memory).  No secret is ever logged.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "auth.h"
#include "digest.h"
#include "log.h"

#define AUTH_SCRAM_PREFIX "SCRAM-SHA-256$"
/* the iterations of a mock exchange, and of PostgreSQL's own default verifier */
#define AUTH_SCRAM_ITERATIONS 4096
#define AUTH_NONCE_BYTES 18

/* one pool_passwd entry */
struct auth_user {
	char *name;
	struct auth_secret secret;
};

/* a user or database list of one hba line: "all", or names */
struct auth_names {
	bool all;
	bool sameuser;		/* databases only: the user's own name */
	int n;
	char **names;
};

enum auth_conn { HBA_HOST, HBA_HOSTSSL, HBA_HOSTNOSSL };

/* one pool_hba.conf line */
struct auth_rule {
	int line;
	enum auth_conn conn;
	struct auth_names dbs, users;
	int family;		/* AF_INET or AF_INET6; 0: "all" */
	uint8_t addr[16], mask[16];
	enum auth_method method;
};

/* what was loaded; swapped whole by a reload, read under the lock */
struct auth_tables {
	bool use_hba;
	char hba_path[512];
	struct auth_user *users;
	int nusers;
	struct auth_rule *rules;
	int nrules;
};

/* the tables in use: workers read them, the main thread replaces them */
static struct auth_tables *auth_cur;
static pthread_rwlock_t auth_lock = PTHREAD_RWLOCK_INITIALIZER;

/* ---- primitives ---- */

static void auth_hmac(const uint8_t *key, const void *in, size_t len, uint8_t out[AUTH_KEY_LEN])
{
	digest_hmac_sha256(key, AUTH_KEY_LEN, in, len, out);
}

/* bytes of a base64 text of len chars; -1 when it is empty, not base64 or does not fit */
static int auth_unb64(const char *in, size_t len, uint8_t *out, size_t outlen)
{
	return len ? digest_base64_decode(in, len, out, outlen) : -1;
}

void auth_md5_hex(const char *a, size_t alen, const char *b, size_t blen, char out[33])
{
	struct digest_md5 ctx;
	uint8_t d[DIGEST_MD5_LEN];

	digest_md5_init(&ctx);
	digest_md5_update(&ctx, a, alen);
	digest_md5_update(&ctx, b, blen);
	digest_md5_final(&ctx, d);
	for (int i = 0; i < DIGEST_MD5_LEN; i++) {
		out[2 * i] = "0123456789abcdef"[d[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[d[i] & 15];
	}
	out[32] = '\0';
	digest_cleanse(d, sizeof(d));
}

/* the SCRAM keys of a password, for a salt and an iteration count */
static int auth_scram_keys(const char *password, const uint8_t *salt, int salt_len, int iter,
			   uint8_t client_key[AUTH_KEY_LEN], uint8_t server_key[AUTH_KEY_LEN])
{
	uint8_t salted[AUTH_KEY_LEN];

	digest_pbkdf2_sha256(password, strlen(password), salt, salt_len, iter, salted);
	auth_hmac(salted, "Client Key", 10, client_key);
	auth_hmac(salted, "Server Key", 10, server_key);
	digest_cleanse(salted, sizeof(salted));
	return 0;
}

/* ---- pool_passwd entries ---- */

/* "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>", as in pg_authid */
static int auth_parse_scram(const char *v, struct auth_secret *out)
{
	const char *p = v + strlen(AUTH_SCRAM_PREFIX), *colon, *dollar, *colon2;
	char *end;
	long iter;

	iter = strtol(p, &end, 10);
	if (end == p || *end != ':' || iter < 1 || iter > 100000000)
		return -EINVAL;
	colon = end;
	dollar = strchr(colon, '$');
	if (!dollar)
		return -EINVAL;
	colon2 = strchr(dollar, ':');
	if (!colon2)
		return -EINVAL;
	out->iterations = iter;
	out->salt_len = auth_unb64(colon + 1, dollar - colon - 1, out->salt, sizeof(out->salt));
	if (out->salt_len <= 0 ||
	    auth_unb64(dollar + 1, colon2 - dollar - 1, out->stored_key, AUTH_KEY_LEN) != AUTH_KEY_LEN ||
	    auth_unb64(colon2 + 1, strlen(colon2 + 1), out->server_key, AUTH_KEY_LEN) != AUTH_KEY_LEN)
		return -EINVAL;
	out->kind = AUTH_SECRET_SCRAM;
	return 0;
}

/* an "AES..." entry: base64 of AES-256-CBC, key and IV from the key file by EVP_BytesToKey(SHA-1), as pg_enc makes it */
static int auth_parse_aes(const char *v, const char *aes_key, struct auth_secret *out)
{
	uint8_t ct[AUTH_MAX_PASSWORD], key[EVP_MAX_KEY_LENGTH], iv[EVP_MAX_IV_LENGTH];
	uint8_t pt[AUTH_MAX_PASSWORD + EVP_MAX_BLOCK_LENGTH];
	EVP_CIPHER_CTX *ctx = NULL;
	int n, len = 0, fin = 0, ret = -EINVAL;

	if (!aes_key)
		return -ENOKEY;
	n = auth_unb64(v + 3, strlen(v + 3), ct, sizeof(ct));
	if (n <= 0)
		return -EINVAL;
	if (!EVP_BytesToKey(EVP_aes_256_cbc(), EVP_sha1(), NULL, (const uint8_t *)aes_key,
			    strlen(aes_key), 1, key, iv))
		return -EIO;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return -ENOMEM;
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, key, iv) != 1 ||
	    EVP_DecryptUpdate(ctx, pt, &len, ct, n) != 1 ||
	    EVP_DecryptFinal_ex(ctx, pt + len, &fin) != 1)
		goto cleanup;	/* a wrong key fails the padding check, nearly always */
	len += fin;
	if (len >= AUTH_MAX_PASSWORD || memchr(pt, '\0', len))
		goto cleanup;
	memcpy(out->text, pt, len);
	out->text[len] = '\0';
	out->kind = AUTH_SECRET_TEXT;
	ret = 0;
cleanup:
	digest_cleanse(pt, sizeof(pt));
	digest_cleanse(key, sizeof(key));
	EVP_CIPHER_CTX_free(ctx);
	return ret;
}

/*
 * The value after "user:" in pool_passwd, read as pgpool reads it: "md5"
 * and 32 hex digits, "SCRAM-SHA-256$...", "AES..." (needs the key),
 * "TEXT..." or else the password as it is.
 */
int auth_parse_secret(const char *user, const char *value, const char *aes_key,
		      struct auth_secret *out)
{
	size_t len = strlen(value);

	(void)user;
	memset(out, 0, sizeof(*out));
	if (len == 35 && !strncmp(value, "md5", 3) && strspn(value + 3, "0123456789abcdef") == 32) {
		memcpy(out->md5, value, 36);
		out->kind = AUTH_SECRET_MD5;
		return 0;
	}
	if (!strncmp(value, "AES", 3))
		return auth_parse_aes(value, aes_key, out);
	if (!strncmp(value, AUTH_SCRAM_PREFIX, strlen(AUTH_SCRAM_PREFIX)))
		return auth_parse_scram(value, out);
	if (!strncmp(value, "TEXT", 4))
		value += 4;
	if (strlen(value) >= AUTH_MAX_PASSWORD)
		return -E2BIG;
	strcpy(out->text, value);
	out->kind = AUTH_SECRET_TEXT;
	return 0;
}

/* ---- checks of what a client sent ---- */

/* the client's "md5..." answer to salt, against what pool_passwd holds */
bool auth_md5_check(const struct auth_secret *sec, const char *user, const uint8_t salt[4],
		    const char *response)
{
	char want[36];

	if (auth_md5_response(sec, user, salt, want))
		return false;
	return strlen(response) == 35 && CRYPTO_memcmp(want, response, 35) == 0;
}

/* what pgxr answers a server's md5 request with; -ENOKEY when the secret cannot make it */
int auth_md5_response(const struct auth_secret *sec, const char *user, const uint8_t salt[4],
		      char out[36])
{
	char inner[33];

	if (sec->kind == AUTH_SECRET_TEXT)
		auth_md5_hex(sec->text, strlen(sec->text), user, strlen(user), inner);
	else if (sec->kind == AUTH_SECRET_MD5)
		memcpy(inner, sec->md5 + 3, 33);
	else
		return -ENOKEY;
	memcpy(out, "md5", 3);
	auth_md5_hex(inner, 32, (const char *)salt, 4, out + 3);
	/* md5(password || user) is as good as the password to a server */
	digest_cleanse(inner, sizeof(inner));
	return out[3] ? 0 : -EIO;
}

/* a cleartext password (method "password"), against any kind of entry */
bool auth_password_check(const struct auth_secret *sec, const char *user, const char *password)
{
	uint8_t ck[AUTH_KEY_LEN], sk[AUTH_KEY_LEN], stored[AUTH_KEY_LEN];
	char hex[33];

	switch (sec->kind) {
	case AUTH_SECRET_TEXT:
		return strlen(password) == strlen(sec->text) &&
		       CRYPTO_memcmp(password, sec->text, strlen(password)) == 0;
	case AUTH_SECRET_MD5:
		auth_md5_hex(password, strlen(password), user, strlen(user), hex);
		return CRYPTO_memcmp(hex, sec->md5 + 3, 32) == 0;
	case AUTH_SECRET_SCRAM:
		if (auth_scram_keys(password, sec->salt, sec->salt_len, sec->iterations, ck, sk))
			return false;
		digest_sha256(ck, AUTH_KEY_LEN, stored);
		return CRYPTO_memcmp(stored, sec->stored_key, AUTH_KEY_LEN) == 0;
	default:
		return false;
	}
}

/* ---- SCRAM, the server side (pgxr checks a client) ---- */

/* the value of attribute a in a SCRAM message: "a=value," ; NULL when it is not next */
static const char *auth_attr(const char *p, char a, char *val, size_t vlen)
{
	const char *end;

	if (p[0] != a || p[1] != '=')
		return NULL;
	p += 2;
	end = strchr(p, ',');
	if (!end)
		end = p + strlen(p);
	if ((size_t)(end - p) >= vlen)
		return NULL;
	memcpy(val, p, end - p);
	val[end - p] = '\0';
	return *end ? end + 1 : end;
}

/* a nonce: printable ASCII but ',' (RFC 5802), from random bytes in base64 */
static int auth_new_nonce(char *out, size_t outlen)
{
	uint8_t raw[AUTH_NONCE_BYTES];

	if (digest_random(raw, sizeof(raw)))
		return -EIO;
	return digest_base64_encode(raw, sizeof(raw), out, outlen) < 0 ? -EINVAL : 0;
}

/* a verifier that matches no password: a user pool_passwd does not know fails only at the end */
static void auth_mock_secret(const char *user, struct auth_secret *sec)
{
	memset(sec, 0, sizeof(*sec));
	sec->kind = AUTH_SECRET_SCRAM;
	sec->iterations = AUTH_SCRAM_ITERATIONS;
	/* the same salt for the same name each time, as PostgreSQL's mock does */
	digest_sha256((const uint8_t *)user, strlen(user), sec->salt);
	sec->salt_len = 16;
	if (digest_random(sec->stored_key, AUTH_KEY_LEN))
		memset(sec->stored_key, 0x5a, AUTH_KEY_LEN);
}

/*
 * SASLInitialResponse: mech and client-first-message; out gets
 * server-first-message.  sec NULL: an unknown user, a mock exchange.
 * A secret that is a password is turned into a verifier here.
 */
int auth_scram_server_first(struct auth_scram *st, const struct auth_secret *sec,
			    const char *mech, const uint8_t *msg, size_t len, char *out,
			    size_t outlen)
{
	char text[512], user[256], cnonce[256], snonce[64], salt64[128];
	const char *p;

	bool plus = !strcmp(mech, "SCRAM-SHA-256-PLUS");
	const char *comma;

	if ((!plus && strcmp(mech, "SCRAM-SHA-256")) || (plus && !st->cbind_len) || len == 0 ||
	    len >= sizeof(text) || memchr(msg, 0, len))
		return -EINVAL;
	memcpy(text, msg, len);
	text[len] = '\0';
	/*
	 * The GS2 header: "n,," (no binding), "y,," (the client could bind
	 * and thinks the server cannot: refused when pgxr offered binding,
	 * a downgrade), or "p=tls-server-end-point,," with PLUS only.
	 */
	comma = strchr(text, ',');
	if (!comma || comma[1] == '\0' || !(comma = strchr(comma + 1, ',')) ||
	    (size_t)(comma + 1 - text) >= sizeof(st->gs2))
		return -EPROTO;
	snprintf(st->gs2, sizeof(st->gs2), "%.*s", (int)(comma + 1 - text), text);
	if (plus ? strcmp(st->gs2, "p=tls-server-end-point,,") :
		   (strcmp(st->gs2, "n,,") && (strcmp(st->gs2, "y,,") || st->cbind_len)))
		return -EPROTO;
	p = comma + 1;
	snprintf(st->client_first_bare, sizeof(st->client_first_bare), "%s", p);
	/* PostgreSQL's clients send an empty user name: the startup packet's is used */
	p = auth_attr(p, 'n', user, sizeof(user));
	if (!p || !(p = auth_attr(p, 'r', cnonce, sizeof(cnonce))) || !cnonce[0])
		return -EINVAL;
	if (st->nonce[0]) {
		/* a test's fixed nonce */
		if ((size_t)snprintf(snonce, sizeof(snonce), "%.63s", st->nonce) >= sizeof(snonce))
			return -EINVAL;
	} else if (auth_new_nonce(snonce, sizeof(snonce))) {
		return -EIO;
	}
	if ((size_t)snprintf(st->nonce, sizeof(st->nonce), "%s%s", cnonce, snonce) >= sizeof(st->nonce))
		return -EINVAL;
	if (!sec) {
		st->mock = true;
		auth_mock_secret(user, &st->secret);
	} else if (sec->kind == AUTH_SECRET_SCRAM) {
		st->secret = *sec;
	} else if (sec->kind == AUTH_SECRET_TEXT) {
		uint8_t ck[AUTH_KEY_LEN];

		memset(&st->secret, 0, sizeof(st->secret));
		st->secret.kind = AUTH_SECRET_SCRAM;
		st->secret.iterations = AUTH_SCRAM_ITERATIONS;
		st->secret.salt_len = 16;
		if (digest_random(st->secret.salt, 16) ||
		    auth_scram_keys(sec->text, st->secret.salt, 16, AUTH_SCRAM_ITERATIONS, ck,
				    st->secret.server_key))
			return -EIO;
		digest_sha256(ck, AUTH_KEY_LEN, st->secret.stored_key);
		digest_cleanse(ck, sizeof(ck));
	} else {
		return -ENOKEY;	/* an md5 hash cannot answer SCRAM */
	}
	if (digest_base64_encode(st->secret.salt, st->secret.salt_len, salt64, sizeof(salt64)) < 0)
		return -EINVAL;
	if ((size_t)snprintf(st->server_first, sizeof(st->server_first), "r=%s,s=%s,i=%d", st->nonce,
			     salt64, st->secret.iterations) >= sizeof(st->server_first) ||
	    (size_t)snprintf(out, outlen, "%s", st->server_first) >= outlen)
		return -EINVAL;
	return 0;
}

/* the AuthMessage both sides sign */
static int auth_scram_message(const struct auth_scram *st, char *out, size_t outlen)
{
	return (size_t)snprintf(out, outlen, "%s,%s,%s", st->client_first_bare, st->server_first,
				st->client_final_bare) >= outlen ? -EINVAL : 0;
}

/*
 * SASLResponse: client-final-message; out gets server-final-message.
 * 0: the proof holds, and learnt (when not NULL) gets the verifier with
 * the client's ClientKey, enough to log in to a server with the same
 * verifier.  -EACCES: a wrong password or a mock exchange.
 */
int auth_scram_server_final(struct auth_scram *st, const uint8_t *msg, size_t len, char *out,
			    size_t outlen, struct auth_secret *learnt)
{
	char text[512], cb[256], want[256], nonce[256], proof64[128], amsg[1600], sig64[64];
	uint8_t bind[sizeof(st->gs2) + sizeof(st->cbind)];
	size_t blen;
	uint8_t proof[AUTH_KEY_LEN], csig[AUTH_KEY_LEN], ck[AUTH_KEY_LEN], stored[AUTH_KEY_LEN];
	uint8_t ssig[AUTH_KEY_LEN];
	const char *p, *pp;

	if (len == 0 || len >= sizeof(text) || memchr(msg, 0, len))
		return -EINVAL;
	memcpy(text, msg, len);
	text[len] = '\0';
	pp = strstr(text, ",p=");
	if (!pp)
		return -EINVAL;
	snprintf(st->client_final_bare, sizeof(st->client_final_bare), "%.*s", (int)(pp - text), text);
	p = auth_attr(text, 'c', cb, sizeof(cb));
	if (!p || !(p = auth_attr(p, 'r', nonce, sizeof(nonce))))
		return -EINVAL;
	/* base64 of the GS2 header, and of the binding data when it binds */
	blen = strlen(st->gs2);
	memcpy(bind, st->gs2, blen);
	if (st->gs2[0] == 'p') {
		memcpy(bind + blen, st->cbind, st->cbind_len);
		blen += st->cbind_len;
	}
	if (digest_base64_encode(bind, blen, want, sizeof(want)) < 0 || strcmp(cb, want) ||
	    strcmp(nonce, st->nonce))
		return -EPROTO;
	if (!auth_attr(pp + 1, 'p', proof64, sizeof(proof64)) ||
	    auth_unb64(proof64, strlen(proof64), proof, sizeof(proof)) != AUTH_KEY_LEN)
		return -EINVAL;
	if (auth_scram_message(st, amsg, sizeof(amsg)))
		return -EINVAL;
	auth_hmac(st->secret.stored_key, amsg, strlen(amsg), csig);
	for (int i = 0; i < AUTH_KEY_LEN; i++)
		ck[i] = proof[i] ^ csig[i];
	digest_sha256(ck, AUTH_KEY_LEN, stored);
	if (st->mock || CRYPTO_memcmp(stored, st->secret.stored_key, AUTH_KEY_LEN))
		return -EACCES;
	auth_hmac(st->secret.server_key, amsg, strlen(amsg), ssig);
	digest_base64_encode(ssig, AUTH_KEY_LEN, sig64, sizeof(sig64));
	if ((size_t)snprintf(out, outlen, "v=%s", sig64) >= outlen)
		return -EINVAL;
	if (learnt) {
		*learnt = st->secret;
		memcpy(learnt->client_key, ck, AUTH_KEY_LEN);
		learnt->have_client_key = true;
	}
	digest_cleanse(ck, sizeof(ck));
	return 0;
}

/* ---- SCRAM, the client side (pgxr logs in to a server) ---- */

int auth_scram_client_first(struct auth_scram *st, const struct auth_secret *sec, char *out,
			    size_t outlen)
{
	if (sec->kind != AUTH_SECRET_TEXT && !(sec->kind == AUTH_SECRET_SCRAM && sec->have_client_key))
		return -ENOKEY;
	st->secret = *sec;
	if (!st->nonce[0] && auth_new_nonce(st->nonce, sizeof(st->nonce)))
		return -EIO;
	/* over TLS: bind when the server offers it, else say it could ("y") */
	snprintf(st->gs2, sizeof(st->gs2), "%s", !st->cbind_len ? "n,," : st->plus ?
		 "p=tls-server-end-point,," : "y,,");
	snprintf(st->client_first_bare, sizeof(st->client_first_bare), "n=,r=%s", st->nonce);
	return (size_t)snprintf(out, outlen, "%s%s", st->gs2, st->client_first_bare) >= outlen ?
	       -EINVAL : 0;
}

/*
 * AuthenticationSASLContinue: server-first-message; out gets the
 * client-final-message.  A verifier learnt from a client serves only
 * when the server's salt and iterations are its own.
 */
int auth_scram_client_final(struct auth_scram *st, const uint8_t *msg, size_t len, char *out,
			    size_t outlen)
{
	char nonce[256], salt64[128], iters[16], amsg[1600], proof64[64], cb[256];
	uint8_t bind[sizeof(st->gs2) + sizeof(st->cbind)];
	size_t blen = strlen(st->gs2);
	uint8_t salt[AUTH_MAX_SALT], ck[AUTH_KEY_LEN], sk[AUTH_KEY_LEN], stored[AUTH_KEY_LEN];
	uint8_t csig[AUTH_KEY_LEN];
	const char *p;
	int salt_len, iter, ret = -EINVAL;

	if (len == 0 || len >= sizeof(st->server_first) || memchr(msg, 0, len))
		return -EINVAL;
	memcpy(st->server_first, msg, len);
	st->server_first[len] = '\0';
	p = auth_attr(st->server_first, 'r', nonce, sizeof(nonce));
	if (!p || !(p = auth_attr(p, 's', salt64, sizeof(salt64))) ||
	    !auth_attr(p, 'i', iters, sizeof(iters)))
		return -EINVAL;
	iter = atoi(iters);
	salt_len = auth_unb64(salt64, strlen(salt64), salt, sizeof(salt));
	if (strncmp(nonce, st->nonce, strlen(st->nonce)) || strlen(nonce) == strlen(st->nonce) ||
	    salt_len <= 0 || iter < 1)
		return -EPROTO;
	if (st->secret.kind == AUTH_SECRET_TEXT) {
		if (auth_scram_keys(st->secret.text, salt, salt_len, iter, ck, sk))
			return -EIO;
	} else {
		if (salt_len != st->secret.salt_len || memcmp(salt, st->secret.salt, salt_len) ||
		    iter != st->secret.iterations)
			return -ESTALE;
		memcpy(ck, st->secret.client_key, AUTH_KEY_LEN);
		memcpy(sk, st->secret.server_key, AUTH_KEY_LEN);
	}
	memcpy(st->secret.server_key, sk, AUTH_KEY_LEN);
	memcpy(bind, st->gs2, blen);
	if (st->gs2[0] == 'p') {
		memcpy(bind + blen, st->cbind, st->cbind_len);
		blen += st->cbind_len;
	}
	if (digest_base64_encode(bind, blen, cb, sizeof(cb)) < 0)
		goto cleanup;
	snprintf(st->client_final_bare, sizeof(st->client_final_bare), "c=%s,r=%s", cb, nonce);
	if (auth_scram_message(st, amsg, sizeof(amsg)))
		goto cleanup;
	digest_sha256(ck, AUTH_KEY_LEN, stored);
	auth_hmac(stored, amsg, strlen(amsg), csig);
	for (int i = 0; i < AUTH_KEY_LEN; i++)
		csig[i] ^= ck[i];
	digest_base64_encode(csig, AUTH_KEY_LEN, proof64, sizeof(proof64));
	if ((size_t)snprintf(out, outlen, "%s,p=%s", st->client_final_bare, proof64) < outlen)
		ret = 0;
cleanup:
	digest_cleanse(ck, sizeof(ck));
	return ret;
}

/* AuthenticationSASLFinal: the server must prove it knew the verifier too */
int auth_scram_client_verify(struct auth_scram *st, const uint8_t *msg, size_t len)
{
	char text[128], sig64[64], amsg[1600];
	uint8_t want[AUTH_KEY_LEN], got[AUTH_KEY_LEN];

	if (len == 0 || len >= sizeof(text) || memchr(msg, 0, len))
		return -EINVAL;
	memcpy(text, msg, len);
	text[len] = '\0';
	if (!auth_attr(text, 'v', sig64, sizeof(sig64)) ||
	    auth_unb64(sig64, strlen(sig64), got, sizeof(got)) != AUTH_KEY_LEN ||
	    auth_scram_message(st, amsg, sizeof(amsg)))
		return -EINVAL;
	auth_hmac(st->secret.server_key, amsg, strlen(amsg), want);
	return CRYPTO_memcmp(want, got, AUTH_KEY_LEN) ? -EACCES : 0;
}

/* ---- files ---- */

static void auth_tables_free(struct auth_tables *t)
{
	if (!t)
		return;
	for (int i = 0; i < t->nusers; i++) {
		digest_cleanse(&t->users[i].secret, sizeof(t->users[i].secret));
		free(t->users[i].name);
	}
	free(t->users);
	for (int i = 0; i < t->nrules; i++) {
		struct auth_names *l[2] = { &t->rules[i].dbs, &t->rules[i].users };

		for (int k = 0; k < 2; k++) {
			for (int j = 0; j < l[k]->n; j++)
				free(l[k]->names[j]);
			free(l[k]->names);
		}
	}
	free(t->rules);
	free(t);
}

/* the first line of the key file: pgpool's ~/.pgpoolkey */
static int auth_read_key(const char *path, char *key, size_t len)
{
	FILE *f = fopen(path, "r");
	int ret = 0;

	if (!f)
		return -errno;
	if (!fgets(key, len, f))
		ret = -ENODATA;
	key[strcspn(key, "\r\n")] = '\0';
	fclose(f);
	return ret;
}

static int auth_load_passwd(struct auth_tables *t, const char *path, const char *key_path)
{
	char line[4096], key[256];
	bool have_key = false, key_tried = false;
	int lineno = 0, ret = 0;
	FILE *f = fopen(path, "r");

	if (!f && errno == ENOENT) {
		log_warning("pool_passwd \"%s\" does not exist: password, md5 and scram-sha-256 lines of pool_hba.conf fail for every user",
			    path);
		return 0;
	}
	if (!f) {
		ret = -errno;
		log_error("could not open pool_passwd \"%s\": %s", path, strerror(-ret));
		return ret;
	}
	while (fgets(line, sizeof(line), f)) {
		struct auth_user *u;
		char *colon;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		colon = strchr(line, ':');
		if (!colon || colon == line) {
			log_error("%s:%d: expected user:password", path, lineno);
			ret = -EINVAL;
			break;
		}
		*colon = '\0';
		if (!strncmp(colon + 1, "AES", 3) && !key_tried) {
			key_tried = true;
			have_key = key_path[0] && auth_read_key(key_path, key, sizeof(key)) == 0 && key[0];
		}
		u = realloc(t->users, (t->nusers + 1) * sizeof(*u));
		if (!u) {
			ret = -ENOMEM;
			break;
		}
		t->users = u;
		u = &t->users[t->nusers];
		ret = auth_parse_secret(line, colon + 1, have_key ? key : NULL, &u->secret);
		if (ret == -ENOKEY) {
			log_error("%s:%d: user \"%s\" has an AES password and the key file \"%s\" cannot be read (pool_key_file, or pgpool's ~/.pgpoolkey)",
				  path, lineno, line, key_path);
		} else if (ret) {
			log_error("%s:%d: the password of user \"%s\" cannot be read: expected md5 and 32 hex digits, SCRAM-SHA-256$<iterations>:<salt>$<storedkey>:<serverkey>, AES (encrypted by pg_enc with this key file) or TEXT",
				  path, lineno, line);
		}
		if (ret)
			break;
		u->name = strdup(line);
		if (!u->name) {
			ret = -ENOMEM;
			break;
		}
		t->nusers++;
	}
	digest_cleanse(key, sizeof(key));
	digest_cleanse(line, sizeof(line));
	fclose(f);
	return ret;
}

/* the next token of an hba line, quotes allowed; NULL at the end */
static char *auth_token(char **p)
{
	char *s = *p, *tok;

	while (*s && isspace((unsigned char)*s))
		s++;
	if (!*s || *s == '#')
		return NULL;
	tok = s;
	if (*s == '"') {
		tok = ++s;
		while (*s && *s != '"')
			s++;
	} else {
		while (*s && !isspace((unsigned char)*s))
			s++;
	}
	if (*s)
		*s++ = '\0';
	*p = s;
	return tok;
}

static int auth_names_parse(const char *tok, bool dbs, struct auth_names *l)
{
	char *copy = strdup(tok), *save = NULL;

	if (!copy)
		return -ENOMEM;
	for (char *n = strtok_r(copy, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
		char **names;

		if (!strcmp(n, "all")) {
			l->all = true;
			continue;
		}
		if (dbs && !strcmp(n, "sameuser")) {
			l->sameuser = true;
			continue;
		}
		if (n[0] == '+' || n[0] == '@' || (dbs && (!strcmp(n, "samerole") ||
							   !strcmp(n, "samegroup")))) {
			free(copy);
			return -ENOTSUP;
		}
		names = realloc(l->names, (l->n + 1) * sizeof(*names));
		if (!names || !(names[l->n] = strdup(n))) {
			if (names)
				l->names = names;
			free(copy);
			return -ENOMEM;
		}
		l->names = names;
		l->n++;
	}
	free(copy);
	return 0;
}

/* a CIDR address, or an address and a separate mask token */
static int auth_addr_parse(char *tok, char **p, struct auth_rule *r)
{
	char *slash = strchr(tok, '/');
	int bits = -1, size;

	if (!strcmp(tok, "all")) {
		r->family = 0;
		return 0;
	}
	if (slash) {
		*slash = '\0';
		bits = atoi(slash + 1);
	}
	if (inet_pton(AF_INET, tok, r->addr) == 1) {
		r->family = AF_INET;
		size = 4;
	} else if (inet_pton(AF_INET6, tok, r->addr) == 1) {
		r->family = AF_INET6;
		size = 16;
	} else {
		return -EINVAL;
	}
	if (!slash) {
		char *mask = auth_token(p);

		if (!mask || inet_pton(r->family, mask, r->mask) != 1)
			return -EINVAL;
		return 0;
	}
	if (bits < 0 || bits > size * 8 || !slash[1] || strspn(slash + 1, "0123456789") != strlen(slash + 1))
		return -EINVAL;
	for (int i = 0; i < size; i++) {
		int b = bits - 8 * i;

		r->mask[i] = b >= 8 ? 0xff : b <= 0 ? 0 : (uint8_t)(0xff << (8 - b));
	}
	return 0;
}

static const struct {
	const char *name;
	enum auth_method m;
} auth_methods[] = {
	{ "trust", AUTH_TRUST },
	{ "reject", AUTH_REJECT },
	{ "md5", AUTH_MD5 },
	{ "scram-sha-256", AUTH_SCRAM },
	{ "password", AUTH_PASSWORD },
};

/* one pool_hba.conf line into r; an error is said with the file and line */
static int auth_rule_parse(const char *path, int lineno, char *p, struct auth_rule *r)
{
	char *type = auth_token(&p), *db, *user, *tok, *method;
	size_t i;
	int ret;

	r->line = lineno;
	if (!strcmp(type, "local")) {
		/* the proxy has no Unix socket: such a line never matches, as in pgpool without one */
		r->family = -1;
	} else if (!strcmp(type, "host")) {
		r->conn = HBA_HOST;
	} else if (!strcmp(type, "hostssl")) {
		r->conn = HBA_HOSTSSL;
	} else if (!strcmp(type, "hostnossl")) {
		r->conn = HBA_HOSTNOSSL;
	} else {
		log_error("%s:%d: invalid connection type \"%s\": expected local, host, hostssl or hostnossl",
			  path, lineno, type);
		return -EINVAL;
	}
	db = auth_token(&p);
	user = db ? auth_token(&p) : NULL;
	if (!user) {
		log_error("%s:%d: expected a database and a user", path, lineno);
		return -EINVAL;
	}
	ret = auth_names_parse(db, true, &r->dbs);
	if (!ret)
		ret = auth_names_parse(user, false, &r->users);
	if (ret == -ENOTSUP) {
		log_error("%s:%d: group (+name), file (@name) and samerole entries are not supported by pgxr: list the names",
			  path, lineno);
		return ret;
	}
	if (ret)
		return ret;
	if (r->family != -1) {
		char shown[128];

		tok = auth_token(&p);
		snprintf(shown, sizeof(shown), "%s", tok ? tok : "");
		if (!tok || auth_addr_parse(tok, &p, r)) {
			log_error("%s:%d: invalid address \"%s\": expected an address/bits, an address and a mask, or all",
				  path, lineno, shown);
			return -EINVAL;
		}
	}
	method = auth_token(&p);
	if (!method) {
		log_error("%s:%d: expected an authentication method", path, lineno);
		return -EINVAL;
	}
	for (i = 0; i < sizeof(auth_methods) / sizeof(auth_methods[0]); i++)
		if (!strcmp(method, auth_methods[i].name))
			break;
	if (i == sizeof(auth_methods) / sizeof(auth_methods[0])) {
		log_error("%s:%d: authentication method \"%s\" is not supported by pgxr: expected trust, reject, md5, scram-sha-256 or password",
			  path, lineno, method);
		return -EINVAL;
	}
	r->method = auth_methods[i].m;
	if ((tok = auth_token(&p))) {
		log_error("%s:%d: unexpected \"%s\" after the method: pgxr takes no authentication options",
			  path, lineno, tok);
		return -EINVAL;
	}
	return 0;
}

static int auth_load_hba(struct auth_tables *t, const char *path)
{
	char line[4096];
	int lineno = 0, ret = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		ret = -errno;
		log_error("could not open pool_hba.conf \"%s\": %s", path, strerror(-ret));
		return ret;
	}
	snprintf(t->hba_path, sizeof(t->hba_path), "%s", path);
	while (fgets(line, sizeof(line), f)) {
		struct auth_rule *r;
		char *p = line;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		p += strspn(p, " \t");
		if (!*p || *p == '#')
			continue;
		r = realloc(t->rules, (t->nrules + 1) * sizeof(*r));
		if (!r) {
			ret = -ENOMEM;
			break;
		}
		t->rules = r;
		r = &t->rules[t->nrules];
		memset(r, 0, sizeof(*r));
		t->nrules++;
		ret = auth_rule_parse(path, lineno, p, r);
		if (ret)
			break;
	}
	fclose(f);
	return ret;
}

/*
 * Reads pool_passwd (when the path is not empty) and, with use_hba,
 * pool_hba.conf; the tables in use change only when both are good.
 */
int auth_load(const char *passwd_path, const char *key_path, const char *hba_path, bool use_hba)
{
	struct auth_tables *t = calloc(1, sizeof(*t)), *old;
	int ret = 0;

	if (!t)
		return -ENOMEM;
	t->use_hba = use_hba;
	if (passwd_path[0])
		ret = auth_load_passwd(t, passwd_path, key_path);
	if (!ret && use_hba)
		ret = auth_load_hba(t, hba_path);
	if (ret) {
		auth_tables_free(t);
		return ret;
	}
	pthread_rwlock_wrlock(&auth_lock);
	old = auth_cur;
	auth_cur = t;
	pthread_rwlock_unlock(&auth_lock);
	auth_tables_free(old);
	return 0;
}

void auth_unload(void)
{
	pthread_rwlock_wrlock(&auth_lock);
	auth_tables_free(auth_cur);
	auth_cur = NULL;
	pthread_rwlock_unlock(&auth_lock);
}

/* pgxr authenticates clients itself (enable_pool_hba) */
bool auth_enabled(void)
{
	bool on;

	pthread_rwlock_rdlock(&auth_lock);
	on = auth_cur && auth_cur->use_hba;
	pthread_rwlock_unlock(&auth_lock);
	return on;
}

/* the pool_passwd entry of user, copied out; false when it has none */
bool auth_lookup(const char *user, struct auth_secret *out)
{
	bool found = false;

	pthread_rwlock_rdlock(&auth_lock);
	for (int i = 0; auth_cur && i < auth_cur->nusers; i++) {
		if (!strcmp(auth_cur->users[i].name, user)) {
			*out = auth_cur->users[i].secret;
			found = true;
			break;
		}
	}
	pthread_rwlock_unlock(&auth_lock);
	return found;
}

static bool auth_names_match(const struct auth_names *l, const char *name, const char *user)
{
	if (l->all || (l->sameuser && user && !strcmp(name, user)))
		return true;
	for (int i = 0; i < l->n; i++)
		if (!strcmp(l->names[i], name))
			return true;
	return false;
}

static bool auth_addr_match(const struct auth_rule *r, const struct sockaddr *sa)
{
	const uint8_t *a;
	int fam, size;

	if (r->family == 0)
		return true;
	if (sa->sa_family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
		fam = AF_INET;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		a = s6->sin6_addr.s6_addr;
		fam = AF_INET6;
		/* a client seen through an IPv6 listener as ::ffff:a.b.c.d matches IPv4 lines */
		if (r->family == AF_INET && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			a += 12;
			fam = AF_INET;
		}
	} else {
		return false;
	}
	if (fam != r->family)
		return false;
	size = fam == AF_INET ? 4 : 16;
	for (int i = 0; i < size; i++)
		if ((a[i] & r->mask[i]) != (r->addr[i] & r->mask[i]))
			return false;
	return true;
}

/*
 * The first pool_hba.conf line that matches the client: 0 with its method
 * and line, -ENOENT when none does.
 */
int auth_hba(const struct sockaddr *addr, bool ssl, const char *db, const char *user,
	     enum auth_method *method, int *line)
{
	int ret = -ENOENT;

	pthread_rwlock_rdlock(&auth_lock);
	for (int i = 0; auth_cur && i < auth_cur->nrules; i++) {
		const struct auth_rule *r = &auth_cur->rules[i];

		if (r->family == -1 || (r->conn == HBA_HOSTSSL && !ssl) ||
		    (r->conn == HBA_HOSTNOSSL && ssl) || !auth_names_match(&r->dbs, db, user) ||
		    !auth_names_match(&r->users, user, NULL) || !auth_addr_match(r, addr))
			continue;
		*method = r->method;
		*line = r->line;
		ret = 0;
		break;
	}
	pthread_rwlock_unlock(&auth_lock);
	return ret;
}
