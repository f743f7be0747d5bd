/*
 * txstate.c: what transaction pooling must carry for a client from one
 * server connection to the next.  Named protocol-level statements get
 * one server-side name per statement text ("pgxr_" and its hash), so any
 * server connection that has prepared it serves every client that uses
 * it; SET statements are kept to be replayed; and what cannot move at
 * all (LISTEN, SQL PREPARE, temporary tables, session advisory locks,
 * cursors WITH HOLD) pins the client to its server connection.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pgproto.h"
#include "txstate.h"

/* past the comment that starts at p; NULL when none does */
static const char *tx_comment_end(const char *p)
{
	const char *e;

	if (p[0] == '-' && p[1] == '-') {
		e = strchr(p, '\n');
		return e ? e : p + strlen(p);
	}
	if (p[0] == '/' && p[1] == '*') {
		e = strstr(p + 2, "*/");
		return e ? e + 2 : p + strlen(p);
	}
	return NULL;
}

/* the first statement of sql at or after p, with comments and blanks skipped */
static const char *tx_skip(const char *p)
{
	for (;;) {
		const char *e;

		while (isspace((unsigned char)*p))
			p++;
		if (!(e = tx_comment_end(p)))
			return p;
		p = e;
	}
}

/* past the end of the statement that starts at p: its ';' or the end, quotes and comments skipped */
static const char *tx_statement_end(const char *p)
{
	while (*p && *p != ';') {
		if (*p == '\'' || *p == '"') {
			char q = *p++;

			while (*p && *p != q)
				p++;
			if (*p)
				p++;
		} else if (*p == '$') {
			/* a dollar quote: $tag$ ... $tag$ */
			const char *tag = p, *e = strchr(p + 1, '$');

			if (e && (size_t)(e - tag) < 64) {
				char t[66];
				const char *close;

				snprintf(t, sizeof(t), "%.*s", (int)(e - tag + 1), tag);
				close = strstr(e + 1, t);
				p = close ? close + strlen(t) : p + strlen(p);
			} else {
				p++;
			}
		} else if ((p[0] == '-' && p[1] == '-') || (p[0] == '/' && p[1] == '*')) {
			p = tx_comment_end(p);
		} else {
			p++;
		}
	}
	return p;
}

/* the word at p is w (any case), followed by no identifier character */
static bool tx_word(const char *p, const char *w)
{
	size_t n = strlen(w);

	return !strncasecmp(p, w, n) && !isalnum((unsigned char)p[n]) && p[n] != '_';
}

/* the next word after the one at p */
static const char *tx_next_word(const char *p)
{
	while (*p && (isalnum((unsigned char)*p) || *p == '_'))
		p++;
	return tx_skip(p);
}

/* a case-insensitive search within [p, end); every query passes here, so the first byte filters */
static bool tx_contains(const char *p, const char *end, const char *needle)
{
	size_t n = strlen(needle);
	int first = tolower((unsigned char)needle[0]);

	for (; p + n <= end; p++)
		if (tolower((unsigned char)*p) == first && !strncasecmp(p, needle, n))
			return true;
	return false;
}

/* why one statement [p, end) ties the session to its server connection; NULL: it does not */
static const char *tx_pin_one(const char *p, const char *end)
{
	static const char *const locks[] = { "pg_advisory_lock(", "pg_advisory_lock_shared(",
					     "pg_try_advisory_lock(", "pg_try_advisory_lock_shared(" };

	if (tx_word(p, "LISTEN"))
		return "LISTEN";
	if (tx_word(p, "PREPARE") && !tx_word(tx_next_word(p), "TRANSACTION"))
		return "PREPARE";
	if (tx_word(p, "CREATE")) {
		const char *q = tx_next_word(p);

		if (tx_word(q, "GLOBAL") || tx_word(q, "LOCAL"))
			q = tx_next_word(q);
		if (tx_word(q, "TEMP") || tx_word(q, "TEMPORARY"))
			return "temporary table";
	}
	if (tx_word(p, "DECLARE") && tx_contains(p, end, "WITH HOLD"))
		return "cursor WITH HOLD";
	if (tx_contains(p, end, " INTO TEMP"))
		return "temporary table";
	/* each of them has "advisory_lock" in it; most statements have not */
	if (!tx_contains(p, end, "advisory_lock"))
		return NULL;
	for (size_t i = 0; i < sizeof(locks) / sizeof(locks[0]); i++)
		if (tx_contains(p, end, locks[i]))
			return "advisory lock";
	return NULL;
}

/* why sql (one or more statements) pins the session; NULL: it does not */
const char *tx_pin_reason(const char *sql)
{
	for (const char *p = tx_skip(sql); *p; p = tx_skip(p + 1)) {
		const char *end = tx_statement_end(p), *why = tx_pin_one(p, end);

		if (why)
			return why;
		if (!*end)
			break;
		p = end;
	}
	return NULL;
}

static void tx_sets_clear(struct tx_session *t)
{
	for (int i = 0; i < t->nsets; i++)
		free(t->sets[i]);
	free(t->sets);
	t->sets = NULL;
	t->nsets = 0;
}

/* the parameter a SET or RESET names, lower case ("time zone" is timezone); false: none */
static bool tx_set_name(const char *p, char *name, size_t len)
{
	size_t n = 0;

	if (tx_word(p, "SESSION"))
		p = tx_next_word(p);
	if (tx_word(p, "TIME") && tx_word(tx_next_word(p), "ZONE")) {
		snprintf(name, len, "timezone");
		return true;
	}
	while ((isalnum((unsigned char)p[n]) || p[n] == '_' || p[n] == '.') && n + 1 < len) {
		name[n] = tolower((unsigned char)p[n]);
		n++;
	}
	name[n] = '\0';
	return n > 0;
}

static int tx_set_index(const struct tx_session *t, const char *name)
{
	for (int i = 0; i < t->nsets; i++) {
		const char *p = tx_skip(t->sets[i] + 3);
		char have[128];

		if (tx_set_name(p, have, sizeof(have)) && !strcmp(have, name))
			return i;
	}
	return -1;
}

/* one statement [p, end): a session SET is kept (the last per name), RESET and DISCARD ALL forget */
static int tx_set_one(struct tx_session *t, const char *p, const char *end)
{
	char name[128], *copy;
	int i;

	if (tx_word(p, "DISCARD") && tx_word(tx_next_word(p), "ALL")) {
		tx_sets_clear(t);
		return 1;
	}
	if (tx_word(p, "RESET")) {
		const char *q = tx_next_word(p);

		if (tx_word(q, "ALL")) {
			tx_sets_clear(t);
			return 1;
		}
		if (!tx_set_name(q, name, sizeof(name)) || (i = tx_set_index(t, name)) < 0)
			return 0;
		free(t->sets[i]);
		t->sets[i] = t->sets[--t->nsets];
		return 1;
	}
	if (!tx_word(p, "SET"))
		return 0;
	p = tx_next_word(p);
	/* a transaction's own settings end with it */
	if (tx_word(p, "LOCAL") || tx_word(p, "TRANSACTION") ||
	    (tx_word(p, "SESSION") && tx_word(tx_next_word(p), "CHARACTERISTICS")))
		return 0;
	if (!tx_set_name(p, name, sizeof(name)))
		return 0;
	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	copy = malloc(end - p + 5);
	if (!copy)
		return -ENOMEM;
	snprintf(copy, end - p + 5, "SET %.*s", (int)(end - p), p);
	i = tx_set_index(t, name);
	if (i >= 0) {
		free(t->sets[i]);
		t->sets[i] = copy;
		return 1;
	}
	{
		char **grown = realloc(t->sets, (t->nsets + 1) * sizeof(*grown));

		if (!grown) {
			free(copy);
			return -ENOMEM;
		}
		t->sets = grown;
		t->sets[t->nsets++] = copy;
	}
	return 1;
}

/* the session SETs, RESETs and DISCARD ALLs of a simple query; how many there were */
int tx_set_track(struct tx_session *t, const char *sql)
{
	int n = 0;

	for (const char *p = tx_skip(sql); *p;) {
		const char *end = tx_statement_end(p);
		int r = tx_set_one(t, p, end);

		if (r < 0)
			return r;
		n += r;
		if (!*end)
			break;
		p = tx_skip(end + 1);
	}
	return n;
}

/* sql has a DISCARD ALL or DEALLOCATE [PREPARE] ALL: every prepared statement is gone */
bool tx_discards(const char *sql)
{
	for (const char *p = tx_skip(sql); *p;) {
		const char *end = tx_statement_end(p), *q = tx_next_word(p);

		if ((tx_word(p, "DISCARD") && tx_word(q, "ALL")) ||
		    (tx_word(p, "DEALLOCATE") &&
		     (tx_word(q, "ALL") || (tx_word(q, "PREPARE") && tx_word(tx_next_word(q), "ALL")))))
			return true;
		if (!*end)
			break;
		p = tx_skip(end + 1);
	}
	return false;
}

/* the kept SETs as Query messages, into a malloc'd buffer; how many */
int tx_set_replay(const struct tx_session *t, uint8_t **out, size_t *len)
{
	struct pgproto_buf b = {};

	for (int i = 0; i < t->nsets; i++)
		pgproto_message(&b, 'Q', t->sets[i], strlen(t->sets[i]) + 1);
	if (b.failed) {
		pgproto_buf_free(&b);
		return -ENOMEM;
	}
	*out = b.data;
	*len = b.len;
	return t->nsets;
}

/* FNV-1a, 64 bits: the server name of a statement's text and parameter types */
static void tx_server_name(const uint8_t *p, size_t n, char out[TX_NAME_LEN])
{
	unsigned long long h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	snprintf(out, TX_NAME_LEN, "pgxr_%016llx", h);
}

const struct tx_stmt *tx_stmt_find(const struct tx_session *t, const char *name)
{
	for (const struct tx_stmt *s = t->stmts; s; s = s->next)
		if (!strcmp(s->name, name))
			return s;
	return NULL;
}

void tx_stmt_forget(struct tx_session *t, const char *name)
{
	for (struct tx_stmt **pp = &t->stmts; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->name, name)) {
			struct tx_stmt *s = *pp;

			*pp = s->next;
			free(s->name);
			free(s->parse);
			free(s);
			return;
		}
	}
}

/*
 * A whole Parse message of the client.  An unnamed statement is left as
 * it is (0).  A named one is kept under its server name, and *out points
 * at the Parse to send instead, owned by t (1).  -EINVAL: malformed.
 */
int tx_parse(struct tx_session *t, const uint8_t *msg, size_t len, uint8_t **out,
	     size_t *out_len)
{
	const char *name = (const char *)msg + 5;
	size_t nlen, rest;
	struct tx_stmt *s;

	if (len < 8 || msg[0] != 'P' || pgproto_get32(msg + 1) != len - 1 ||
	    !memchr(name, '\0', len - 5))
		return -EINVAL;
	nlen = strlen(name);
	if (!nlen)
		return 0;
	rest = len - 5 - nlen - 1;	/* the query, its NUL and the parameter types */
	tx_stmt_forget(t, name);
	s = calloc(1, sizeof(*s));
	if (!s || !(s->name = strdup(name))) {
		free(s);
		return -ENOMEM;
	}
	tx_server_name((const uint8_t *)name + nlen + 1, rest, s->server);
	s->parse_len = 5 + TX_NAME_LEN + rest;
	s->parse = malloc(s->parse_len);
	if (!s->parse) {
		free(s->name);
		free(s);
		return -ENOMEM;
	}
	s->parse[0] = 'P';
	pgproto_put32(s->parse + 1, s->parse_len - 1);
	memcpy(s->parse + 5, s->server, TX_NAME_LEN);
	memcpy(s->parse + 5 + TX_NAME_LEN, name + nlen + 1, rest);
	s->next = t->stmts;
	t->stmts = s;
	*out = s->parse;
	*out_len = s->parse_len;
	return 1;
}

void tx_session_free(struct tx_session *t)
{
	while (t->stmts)
		tx_stmt_forget(t, t->stmts->name);
	tx_sets_clear(t);
	t->pin = NULL;
}

/* the server connection has the statement; a use makes it the most recent */
bool tx_server_has(struct tx_server *sv, const char *name)
{
	for (int i = 0; i < sv->n; i++) {
		if (!strcmp(sv->names[i], name)) {
			char keep[TX_NAME_LEN];

			memcpy(keep, sv->names[i], TX_NAME_LEN);
			memmove(sv->names[i], sv->names[i + 1], (sv->n - i - 1) * TX_NAME_LEN);
			memcpy(sv->names[sv->n - 1], keep, TX_NAME_LEN);
			return true;
		}
	}
	return false;
}

/*
 * The server connection prepared name.  Past max statements the least
 * recently used goes: its name is in evicted and 1 is returned, and the
 * caller closes it on the server.
 */
int tx_server_add(struct tx_server *sv, const char *name, int max, char *evicted)
{
	int ret = 0;

	if (tx_server_has(sv, name))
		return 0;
	if (max > 0 && sv->n >= max) {
		memcpy(evicted, sv->names[0], TX_NAME_LEN);
		memmove(sv->names[0], sv->names[1], (sv->n - 1) * TX_NAME_LEN);
		sv->n--;
		ret = 1;
	}
	if (sv->n == sv->cap) {
		int cap = sv->cap ? 2 * sv->cap : 16;
		char (*grown)[TX_NAME_LEN] = realloc(sv->names, cap * TX_NAME_LEN);

		if (!grown)
			return -ENOMEM;
		sv->names = grown;
		sv->cap = cap;
	}
	snprintf(sv->names[sv->n++], TX_NAME_LEN, "%s", name);
	return ret;
}

void tx_server_del(struct tx_server *sv, const char *name)
{
	for (int i = 0; i < sv->n; i++) {
		if (!strcmp(sv->names[i], name)) {
			memmove(sv->names[i], sv->names[i + 1], (sv->n - i - 1) * TX_NAME_LEN);
			sv->n--;
			return;
		}
	}
}

void tx_server_free(struct tx_server *sv)
{
	free(sv->names);
	memset(sv, 0, sizeof(*sv));
}
