/* tls.h: TLS with OpenSSL, non-blocking: to clients (ssl = on), to the servers (backend_sslmode), for the control plane */
#ifndef PGXR_TLS_H
#define PGXR_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "config.h"

/* backend_sslmode, libpq's sslmode names */
enum tls_backend_mode {
	TLS_BACKEND_DISABLE,
	TLS_BACKEND_PREFER,
	TLS_BACKEND_REQUIRE,
	TLS_BACKEND_VERIFY_CA,
	TLS_BACKEND_VERIFY_FULL,
};

/* the largest tls-server-end-point hash (SHA-512) */
#define TLS_CBIND_MAX 64

int tls_init(const struct pgxr_config *cfg);
void tls_fini(void);
bool tls_server_on(void);
enum tls_backend_mode tls_backend_mode(void);
SSL *tls_accept_new(int fd);
SSL *tls_connect_new(int fd, const char *host);
SSL *tls_control_new(int fd);
int tls_handshake(SSL *ssl, bool *want_write);
ssize_t tls_recv(SSL *ssl, void *buf, size_t len);
ssize_t tls_send(SSL *ssl, const void *buf, size_t len);
void tls_free(SSL *ssl);
int tls_endpoint(SSL *ssl, bool peer, uint8_t *out, size_t *len);
const char *tls_error(void);

#endif /* PGXR_TLS_H */
