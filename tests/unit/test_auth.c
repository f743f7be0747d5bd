/* test_auth.c: pool_passwd entries, pool_hba.conf matching, md5 and SCRAM-SHA-256 on both sides */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "tap.h"

/* RFC 7677's example: user "user", password "pencil"; the verifier computed with Python's hashlib */
#define RFC_VERIFIER "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
#define RFC_CLIENT_FIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC_SERVER_NONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_CLIENT_FINAL "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
/* pg_enc -k <file containing "pgxr-test-key"> pencil (pgpool-II 4.3.5) */
#define AES_KEY "pgxr-test-key"
#define AES_PENCIL "AESqa5eezZD1P34tfxgn+ZpVw=="
/* md5("pg1235" "postgres"), as pg_md5 -m writes it */
#define MD5_PG1235 "md5f252e9712748c7dc93dbc8d58cdc746e"

static int t_secret_kinds(void)
{
	struct auth_secret s;

	CHECK(auth_parse_secret("postgres", MD5_PG1235, NULL, &s) == 0 && s.kind == AUTH_SECRET_MD5,
	      "md5 entry");
	CHECK(auth_parse_secret("user", RFC_VERIFIER, NULL, &s) == 0 && s.kind == AUTH_SECRET_SCRAM &&
	      s.iterations == 4096 && s.salt_len == 16, "scram entry");
	CHECK(auth_parse_secret("user", "TEXTpencil", NULL, &s) == 0 && s.kind == AUTH_SECRET_TEXT &&
	      !strcmp(s.text, "pencil"), "TEXT entry");
	CHECK(auth_parse_secret("user", "pencil", NULL, &s) == 0 && !strcmp(s.text, "pencil"),
	      "a bare password is plain text, as in pgpool");
	CHECK(auth_parse_secret("user", AES_PENCIL, AES_KEY, &s) == 0 && s.kind == AUTH_SECRET_TEXT &&
	      !strcmp(s.text, "pencil"), "pg_enc's AES entry: got \"%s\"", s.text);
	CHECK(auth_parse_secret("user", AES_PENCIL, NULL, &s) == -ENOKEY, "AES without a key");
	CHECK(auth_parse_secret("user", AES_PENCIL, "another key", &s) != 0, "AES with a wrong key");
	CHECK(auth_parse_secret("user", "SCRAM-SHA-256$4096:bad$x:y", NULL, &s) == -EINVAL,
	      "broken verifier taken");
	/* "md5" and not 32 hex digits: pgpool reads it as a password */
	CHECK(auth_parse_secret("user", "md5short", NULL, &s) == 0 && s.kind == AUTH_SECRET_TEXT,
	      "md5short");
	return 0;
}

static int t_password_checks(void)
{
	struct auth_secret md5, scram, text;
	uint8_t salt[4] = { 1, 2, 3, 4 };
	char resp[36];

	auth_parse_secret("postgres", MD5_PG1235, NULL, &md5);
	auth_parse_secret("user", RFC_VERIFIER, NULL, &scram);
	auth_parse_secret("postgres", "TEXTpg1235", NULL, &text);
	CHECK(auth_password_check(&md5, "postgres", "pg1235"), "md5 entry, right password");
	CHECK(!auth_password_check(&md5, "postgres", "pg1236"), "md5 entry, wrong password");
	CHECK(!auth_password_check(&md5, "other", "pg1235"), "md5 is salted by the user name");
	CHECK(auth_password_check(&scram, "user", "pencil"), "scram entry, right password");
	CHECK(!auth_password_check(&scram, "user", "pencils"), "scram entry, wrong password");
	CHECK(auth_password_check(&text, "postgres", "pg1235") &&
	      !auth_password_check(&text, "postgres", "pg123"), "text entry");
	/* the md5 exchange: the same answer from the hash and from the password */
	CHECK(auth_md5_response(&text, "postgres", salt, resp) == 0, "md5 response from text");
	CHECK(auth_md5_check(&md5, "postgres", salt, resp), "md5 hash checks a password's answer");
	salt[0] = 9;
	CHECK(!auth_md5_check(&md5, "postgres", salt, resp), "another salt must not check");
	CHECK(auth_md5_response(&scram, "user", salt, resp) == -ENOKEY, "md5 from a verifier");
	return 0;
}

/* the server side against RFC 7677's own messages */
static int t_scram_server_rfc(void)
{
	struct auth_scram st = {};
	struct auth_secret sec, learnt;
	char out[512];

	auth_parse_secret("user", RFC_VERIFIER, NULL, &sec);
	strcpy(st.nonce, RFC_SERVER_NONCE);
	CHECK(auth_scram_server_first(&st, &sec, "SCRAM-SHA-256", (const uint8_t *)RFC_CLIENT_FIRST,
				      strlen(RFC_CLIENT_FIRST), out, sizeof(out)) == 0, "first");
	CHECK(!strcmp(out, "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"),
	      "server-first %s", out);
	CHECK(auth_scram_server_final(&st, (const uint8_t *)RFC_CLIENT_FINAL, strlen(RFC_CLIENT_FINAL),
				      out, sizeof(out), &learnt) == 0, "the RFC's proof refused");
	CHECK(!strcmp(out, RFC_SERVER_FINAL), "server-final %s", out);
	CHECK(learnt.have_client_key, "no client key learnt");
	/* a proof changed in one character */
	memset(&st, 0, sizeof(st));
	strcpy(st.nonce, RFC_SERVER_NONCE);
	auth_scram_server_first(&st, &sec, "SCRAM-SHA-256", (const uint8_t *)RFC_CLIENT_FIRST,
				strlen(RFC_CLIENT_FIRST), out, sizeof(out));
	{
		char bad[] = RFC_CLIENT_FINAL;

		bad[strlen(bad) - 3] ^= 1;
		CHECK(auth_scram_server_final(&st, (const uint8_t *)bad, strlen(bad), out, sizeof(out),
					      NULL) == -EACCES, "a wrong proof accepted");
	}
	CHECK(auth_scram_server_first(&st, &sec, "SCRAM-SHA-256-PLUS", (const uint8_t *)RFC_CLIENT_FIRST,
				      strlen(RFC_CLIENT_FIRST), out, sizeof(out)) == -EINVAL,
	      "PLUS without TLS");
	return 0;
}

/* one whole exchange of pgxr's client side against its server side; returns the server's verdict */
static int exchange(const struct auth_secret *client_sec, const struct auth_secret *server_sec,
		    struct auth_secret *learnt)
{
	struct auth_scram c = {}, s = {};
	char m1[512], m2[512], m3[512], m4[512];
	int ret;

	if (auth_scram_client_first(&c, client_sec, m1, sizeof(m1)))
		return -100;
	if (auth_scram_server_first(&s, server_sec, "SCRAM-SHA-256", (uint8_t *)m1, strlen(m1), m2,
				    sizeof(m2)))
		return -101;
	ret = auth_scram_client_final(&c, (uint8_t *)m2, strlen(m2), m3, sizeof(m3));
	if (ret)
		return ret;
	ret = auth_scram_server_final(&s, (uint8_t *)m3, strlen(m3), m4, sizeof(m4), learnt);
	if (ret)
		return ret;
	return auth_scram_client_verify(&c, (uint8_t *)m4, strlen(m4)) ? -102 : 0;
}

static int t_scram_both_sides(void)
{
	struct auth_secret pencil, wrong, verifier, learnt, learnt2, other;
	int ret;

	auth_parse_secret("user", "pencil", NULL, &pencil);
	auth_parse_secret("user", "pencil2", NULL, &wrong);
	auth_parse_secret("user", RFC_VERIFIER, NULL, &verifier);
	CHECK((ret = exchange(&pencil, &verifier, &learnt)) == 0, "right password: %d", ret);
	CHECK(exchange(&wrong, &verifier, NULL) == -EACCES, "wrong password accepted");
	CHECK(exchange(&pencil, NULL, NULL) == -EACCES, "a mock exchange accepted");
	/* a server holding the password itself makes a verifier of its own */
	CHECK(exchange(&pencil, &pencil, NULL) == 0, "text secret on the server side");
	/* the keys learnt from a client log in to a server with the same verifier, not another */
	CHECK((ret = exchange(&learnt, &verifier, &learnt2)) == 0, "passthrough: %d", ret);
	auth_parse_secret("user", "SCRAM-SHA-256$4096:AAAAAAAAAAAAAAAAAAAAAA==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
			  NULL, &other);
	CHECK(exchange(&learnt, &other, NULL) == -ESTALE, "passthrough with another salt");
	CHECK(auth_scram_client_first(&(struct auth_scram){}, &verifier, (char[64]){}, 64) == -ENOKEY,
	      "a verifier without the client key cannot log in");
	return 0;
}

/* an exchange over TLS: each side's idea of the server certificate's hash, and whether PLUS is offered */
static int exchange_bound(const char *client_cb, const char *server_cb, bool offered)
{
	struct auth_scram c = {}, s = {};
	struct auth_secret pencil, verifier;
	char m1[512], m2[512], m3[512], m4[512];
	int ret;

	auth_parse_secret("user", "pencil", NULL, &pencil);
	auth_parse_secret("user", RFC_VERIFIER, NULL, &verifier);
	c.cbind_len = strlen(client_cb);
	memcpy(c.cbind, client_cb, c.cbind_len);
	c.plus = offered;
	s.cbind_len = offered ? strlen(server_cb) : 0;
	memcpy(s.cbind, server_cb, strlen(server_cb));
	if (auth_scram_client_first(&c, &pencil, m1, sizeof(m1)))
		return -100;
	ret = auth_scram_server_first(&s, &verifier, offered ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256",
				      (uint8_t *)m1, strlen(m1), m2, sizeof(m2));
	if (ret)
		return ret;
	if (auth_scram_client_final(&c, (uint8_t *)m2, strlen(m2), m3, sizeof(m3)))
		return -101;
	ret = auth_scram_server_final(&s, (uint8_t *)m3, strlen(m3), m4, sizeof(m4), NULL);
	if (ret)
		return ret;
	return auth_scram_client_verify(&c, (uint8_t *)m4, strlen(m4)) ? -102 : 0;
}

static int t_scram_channel_binding(void)
{
	struct auth_scram s = {};
	struct auth_secret verifier;
	char out[512];
	int ret;

	CHECK((ret = exchange_bound("certhash-A", "certhash-A", true)) == 0, "bound exchange: %d", ret);
	CHECK(exchange_bound("certhash-B", "certhash-A", true) == -EPROTO,
	      "another certificate's hash accepted (a man in the middle)");
	/* TLS without PLUS offered: the client says "y" and does not bind */
	CHECK((ret = exchange_bound("certhash-A", "", false)) == 0, "y without an offer: %d", ret);
	/* "y" to a server that offered binding is a downgrade */
	auth_parse_secret("user", RFC_VERIFIER, NULL, &verifier);
	s.cbind_len = 3;
	CHECK(auth_scram_server_first(&s, &verifier, "SCRAM-SHA-256", (const uint8_t *)"y,,n=,r=abc", 11,
				      out, sizeof(out)) == -EPROTO, "a downgrade accepted");
	memset(&s, 0, sizeof(s));
	CHECK(auth_scram_server_first(&s, &verifier, "SCRAM-SHA-256", (const uint8_t *)"p=tls-server-end-point,,n=,r=abc",
				      32, out, sizeof(out)) == -EPROTO, "binding without PLUS accepted");
	return 0;
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static int hba(const char *ip, bool ssl, const char *db, const char *user, int *line)
{
	struct sockaddr_storage ss = {};
	enum auth_method m;

	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, ip, &s6->sin6_addr);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		inet_pton(AF_INET, ip, &s4->sin_addr);
	}
	if (auth_hba((struct sockaddr *)&ss, ssl, db, user, &m, line))
		return -1;
	return m;
}

static int t_files(void)
{
	char dir[] = "/tmp/pgxr-auth-XXXXXX", pw[256], hbaf[256], key[256];
	struct auth_secret s;
	int line = 0, ret = 0;

	CHECK(mkdtemp(dir), "mkdtemp");
	snprintf(pw, sizeof(pw), "%s/pool_passwd", dir);
	snprintf(hbaf, sizeof(hbaf), "%s/pool_hba.conf", dir);
	snprintf(key, sizeof(key), "%s/.pgpoolkey", dir);
	write_file(key, AES_KEY "\n");
	write_file(pw, "postgres:" MD5_PG1235 "\nuser:" RFC_VERIFIER "\naes:" AES_PENCIL "\ntext:TEXTpw\n");
	write_file(hbaf,
		   "# TYPE DATABASE USER ADDRESS METHOD\n"
		   "local all all trust\n"
		   "host all baduser 0.0.0.0/0 reject\n"
		   "hostssl all all 10.1.0.0/16 scram-sha-256\n"
		   "host db1,sameuser all 10.1.2.0 255.255.255.0 md5\n"
		   "host all \"text\" 10.0.0.0/8 password\n"
		   "host all all ::1/128 trust\n"
		   "hostnossl all all 10.1.0.0/16 trust\n");
	if (auth_load(pw, key, hbaf, true)) {
		tap_fail("valid files refused");
		ret = -1;
		goto cleanup;
	}
	if (!auth_lookup("aes", &s) || s.kind != AUTH_SECRET_TEXT || strcmp(s.text, "pencil") ||
	    !auth_lookup("user", &s) || s.kind != AUTH_SECRET_SCRAM || auth_lookup("nobody", &s)) {
		tap_fail("lookups wrong");
		ret = -1;
	} else if (hba("10.1.2.3", false, "db1", "x", &line) != AUTH_MD5 || line != 5 ||
		   hba("10.1.2.3", false, "x", "x", &line) != AUTH_MD5 ||
		   hba("10.1.2.3", false, "db2", "x", &line) != AUTH_TRUST || line != 8 ||
		   hba("10.1.2.3", true, "db2", "x", &line) != AUTH_SCRAM ||
		   hba("10.9.9.9", false, "db2", "baduser", &line) != AUTH_REJECT ||
		   hba("10.9.9.9", false, "db2", "text", &line) != AUTH_PASSWORD ||
		   hba("10.9.9.9", false, "db2", "x", &line) != -1 ||
		   hba("::ffff:10.1.2.3", false, "db1", "x", &line) != AUTH_MD5 ||
		   hba("::1", false, "db2", "x", &line) != AUTH_TRUST ||
		   hba("::2", false, "db2", "x", &line) != -1) {
		tap_fail("hba matching wrong (line %d)", line);
		ret = -1;
	}
	/* broken files: nothing changes, and the error says where */
	write_file(hbaf, "host all all 10.0.0.0/33 trust\n");
	if (!ret && (auth_load(pw, key, hbaf, true) != -EINVAL || !auth_lookup("aes", &s))) {
		tap_fail("a bad CIDR taken, or the old tables dropped");
		ret = -1;
	}
	write_file(hbaf, "host all all all ldap\n");
	if (!ret && auth_load(pw, key, hbaf, true) != -EINVAL) {
		tap_fail("ldap taken");
		ret = -1;
	}
	write_file(hbaf, "host all +group all md5\n");
	if (!ret && auth_load(pw, key, hbaf, true) != -ENOTSUP) {
		tap_fail("a group taken");
		ret = -1;
	}
	write_file(pw, "aes:" AES_PENCIL "\n");
	unlink(key);
	if (!ret && auth_load(pw, key, hbaf, false) != -ENOKEY) {
		tap_fail("an AES entry without a key file taken");
		ret = -1;
	}
	write_file(pw, "nocolon\n");
	if (!ret && auth_load(pw, key, hbaf, false) != -EINVAL) {
		tap_fail("a line without a colon taken");
		ret = -1;
	}
cleanup:
	unlink(pw);
	unlink(hbaf);
	unlink(key);
	rmdir(dir);
	auth_unload();
	return ret;
}

int main(void)
{
	tap_run("auth: pool_passwd's md5, SCRAM, TEXT, bare and pg_enc's AES entries", t_secret_kinds);
	tap_run("auth: cleartext and md5 checks against each kind of entry", t_password_checks);
	tap_run("auth: SCRAM server side on RFC 7677's example", t_scram_server_rfc);
	tap_run("auth: SCRAM both sides, mock users, keys learnt from a client", t_scram_both_sides);
	tap_run("auth: SCRAM-SHA-256-PLUS: tls-server-end-point bound, a wrong hash and a downgrade refused",
		t_scram_channel_binding);
	tap_run("auth: pool_hba.conf and pool_passwd files, good and broken", t_files);
	return tap_done();
}
