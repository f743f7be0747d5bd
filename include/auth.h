/* auth.h: who may use the proxy and how pgxr proves it to the servers: pool_hba.conf, pool_passwd, md5 and SCRAM-SHA-256 */
#ifndef PGXR_AUTH_H
#define PGXR_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* pool_hba.conf methods, PostgreSQL's names */
enum auth_method {
	AUTH_TRUST,
	AUTH_REJECT,
	AUTH_MD5,
	AUTH_SCRAM,
	AUTH_PASSWORD,
};

/* what pool_passwd (or a client) tells pgxr of a user's password */
enum auth_secret_kind {
	AUTH_SECRET_NONE,	/* not known */
	AUTH_SECRET_TEXT,	/* the password itself: TEXT, AES or a bare entry, or a client's cleartext */
	AUTH_SECRET_MD5,	/* "md5" || md5(password || user) */
	AUTH_SECRET_SCRAM,	/* a SCRAM-SHA-256 verifier */
};

#define AUTH_KEY_LEN 32		/* SHA-256 */
#define AUTH_MAX_SALT 64
/* pgpool allows 128 characters; PostgreSQL's own clients rarely send more than this */
#define AUTH_MAX_PASSWORD 256

struct auth_secret {
	enum auth_secret_kind kind;
	char text[AUTH_MAX_PASSWORD];	/* AUTH_SECRET_TEXT */
	char md5[36];			/* AUTH_SECRET_MD5: "md5" and 32 hex digits */
	int iterations;			/* AUTH_SECRET_SCRAM */
	uint8_t salt[AUTH_MAX_SALT];
	int salt_len;
	uint8_t stored_key[AUTH_KEY_LEN], server_key[AUTH_KEY_LEN];
	bool have_client_key;		/* learnt from the client's SCRAM proof */
	uint8_t client_key[AUTH_KEY_LEN];
};

/* a SCRAM-SHA-256 exchange, either side */
struct auth_scram {
	char nonce[128];		/* client nonce + server nonce */
	char client_first_bare[512];
	char server_first[512];
	char client_final_bare[512];	/* without the proof */
	struct auth_secret secret;	/* the verifier, or the keys the client side uses */
	bool mock;			/* server side: no such user, fail at the end as PostgreSQL does */
	char gs2[64];			/* the GS2 header: "n,,", "y,," or "p=tls-server-end-point,," */
	/* tls-server-end-point data (set by the caller over TLS): binding offered or used */
	uint8_t cbind[64];
	size_t cbind_len;
	bool plus;			/* client side: the server offered SCRAM-SHA-256-PLUS */
};

int auth_load(const char *passwd_path, const char *key_path, const char *hba_path, bool use_hba);
void auth_unload(void);
bool auth_enabled(void);
bool auth_lookup(const char *user, struct auth_secret *out);
int auth_hba(const struct sockaddr *addr, bool ssl, const char *db, const char *user,
	     enum auth_method *method, int *line);

int auth_parse_secret(const char *user, const char *value, const char *aes_key,
		      struct auth_secret *out);
void auth_md5_hex(const char *a, size_t alen, const char *b, size_t blen, char out[33]);
bool auth_md5_check(const struct auth_secret *sec, const char *user, const uint8_t salt[4],
		    const char *response);
int auth_md5_response(const struct auth_secret *sec, const char *user, const uint8_t salt[4],
		      char out[36]);
bool auth_password_check(const struct auth_secret *sec, const char *user, const char *password);

int auth_scram_server_first(struct auth_scram *st, const struct auth_secret *sec,
			    const char *mech, const uint8_t *msg, size_t len, char *out,
			    size_t outlen);
int auth_scram_server_final(struct auth_scram *st, const uint8_t *msg, size_t len, char *out,
			    size_t outlen, struct auth_secret *learnt);
int auth_scram_client_first(struct auth_scram *st, const struct auth_secret *sec, char *out,
			    size_t outlen);
int auth_scram_client_final(struct auth_scram *st, const uint8_t *msg, size_t len, char *out,
			    size_t outlen);
int auth_scram_client_verify(struct auth_scram *st, const uint8_t *msg, size_t len);

#endif /* PGXR_AUTH_H */
