/*
 * tls.c: TLS of the proxy with OpenSSL, on non-blocking sockets.  One
 * context serves clients (pgpool's ssl, ssl_cert, ssl_key, ssl_ca_cert,
 * ssl_ciphers, ssl_min_protocol_version), one connects to the servers
 * (backend_sslmode, backend_sslrootcert); both are made at start.  The
 * control plane's connections have their own (tls_control_new()).  Reads
 * and writes look like recv() and send(): -1 with EAGAIN when TLS waits
 * for the socket.
 */
#include <errno.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "tls.h"

/* the contexts: made by tls_init(), read by every worker */
static SSL_CTX *tls_srv, *tls_cli;
static enum tls_backend_mode tls_mode;
/*
 * The control plane's context (health checks, promotion, fencing), made
 * at its first TLS login, main thread only: it encrypts when the server
 * offers TLS and verifies nothing, as libpq's default sslmode=prefer,
 * so that a certificate problem never looks like a dead node.
 */
static SSL_CTX *tls_ctl;

/* OpenSSL's last error as text, for a log line */
const char *tls_error(void)
{
	static __thread char buf[256];
	unsigned long e = ERR_get_error();

	if (!e)
		return "no OpenSSL error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

static int tls_version(const char *name)
{
	static const struct {
		const char *name;
		int v;
	} versions[] = {
		{ "TLSv1", TLS1_VERSION }, { "TLSv1.1", TLS1_1_VERSION },
		{ "TLSv1.2", TLS1_2_VERSION }, { "TLSv1.3", TLS1_3_VERSION },
	};

	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		if (!strcasecmp(name, versions[i].name))
			return versions[i].v;
	return 0;
}

static SSL_CTX *tls_ctx(const SSL_METHOD *method, const char *min_version)
{
	SSL_CTX *ctx = SSL_CTX_new(method);
	int v = tls_version(min_version);

	if (!ctx)
		return NULL;
	/* a partial write may continue from a moved buffer: the relay buffers compact */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	if (v)
		SSL_CTX_set_min_proto_version(ctx, v);
	return ctx;
}

static int tls_server_init(const struct pgxr_config *cfg)
{
	if (!tls_version(cfg->ssl_min_protocol_version)) {
		log_error("%s: invalid ssl_min_protocol_version \"%s\": expected TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3",
			  cfg->path, cfg->ssl_min_protocol_version);
		return -EINVAL;
	}
	tls_srv = tls_ctx(TLS_server_method(), cfg->ssl_min_protocol_version);
	if (!tls_srv)
		goto fail;
	if (SSL_CTX_use_certificate_chain_file(tls_srv, cfg->ssl_cert) != 1) {
		log_error("could not load ssl_cert \"%s\": %s", cfg->ssl_cert, tls_error());
		return -EINVAL;
	}
	if (SSL_CTX_use_PrivateKey_file(tls_srv, cfg->ssl_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(tls_srv) != 1) {
		log_error("could not load ssl_key \"%s\": %s", cfg->ssl_key, tls_error());
		return -EINVAL;
	}
	if (cfg->ssl_ciphers[0] && SSL_CTX_set_cipher_list(tls_srv, cfg->ssl_ciphers) != 1) {
		log_error("invalid ssl_ciphers \"%s\": %s", cfg->ssl_ciphers, tls_error());
		return -EINVAL;
	}
	if (cfg->ssl_prefer_server_ciphers)
		SSL_CTX_set_options(tls_srv, SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* client certificates are asked for only when a CA is given; pgxr authenticates by password */
	if (cfg->ssl_ca_cert[0]) {
		if (SSL_CTX_load_verify_locations(tls_srv, cfg->ssl_ca_cert, NULL) != 1) {
			log_error("could not load ssl_ca_cert \"%s\": %s", cfg->ssl_ca_cert, tls_error());
			return -EINVAL;
		}
		SSL_CTX_set_verify(tls_srv, SSL_VERIFY_PEER, NULL);
	}
	return 0;
fail:
	log_error("could not set up TLS: %s", tls_error());
	return -ENOMEM;
}

static int tls_client_init(const struct pgxr_config *cfg)
{
	tls_cli = tls_ctx(TLS_client_method(), "TLSv1.2");
	if (!tls_cli) {
		log_error("could not set up TLS to the servers: %s", tls_error());
		return -ENOMEM;
	}
	if (tls_mode >= TLS_BACKEND_VERIFY_CA) {
		if (!cfg->backend_sslrootcert[0]) {
			log_error("%s: backend_sslmode %s needs backend_sslrootcert", cfg->path,
				  cfg->backend_sslmode);
			return -EINVAL;
		}
		if (SSL_CTX_load_verify_locations(tls_cli, cfg->backend_sslrootcert, NULL) != 1) {
			log_error("could not load backend_sslrootcert \"%s\": %s",
				  cfg->backend_sslrootcert, tls_error());
			return -EINVAL;
		}
		SSL_CTX_set_verify(tls_cli, SSL_VERIFY_PEER, NULL);
	}
	return 0;
}

/* the contexts of cfg; errors are logged with what to fix */
int tls_init(const struct pgxr_config *cfg)
{
	static const char *const modes[] = { "disable", "prefer", "require", "verify-ca",
					     "verify-full" };
	size_t i;
	int ret = 0;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (!strcmp(cfg->backend_sslmode, modes[i]))
			break;
	if (i == sizeof(modes) / sizeof(modes[0])) {
		log_error("%s: invalid backend_sslmode \"%s\": expected disable, prefer, require, verify-ca or verify-full",
			  cfg->path, cfg->backend_sslmode);
		return -EINVAL;
	}
	tls_mode = i;
	if (cfg->ssl)
		ret = tls_server_init(cfg);
	if (!ret && tls_mode != TLS_BACKEND_DISABLE)
		ret = tls_client_init(cfg);
	if (ret)
		tls_fini();
	return ret;
}

void tls_fini(void)
{
	SSL_CTX_free(tls_srv);
	SSL_CTX_free(tls_cli);
	SSL_CTX_free(tls_ctl);
	tls_srv = tls_cli = tls_ctl = NULL;
	tls_mode = TLS_BACKEND_DISABLE;
}

bool tls_server_on(void)
{
	return tls_srv != NULL;
}

enum tls_backend_mode tls_backend_mode(void)
{
	return tls_mode;
}

SSL *tls_accept_new(int fd)
{
	SSL *ssl = SSL_new(tls_srv);

	if (ssl && SSL_set_fd(ssl, fd) == 1) {
		SSL_set_accept_state(ssl);
		return ssl;
	}
	SSL_free(ssl);
	return NULL;
}

/* a TLS connection to a server at host (its name or address, for verify-full) */
SSL *tls_connect_new(int fd, const char *host)
{
	SSL *ssl = SSL_new(tls_cli);

	if (!ssl || SSL_set_fd(ssl, fd) != 1)
		goto fail;
	if (tls_mode == TLS_BACKEND_VERIFY_FULL) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);

		X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (X509_VERIFY_PARAM_set1_host(vp, host, 0) != 1 &&
		    X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1)
			goto fail;
	}
	SSL_set_connect_state(ssl);
	return ssl;
fail:
	SSL_free(ssl);
	return NULL;
}

/* a control connection's TLS (see tls_ctl) */
SSL *tls_control_new(int fd)
{
	SSL *ssl;

	if (!tls_ctl && !(tls_ctl = tls_ctx(TLS_client_method(), "TLSv1.2")))
		return NULL;
	ssl = SSL_new(tls_ctl);
	if (ssl && SSL_set_fd(ssl, fd) == 1) {
		SSL_set_connect_state(ssl);
		return ssl;
	}
	SSL_free(ssl);
	return NULL;
}

/* 0 when the handshake is done; -EAGAIN while it waits (want_write: for the socket to take bytes) */
int tls_handshake(SSL *ssl, bool *want_write)
{
	int r = SSL_do_handshake(ssl);

	if (r == 1)
		return 0;
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
		*want_write = false;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		*want_write = true;
		return -EAGAIN;
	default:
		return -EPROTO;
	}
}

/*
 * An SSL_read() or SSL_write() result as recv() and send() give theirs:
 * bytes, 0 at the peer's end (reads), -1 with errno (EAGAIN: TLS waits
 * for the socket).
 */
static ssize_t tls_result(SSL *ssl, int n, bool reading)
{
	if (n > 0)
		return n;
	switch (SSL_get_error(ssl, n)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		if (reading)
			return 0;
		errno = EPIPE;
		return -1;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		if (!errno && reading)
			return 0;	/* the peer closed without close_notify */
		if (!errno)
			errno = EPIPE;
		return -1;
	default:
		ERR_clear_error();
		errno = reading ? EPROTO : (errno ? errno : EPIPE);
		return -1;
	}
}

ssize_t tls_recv(SSL *ssl, void *buf, size_t len)
{
	/* SSL_ERROR_SYSCALL reads errno: a stale EAGAIN must not hide an end */
	errno = 0;
	return tls_result(ssl, SSL_read(ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len), true);
}

ssize_t tls_send(SSL *ssl, const void *buf, size_t len)
{
	errno = 0;
	return tls_result(ssl, SSL_write(ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len), false);
}

void tls_free(SSL *ssl)
{
	if (!ssl)
		return;
	SSL_shutdown(ssl);
	ERR_clear_error();
	SSL_free(ssl);
}

/*
 * tls-server-end-point channel binding data (RFC 5929): the hash of the
 * server's certificate, with its signature's hash, SHA-256 for MD5 and
 * SHA-1.  peer: the server's (pgxr is the client), else pgxr's own.
 */
int tls_endpoint(SSL *ssl, bool peer, uint8_t *out, size_t *len)
{
	X509 *cert = peer ? SSL_get1_peer_certificate(ssl) : SSL_get_certificate(ssl);
	const EVP_MD *md;
	unsigned int n = 0;
	int algo, ret = -EINVAL;

	if (!cert)
		return -ENOENT;
	if (!OBJ_find_sigid_algs(X509_get_signature_nid(cert), &algo, NULL))
		goto cleanup;
	if (algo == NID_md5 || algo == NID_sha1)
		algo = NID_sha256;
	md = EVP_get_digestbynid(algo);
	if (md && X509_digest(cert, md, out, &n) == 1 && n <= TLS_CBIND_MAX) {
		*len = n;
		ret = 0;
	}
cleanup:
	if (peer)
		X509_free(cert);
	return ret;
}
