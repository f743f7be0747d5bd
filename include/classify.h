/* classify.h: where a statement may run, decided with PostgreSQL's own parser (libpg_query) by pgpool-II's rules */
#ifndef PGXR_CLASSIFY_H
#define PGXR_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* where a statement goes, before the checks that need the catalog or the session */
enum classify_dest {
	CLASSIFY_PRIMARY,	/* it writes, may write, or needs the primary's state */
	CLASSIFY_BOTH,		/* session or transaction state: the primary and the session's read node */
	CLASSIFY_EITHER,	/* a read: a standby may run it */
};

/* the pool_backend_stats counter a statement counts in */
enum classify_stat {
	CLASSIFY_STAT_SELECT,
	CLASSIFY_STAT_INSERT,
	CLASSIFY_STAT_UPDATE,
	CLASSIFY_STAT_DELETE,
	CLASSIFY_STAT_DDL,
	CLASSIFY_STAT_OTHER,
};

/* what else the router needs to know */
#define CLASSIFY_MULTI		(1u << 0)	/* more than one statement */
#define CLASSIFY_UNPARSED	(1u << 1)	/* the parser rejected it */
#define CLASSIFY_COMMENT	(1u << 2)	/* the text starts with a comment */
#define CLASSIFY_NO_LB		(1u << 3)	/* it starts with the comment NO LOAD BALANCE */
#define CLASSIFY_BEGIN		(1u << 4)	/* BEGIN or START TRANSACTION */
#define CLASSIFY_TX_END		(1u << 5)	/* COMMIT, ROLLBACK, and their 2PC forms */
#define CLASSIFY_READ_ONLY	(1u << 6)	/* BEGIN / SET TRANSACTION ... READ ONLY */
#define CLASSIFY_READ_WRITE	(1u << 7)	/* BEGIN / SET TRANSACTION ... READ WRITE */
#define CLASSIFY_SERIALIZABLE	(1u << 8)	/* BEGIN / SET ... ISOLATION LEVEL SERIALIZABLE */
#define CLASSIFY_PLAIN_BEGIN	(1u << 9)	/* a standby gets a plain BEGIN instead */
#define CLASSIFY_WRITE		(1u << 10)	/* a write: DML, DDL, or a read that locks rows */
#define CLASSIFY_DML		(1u << 11)	/* INSERT, UPDATE, DELETE, MERGE, COPY FROM */
#define CLASSIFY_SESSION_SET	(1u << 12)	/* SET, RESET, DISCARD: session state */
#define CLASSIFY_TOO_DEEP	(1u << 13)	/* nested beyond what pgxr walks: treated as a write */
#define CLASSIFY_DEFAULT_SERIALIZABLE (1u << 14)	/* the session's later transactions are SERIALIZABLE */
#define CLASSIFY_TX_ISOLATION	(1u << 15)	/* BEGIN names an isolation level or DEFERRABLE */
#define CLASSIFY_START		(1u << 16)	/* START TRANSACTION (its command tag), not BEGIN */
#define CLASSIFY_DEFAULT_ISOLATION (1u << 17)	/* sets or resets the session's isolation level: DEFAULT_SERIALIZABLE says which */
#define CLASSIFY_SNAPSHOT	(1u << 18)	/* names REPEATABLE READ or SERIALIZABLE: one snapshot a transaction */

/*
 * A statement's classification.  names holds the relations it reads or
 * writes, then the functions it calls, each as its schema (empty when
 * not qualified) and its name, both NUL-terminated; pgxr checks them
 * against the catalog (system, temporary and unlogged tables, volatile
 * functions) and the function lists before a read goes to a standby.
 */
struct classify {
	uint8_t dest;		/* enum classify_dest */
	uint8_t stat;		/* enum classify_stat */
	uint32_t flags;		/* CLASSIFY_* */
	const char *why;	/* why the primary, a static string; NULL for the others */
	uint16_t nrels;
	uint16_t nfuncs;
	uint32_t names_len;
	char *names;		/* malloc'd; NULL when there are none */
};

int classify_sql(const char *sql, struct classify *out);
bool classify_select_text_ok(const char *sql);
void classify_free(struct classify *c);
const char *classify_name_next(const struct classify *c, const char *p);
const char *classify_dest_name(enum classify_dest d);

#endif
