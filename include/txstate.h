/* txstate.h: what a client keeps across server connections in transaction pooling: prepared statements, SETs, pins */
#ifndef PGXR_TXSTATE_H
#define PGXR_TXSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* a server-side statement name: "pgxr_" and 16 hex digits of the statement's hash */
#define TX_NAME_LEN 22

/* a named protocol-level statement of a client */
struct tx_stmt {
	char *name;			/* the client's name */
	char server[TX_NAME_LEN];	/* the name on every server connection */
	uint8_t *parse;			/* a whole Parse message under the server name */
	size_t parse_len;
	struct tx_stmt *next;
};

/* a client session's state that must follow it from server to server */
struct tx_session {
	struct tx_stmt *stmts;
	char **sets;			/* "SET name TO value" statements, one per name */
	int nsets;
	const char *pin;		/* why the session keeps its server; NULL: it does not */
};

/* the statements prepared on one server connection, oldest use first */
struct tx_server {
	char (*names)[TX_NAME_LEN];
	int n, cap;
};

const char *tx_pin_reason(const char *sql);
int tx_set_track(struct tx_session *t, const char *sql);
int tx_set_replay(const struct tx_session *t, uint8_t **out, size_t *len);
bool tx_discards(const char *sql);

int tx_parse(struct tx_session *t, const uint8_t *msg, size_t len, uint8_t **out,
	     size_t *out_len);
const struct tx_stmt *tx_stmt_find(const struct tx_session *t, const char *name);
void tx_stmt_forget(struct tx_session *t, const char *name);
void tx_session_free(struct tx_session *t);

bool tx_server_has(struct tx_server *sv, const char *name);
int tx_server_add(struct tx_server *sv, const char *name, int max, char *evicted);
void tx_server_del(struct tx_server *sv, const char *name);
void tx_server_free(struct tx_server *sv);

#endif /* PGXR_TXSTATE_H */
