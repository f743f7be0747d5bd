/* pgproto.c: the PostgreSQL v3 wire protocol pgxr's proxy needs: startup packets and the messages it writes */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pgproto.h"

uint32_t pgproto_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void pgproto_put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/*
 * A startup packet, length word included: its code, and for a protocol
 * version its name/value pairs (NUL-terminated strings, then one more NUL).
 * -EINVAL for a malformed packet.
 */
int pgproto_startup_parse(const uint8_t *pkt, size_t len, struct pgproto_startup *s)
{
	size_t off = 8;

	memset(s, 0, sizeof(*s));
	if (len < 8 || len > PGPROTO_MAX_STARTUP || pgproto_get32(pkt) != len)
		return -EINVAL;
	s->code = pgproto_get32(pkt + 4);
	if (s->code == PGPROTO_SSL || s->code == PGPROTO_GSSENC)
		return len == 8 ? 0 : -EINVAL;
	if (s->code == PGPROTO_CANCEL) {
		if (len != 16)
			return -EINVAL;
		s->cancel_pid = pgproto_get32(pkt + 8);
		s->cancel_key = pgproto_get32(pkt + 12);
		return 0;
	}
	if (s->code >> 16 != 3)
		return -EINVAL;
	while (off < len && pkt[off]) {
		const char *name = (const char *)pkt + off, *value;
		size_t n = strnlen(name, len - off);

		if (off + n + 1 >= len)
			return -EINVAL;
		value = name + n + 1;
		off += n + 1;
		n = strnlen(value, len - off);
		if (off + n + 1 > len)
			return -EINVAL;
		off += n + 1;
		if (s->nparams == PGPROTO_MAX_PARAMS)
			return -EINVAL;
		s->name[s->nparams] = name;
		s->value[s->nparams] = value;
		s->nparams++;
	}
	/* the list ends with a NUL, the last byte of the packet */
	return off + 1 == len && !pkt[off] ? 0 : -EINVAL;
}

const char *pgproto_startup_param(const struct pgproto_startup *s, const char *name)
{
	for (int i = 0; i < s->nparams; i++)
		if (!strcmp(s->name[i], name))
			return s->value[i];
	return NULL;
}

/*
 * The startup packet for a backend: s's parameters under version, without
 * the protocol options ("_pq_." names) it does not pass on.  Returns its
 * length, or -ENOSPC.
 */
int pgproto_startup_build(const struct pgproto_startup *s, uint32_t version, uint8_t *out,
			  size_t cap)
{
	size_t off = 8;

	if (cap < 9)
		return -ENOSPC;
	pgproto_put32(out + 4, version);
	for (int i = 0; i < s->nparams; i++) {
		size_t a = strlen(s->name[i]) + 1, b = strlen(s->value[i]) + 1;

		if (!strncmp(s->name[i], "_pq_.", 5))
			continue;
		if (off + a + b + 1 > cap)
			return -ENOSPC;
		memcpy(out + off, s->name[i], a);
		memcpy(out + off + a, s->value[i], b);
		off += a + b;
	}
	out[off++] = '\0';
	pgproto_put32(out, off);
	return off;
}

static void pgproto_put(struct pgproto_buf *b, const void *p, size_t n)
{
	if (b->failed || n > PGPROTO_MAX_BUF - b->len) {
		b->failed = true;
		return;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		uint8_t *d;

		while (cap < b->len + n)
			cap *= 2;
		d = realloc(b->data, cap);
		if (!d) {
			b->failed = true;
			return;
		}
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static void pgproto_put_u32(struct pgproto_buf *b, uint32_t v)
{
	uint8_t w[4];

	pgproto_put32(w, v);
	pgproto_put(b, w, 4);
}

static void pgproto_put_u16(struct pgproto_buf *b, uint16_t v)
{
	uint8_t w[2] = { v >> 8, v & 0xff };

	pgproto_put(b, w, 2);
}

static void pgproto_put_str(struct pgproto_buf *b, const char *s)
{
	pgproto_put(b, s, strlen(s) + 1);
}

/* a message's type and a length word to fill in by pgproto_end() */
static size_t pgproto_begin(struct pgproto_buf *b, char type)
{
	size_t at;

	pgproto_put(b, &type, 1);
	at = b->len;
	pgproto_put_u32(b, 0);
	return at;
}

static void pgproto_end(struct pgproto_buf *b, size_t at)
{
	if (!b->failed)
		pgproto_put32(b->data + at, b->len - at);
}

/* ErrorResponse with severity (S and V), SQLSTATE (C) and message (M) */
void pgproto_error(struct pgproto_buf *b, const char *severity, const char *sqlstate,
		   const char *fmt, ...)
{
	char msg[1024];
	size_t at = pgproto_begin(b, 'E');
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pgproto_put(b, "S", 1);
	pgproto_put_str(b, severity);
	pgproto_put(b, "V", 1);
	pgproto_put_str(b, severity);
	pgproto_put(b, "C", 1);
	pgproto_put_str(b, sqlstate);
	pgproto_put(b, "M", 1);
	pgproto_put_str(b, msg);
	pgproto_put(b, "", 1);
	pgproto_end(b, at);
}

/* RowDescription of n text columns (type text, OID 25), as pgpool's SHOW answers */
void pgproto_row_description(struct pgproto_buf *b, const char *const *names, int n)
{
	size_t at = pgproto_begin(b, 'T');

	pgproto_put_u16(b, n);
	for (int i = 0; i < n; i++) {
		pgproto_put_str(b, names[i]);
		pgproto_put_u32(b, 0);		/* table OID */
		pgproto_put_u16(b, 0);		/* column number */
		pgproto_put_u32(b, 25);		/* text */
		pgproto_put_u16(b, 0xffff);	/* variable length */
		pgproto_put_u32(b, 0xffffffff);	/* type modifier */
		pgproto_put_u16(b, 0);		/* text format */
	}
	pgproto_end(b, at);
}

/* DataRow of n text values; NULL for SQL NULL */
void pgproto_data_row(struct pgproto_buf *b, const char *const *values, int n)
{
	size_t at = pgproto_begin(b, 'D');

	pgproto_put_u16(b, n);
	for (int i = 0; i < n; i++) {
		if (!values[i]) {
			pgproto_put_u32(b, 0xffffffff);
			continue;
		}
		pgproto_put_u32(b, strlen(values[i]));
		pgproto_put(b, values[i], strlen(values[i]));
	}
	pgproto_end(b, at);
}

void pgproto_command_complete(struct pgproto_buf *b, const char *tag)
{
	size_t at = pgproto_begin(b, 'C');

	pgproto_put_str(b, tag);
	pgproto_end(b, at);
}

/* ReadyForQuery: 'I' idle, 'T' in a transaction, 'E' in a failed one */
void pgproto_ready(struct pgproto_buf *b, char status)
{
	size_t at = pgproto_begin(b, 'Z');

	pgproto_put(b, &status, 1);
	pgproto_end(b, at);
}

/*
 * NegotiateProtocolVersion: the newest version pgxr speaks, and the
 * options it ignored.  The version goes whole (3.0 is 0x30000), as
 * PostgreSQL sends it and libpq reads it.
 */
void pgproto_negotiate(struct pgproto_buf *b, uint32_t version, const char *const *options, int n)
{
	size_t at = pgproto_begin(b, 'v');

	pgproto_put_u32(b, version);
	pgproto_put_u32(b, n);
	for (int i = 0; i < n; i++)
		pgproto_put_str(b, options[i]);
	pgproto_end(b, at);
}

/* any message: its type and body */
void pgproto_message(struct pgproto_buf *b, char type, const void *body, size_t len)
{
	size_t at = pgproto_begin(b, type);

	pgproto_put(b, body, len);
	pgproto_end(b, at);
}

/* bytes that are whole messages already */
void pgproto_raw(struct pgproto_buf *b, const void *data, size_t len)
{
	pgproto_put(b, data, len);
}

/* an Authentication message: code, then what that code carries */
void pgproto_auth(struct pgproto_buf *b, uint32_t code, const void *data, size_t len)
{
	size_t at = pgproto_begin(b, 'R');

	pgproto_put_u32(b, code);
	pgproto_put(b, data, len);
	pgproto_end(b, at);
}

/* SASLInitialResponse: a mechanism and its first message */
void pgproto_sasl_initial(struct pgproto_buf *b, const char *mech, const char *data)
{
	size_t at = pgproto_begin(b, 'p');

	pgproto_put_str(b, mech);
	pgproto_put_u32(b, strlen(data));
	pgproto_put(b, data, strlen(data));
	pgproto_end(b, at);
}

void pgproto_backend_key(struct pgproto_buf *b, uint32_t pid, uint32_t secret)
{
	size_t at = pgproto_begin(b, 'K');

	pgproto_put_u32(b, pid);
	pgproto_put_u32(b, secret);
	pgproto_end(b, at);
}

/*
 * A ParameterStatus message (type and length included) into params, the
 * whole messages of a session's parameters: one of the same name is
 * replaced.  -EINVAL for a malformed message.
 */
int pgproto_params_set(struct pgproto_buf *params, const uint8_t *msg, size_t len)
{
	const char *name = (const char *)msg + 5;
	size_t nlen, off = 0;

	if (len < 7 || msg[0] != 'S' || pgproto_get32(msg + 1) != len - 1 || msg[len - 1] ||
	    !memchr(name, 0, len - 6))
		return -EINVAL;
	nlen = strlen(name) + 1;
	while (off + 5 <= params->len) {
		size_t mlen = pgproto_get32(params->data + off + 1) + 1;

		if (5 + nlen <= mlen && !memcmp(params->data + off + 5, name, nlen)) {
			memmove(params->data + off, params->data + off + mlen, params->len - off - mlen);
			params->len -= mlen;
			break;
		}
		off += mlen;
	}
	pgproto_put(params, msg, len);
	return params->failed ? -ENOMEM : 0;
}

void pgproto_buf_free(struct pgproto_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/*
 * A simple query that is one of pgpool's SHOW commands: "SHOW pool_nodes",
 * any case, spaces and one trailing semicolon allowed.  The name
 * ("pool_nodes") goes to what; returns 1, or 0 for any other query.
 */
int pgproto_show(const uint8_t *query, size_t len, char *what, size_t what_len)
{
	const char *q = (const char *)query, *end;
	size_t n;

	if (!len || query[len - 1])
		return 0;
	end = q + len - 1;
	while (q < end && isspace((unsigned char)*q))
		q++;
	while (end > q && (isspace((unsigned char)end[-1]) || end[-1] == ';'))
		end--;
	if (end - q < 6 || strncasecmp(q, "show", 4) || !isspace((unsigned char)q[4]))
		return 0;
	q += 4;
	while (q < end && isspace((unsigned char)*q))
		q++;
	n = end - q;
	if (n < 6 || n >= what_len || strncasecmp(q, "pool_", 5))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!isalnum((unsigned char)q[i]) && q[i] != '_')
			return 0;
		what[i] = tolower((unsigned char)q[i]);
	}
	what[n] = '\0';
	return 1;
}

/* which SCRAM mechanisms an AuthenticationSASL offers (body: after its code) */
void pgproto_sasl_mechs(const uint8_t *body, size_t len, bool *scram, bool *plus)
{
	*scram = *plus = false;
	for (size_t off = 0; off < len && body[off];) {
		size_t n = strnlen((const char *)body + off, len - off);

		*scram |= n == 13 && !memcmp(body + off, "SCRAM-SHA-256", 13);
		*plus |= n == 18 && !memcmp(body + off, "SCRAM-SHA-256-PLUS", 18);
		off += n + 1;
	}
}
