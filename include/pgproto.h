/* pgproto.h: the PostgreSQL v3 wire protocol: framing, the startup packet, messages pgxr writes */
#ifndef PGXR_PGPROTO_H
#define PGXR_PGPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* the codes in place of a protocol version in a startup packet */
#define PGPROTO_CANCEL 80877102
#define PGPROTO_SSL 80877103
#define PGPROTO_GSSENC 80877104
#define PGPROTO_V3 0x00030000

/* Authentication request codes */
#define PGPROTO_AUTH_OK 0
#define PGPROTO_AUTH_CLEARTEXT 3
#define PGPROTO_AUTH_MD5 5
#define PGPROTO_AUTH_SASL 10
#define PGPROTO_AUTH_SASL_CONTINUE 11
#define PGPROTO_AUTH_SASL_FINAL 12

/* the largest startup packet PostgreSQL accepts (MAX_STARTUP_PACKET_LENGTH) */
#define PGPROTO_MAX_STARTUP 10000

#define PGPROTO_MAX_PARAMS 64
/* the largest pgproto_buf: a message is at most 1 GB in PostgreSQL */
#define PGPROTO_MAX_BUF (1u << 30)

/* a parsed startup packet; names and values point into the packet */
struct pgproto_startup {
	uint32_t code;		/* protocol version, or PGPROTO_CANCEL/SSL/GSSENC */
	int nparams;
	const char *name[PGPROTO_MAX_PARAMS];
	const char *value[PGPROTO_MAX_PARAMS];
	uint32_t cancel_pid, cancel_key;	/* PGPROTO_CANCEL */
};

/* a growable byte buffer for messages pgxr writes, up to 1 GB (PostgreSQL's own bound) */
struct pgproto_buf {
	uint8_t *data;
	uint32_t len, cap;	/* 32-bit: every session holds four of these */
	bool failed;		/* out of memory, or past 1 GB: the buffer is incomplete */
};

int pgproto_startup_parse(const uint8_t *pkt, size_t len, struct pgproto_startup *s);
const char *pgproto_startup_param(const struct pgproto_startup *s, const char *name);
int pgproto_startup_build(const struct pgproto_startup *s, uint32_t version, uint8_t *out,
			  size_t cap);
uint32_t pgproto_get32(const uint8_t *p);
void pgproto_put32(uint8_t *p, uint32_t v);

void pgproto_error(struct pgproto_buf *b, const char *severity, const char *sqlstate,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void pgproto_row_description(struct pgproto_buf *b, const char *const *names, int n);
void pgproto_data_row(struct pgproto_buf *b, const char *const *values, int n);
void pgproto_command_complete(struct pgproto_buf *b, const char *tag);
void pgproto_ready(struct pgproto_buf *b, char status);
void pgproto_negotiate(struct pgproto_buf *b, uint32_t version, const char *const *options,
		       int n);
void pgproto_message(struct pgproto_buf *b, char type, const void *body, size_t len);
void pgproto_raw(struct pgproto_buf *b, const void *data, size_t len);
void pgproto_auth(struct pgproto_buf *b, uint32_t code, const void *data, size_t len);
void pgproto_sasl_mechs(const uint8_t *body, size_t len, bool *scram, bool *plus);
void pgproto_sasl_initial(struct pgproto_buf *b, const char *mech, const char *data);
void pgproto_backend_key(struct pgproto_buf *b, uint32_t pid, uint32_t secret);
int pgproto_params_set(struct pgproto_buf *params, const uint8_t *msg, size_t len);
void pgproto_buf_free(struct pgproto_buf *b);

int pgproto_show(const uint8_t *query, size_t len, char *what, size_t what_len);

#endif /* PGXR_PGPROTO_H */
