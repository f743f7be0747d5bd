/* classify.c: where a statement may run, decided with PostgreSQL's own parser (libpg_query) by pgpool-II 4.4's rules */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include "classify.h"

/* deeper parse trees are not walked: such a statement goes to the primary */
#ifndef CLASSIFY_MAX_DEPTH
#define CLASSIFY_MAX_DEPTH 400
#endif

/* PostgreSQL's lock modes (storage/lockdefs.h): ROW EXCLUSIVE and up conflict with a standby */
#define CLASSIFY_ROW_EXCLUSIVE 3

/* the comment that keeps a statement on the primary, as pgpool-II before 4.3 read it */
#define CLASSIFY_NO_LB_COMMENT "/*NO LOAD BALANCE*/"

/* NUL-terminated names, one after the other */
struct classify_names {
	char *data;
	size_t len, cap;
	size_t count;		/* (schema, name) pairs */
};

/* what a walk of the parse tree found */
struct classify_walk {
	struct classify *out;
	struct classify_names rels, funcs;
	bool locks_or_into;	/* a SELECT ... FOR UPDATE/SHARE or SELECT INTO anywhere */
	bool oom;
};

static const char *const classify_dest_names[] = {
	[CLASSIFY_PRIMARY] = "primary",
	[CLASSIFY_BOTH] = "both",
	[CLASSIFY_EITHER] = "either",
};

const char *classify_dest_name(enum classify_dest d)
{
	return (unsigned)d < sizeof(classify_dest_names) / sizeof(classify_dest_names[0]) ?
		       classify_dest_names[d] : "?";
}

/* the next schema or name after p (NULL: the first); NULL past the last */
const char *classify_name_next(const struct classify *c, const char *p)
{
	if (!c->names)
		return NULL;
	if (!p)
		return c->names;
	p += strlen(p) + 1;
	return p < c->names + c->names_len ? p : NULL;
}

void classify_free(struct classify *c)
{
	free(c->names);
	c->names = NULL;
	c->names_len = 0;
	c->nrels = c->nfuncs = 0;
}

/* one (schema, name) pair more */
static void classify_add(struct classify_walk *w, struct classify_names *b, const char *schema,
			 const char *name)
{
	size_t a = strlen(schema) + 1, n = strlen(name) + 1;
	char *p;

	if (b->len + a + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 128;

		while (cap < b->len + a + n)
			cap *= 2;
		if (cap > UINT32_MAX || !(p = realloc(b->data, cap))) {
			w->oom = true;
			return;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, schema, a);
	memcpy(b->data + b->len + a, name, n);
	b->len += a + n;
	b->count++;
}

static const char *classify_string(const PgQuery__Node *n)
{
	return n && n->node_case == PG_QUERY__NODE__NODE_STRING && n->string ? n->string->sval : "";
}

static void classify_walk_msg(struct classify_walk *w, const ProtobufCMessage *m, int depth);

static void classify_walk_field(struct classify_walk *w, const ProtobufCMessage *m,
				const ProtobufCFieldDescriptor *f, int depth)
{
	const char *base = (const char *)m;

	if (f->type != PROTOBUF_C_TYPE_MESSAGE)
		return;
	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		size_t n = *(const size_t *)(base + f->quantifier_offset);
		ProtobufCMessage *const *a = *(ProtobufCMessage *const *const *)(base + f->offset);

		for (size_t i = 0; i < n; i++)
			if (a[i])
				classify_walk_msg(w, a[i], depth + 1);
		return;
	}
	if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
	    *(const uint32_t *)(base + f->quantifier_offset) != f->id)
		return;
	if (*(ProtobufCMessage *const *)(base + f->offset))
		classify_walk_msg(w, *(ProtobufCMessage *const *)(base + f->offset), depth + 1);
}

/*
 * Every message of the tree, through protobuf-c's descriptors: a new
 * node type of the parser is walked without a change here.  A Node is a
 * oneof of some 240 types; only its set member is looked at.
 */
static void classify_walk_msg(struct classify_walk *w, const ProtobufCMessage *m, int depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	struct classify *out = w->out;

	if (depth > CLASSIFY_MAX_DEPTH) {
		out->flags |= CLASSIFY_TOO_DEEP;
		return;
	}
	if (d == &pg_query__node__descriptor) {
		const PgQuery__Node *n = (const PgQuery__Node *)m;
		const ProtobufCFieldDescriptor *f;

		if (n->node_case == PG_QUERY__NODE__NODE__NOT_SET)
			return;
		f = protobuf_c_message_descriptor_get_field(d, n->node_case);
		if (f)
			classify_walk_field(w, m, f, depth);
		return;
	}
	if (d == &pg_query__range_var__descriptor) {
		const PgQuery__RangeVar *r = (const PgQuery__RangeVar *)m;

		classify_add(w, &w->rels, r->schemaname, r->relname);
	} else if (d == &pg_query__func_call__descriptor) {
		const PgQuery__FuncCall *fc = (const PgQuery__FuncCall *)m;

		/* a.b.f is a function f of schema b (of database a) */
		classify_add(w, &w->funcs,
			     fc->n_funcname >= 2 ? classify_string(fc->funcname[fc->n_funcname - 2]) : "",
			     fc->n_funcname ? classify_string(fc->funcname[fc->n_funcname - 1]) : "");
	} else if (d == &pg_query__select_stmt__descriptor) {
		const PgQuery__SelectStmt *s = (const PgQuery__SelectStmt *)m;

		if (s->into_clause || s->n_locking_clause)
			w->locks_or_into = true;
	}
	for (unsigned i = 0; i < d->n_fields; i++)
		classify_walk_field(w, m, &d->fields[i], depth);
}

/* a SELECT whose WITH holds an INSERT, UPDATE, DELETE or MERGE */
static bool classify_cte_writes(const PgQuery__WithClause *with)
{
	if (!with)
		return false;
	for (size_t i = 0; i < with->n_ctes; i++) {
		const PgQuery__Node *n = with->ctes[i];
		const PgQuery__CommonTableExpr *cte =
			n && n->node_case == PG_QUERY__NODE__NODE_COMMON_TABLE_EXPR ? n->common_table_expr : NULL;

		if (cte && cte->ctequery && cte->ctequery->node_case != PG_QUERY__NODE__NODE_SELECT_STMT)
			return true;
	}
	return false;
}

/* an A_Const's truth, as PostgreSQL reads a boolean setting; -1 when it is neither */
static int classify_bool_const(const PgQuery__Node *n)
{
	const PgQuery__AConst *c;
	const char *v;

	if (!n || n->node_case != PG_QUERY__NODE__NODE_A_CONST)
		return -1;
	c = n->a_const;
	switch (c->val_case) {
	case PG_QUERY__A__CONST__VAL_IVAL:
		return c->ival && c->ival->ival != 0;
	case PG_QUERY__A__CONST__VAL_BOOLVAL:
		return c->boolval && c->boolval->boolval;
	case PG_QUERY__A__CONST__VAL_SVAL:
		v = c->sval ? c->sval->sval : "";
		if (!strcasecmp(v, "off") || !strcasecmp(v, "f") || !strcasecmp(v, "false"))
			return 0;
		if (!strcasecmp(v, "on") || !strcasecmp(v, "t") || !strcasecmp(v, "true"))
			return 1;
		return -1;
	default:
		return -1;
	}
}

static bool classify_is_level(const PgQuery__Node *n, const char *level)
{
	return n && n->node_case == PG_QUERY__NODE__NODE_A_CONST &&
	       n->a_const->val_case == PG_QUERY__A__CONST__VAL_SVAL && n->a_const->sval &&
	       !strcasecmp(n->a_const->sval->sval, level);
}

static bool classify_is_serializable(const PgQuery__Node *n)
{
	return classify_is_level(n, "serializable");
}

/* an isolation level whose transactions keep one snapshot */
static bool classify_is_snapshot(const PgQuery__Node *n)
{
	return classify_is_serializable(n) || classify_is_level(n, "repeatable read");
}

/* BEGIN's, SET TRANSACTION's and SET SESSION CHARACTERISTICS' options: READ ONLY/WRITE, SERIALIZABLE */
static void classify_tx_options(PgQuery__Node *const *opts, size_t n, struct classify *out)
{
	for (size_t i = 0; i < n; i++) {
		const PgQuery__DefElem *e;

		if (!opts[i] || opts[i]->node_case != PG_QUERY__NODE__NODE_DEF_ELEM)
			continue;
		e = opts[i]->def_elem;
		if (!strcmp(e->defname, "transaction_read_only")) {
			int ro = classify_bool_const(e->arg);

			if (ro == 1)
				out->flags |= CLASSIFY_READ_ONLY;
			else if (ro == 0)
				out->flags |= CLASSIFY_READ_WRITE;
		} else if (!strcmp(e->defname, "transaction_isolation")) {
			out->flags |= CLASSIFY_TX_ISOLATION;
			if (classify_is_serializable(e->arg))
				out->flags |= CLASSIFY_SERIALIZABLE;
			if (classify_is_snapshot(e->arg))
				out->flags |= CLASSIFY_SNAPSHOT;
		} else if (!strcmp(e->defname, "transaction_deferrable")) {
			out->flags |= CLASSIFY_TX_ISOLATION;
		}
	}
}

static void classify_primary(struct classify *out, const char *why)
{
	out->dest = CLASSIFY_PRIMARY;
	out->why = why;
}

/* a statement that writes, or may: the primary, and pgpool's writing-transaction flag */
static void classify_write(struct classify *out, unsigned flags, const char *why)
{
	out->flags |= CLASSIFY_WRITE | flags;
	classify_primary(out, why);
}

static void classify_transaction(const PgQuery__TransactionStmt *t, struct classify *out)
{
	switch (t->kind) {
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN:
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START:
		out->dest = CLASSIFY_BOTH;
		out->flags |= CLASSIFY_BEGIN;
		if (t->kind == PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START)
			out->flags |= CLASSIFY_START;
		classify_tx_options(t->options, t->n_options, out);
		/* the standby runs the transaction's reads: a plain BEGIN is all it needs */
		if (out->flags & (CLASSIFY_READ_WRITE | CLASSIFY_SERIALIZABLE))
			out->flags |= CLASSIFY_PLAIN_BEGIN;
		return;
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT:
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK:
		out->dest = CLASSIFY_BOTH;
		out->flags |= CLASSIFY_TX_END;
		return;
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_SAVEPOINT:
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_RELEASE:
		/* pgpool counts them as writes: a transaction's later reads stay on the primary */
		out->dest = CLASSIFY_BOTH;
		out->flags |= CLASSIFY_WRITE;
		return;
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_TO:
		out->dest = CLASSIFY_BOTH;
		return;
	default:
		/* PREPARE TRANSACTION, COMMIT PREPARED, ROLLBACK PREPARED */
		out->flags |= CLASSIFY_TX_END;
		classify_primary(out, "two-phase commit");
		return;
	}
}

static void classify_set(const PgQuery__VariableSetStmt *v, struct classify *out)
{
	out->flags |= CLASSIFY_SESSION_SET | CLASSIFY_WRITE;
	out->dest = CLASSIFY_BOTH;
	/* RESET ALL, RESET default_transaction_isolation: the session's default level again */
	if (v->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET_ALL ||
	    (v->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET && v->name &&
	     !strcmp(v->name, "default_transaction_isolation")))
		out->flags |= CLASSIFY_DEFAULT_ISOLATION;
	if (v->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE && !v->is_local &&
	    !strcmp(v->name, "default_transaction_isolation"))
		out->flags |= CLASSIFY_DEFAULT_ISOLATION;
	if (v->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE) {
		if (!strcmp(v->name, "transaction_read_only")) {
			for (size_t i = 0; i < v->n_args; i++) {
				int ro = classify_bool_const(v->args[i]);

				if (ro == 0) {
					out->flags |= CLASSIFY_READ_WRITE;
					classify_primary(out, "SET transaction_read_only = off");
				} else if (ro == 1) {
					out->flags |= CLASSIFY_READ_ONLY;
					out->flags &= ~CLASSIFY_WRITE;
				}
			}
			return;
		}
		if (!strcmp(v->name, "transaction_isolation") ||
		    !strcmp(v->name, "default_transaction_isolation")) {
			for (size_t i = 0; i < v->n_args; i++) {
				if (classify_is_snapshot(v->args[i]))
					out->flags |= CLASSIFY_SNAPSHOT;
				if (classify_is_serializable(v->args[i])) {
					out->flags |= CLASSIFY_SERIALIZABLE;
					if (!v->is_local && !strcmp(v->name, "default_transaction_isolation"))
						out->flags |= CLASSIFY_DEFAULT_SERIALIZABLE;
					classify_primary(out, "isolation level serializable");
				}
			}
		}
		return;
	}
	if (v->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_MULTI &&
	    (!strcmp(v->name, "TRANSACTION") || !strcmp(v->name, "SESSION CHARACTERISTICS"))) {
		classify_tx_options(v->args, v->n_args, out);
		if ((out->flags & CLASSIFY_TX_ISOLATION) && !strcmp(v->name, "SESSION CHARACTERISTICS"))
			out->flags |= CLASSIFY_DEFAULT_ISOLATION;
		if ((out->flags & CLASSIFY_SERIALIZABLE) && !strcmp(v->name, "SESSION CHARACTERISTICS"))
			out->flags |= CLASSIFY_DEFAULT_SERIALIZABLE;
		if (out->flags & CLASSIFY_SERIALIZABLE)
			classify_primary(out, "isolation level serializable");
		else if (out->flags & CLASSIFY_READ_WRITE)
			classify_primary(out, "a READ WRITE transaction");
		else if (out->flags & CLASSIFY_READ_ONLY)
			out->flags &= ~CLASSIFY_WRITE;
	}
}

/*
 * EXPLAIN: a read unless ANALYZE runs something that is not a plain
 * SELECT.  pgpool lets EXPLAIN ANALYZE of SELECT ... FOR UPDATE or INTO
 * through; a standby refuses it (read-only transaction), so pgxr does not.
 */
static void classify_explain(const PgQuery__ExplainStmt *e, struct classify *out, bool locks_or_into)
{
	bool analyze = false;
	const PgQuery__Node *q = e->query;

	for (size_t i = 0; i < e->n_options; i++) {
		const PgQuery__Node *o = e->options[i];

		/* "ANALYZE" alone has no argument; (ANALYZE false) has one */
		if (o && o->node_case == PG_QUERY__NODE__NODE_DEF_ELEM && !strcmp(o->def_elem->defname, "analyze"))
			analyze = !o->def_elem->arg || strcasecmp(classify_string(o->def_elem->arg), "false");
	}
	if (!analyze) {
		out->dest = CLASSIFY_EITHER;
		return;
	}
	if (q && q->node_case == PG_QUERY__NODE__NODE_SELECT_STMT && !locks_or_into &&
	    !classify_cte_writes(q->select_stmt->with_clause)) {
		out->dest = CLASSIFY_EITHER;
		return;
	}
	classify_write(out, 0, "EXPLAIN ANALYZE of a statement that writes");
}

/* pool_backend_stats: pgpool's statistics.c counts these as "other", the rest but DML as DDL */
static bool classify_stat_other(PgQuery__Node__NodeCase c)
{
	switch (c) {
	case PG_QUERY__NODE__NODE_CHECK_POINT_STMT:
	case PG_QUERY__NODE__NODE_DEALLOCATE_STMT:
	case PG_QUERY__NODE__NODE_DISCARD_STMT:
	case PG_QUERY__NODE__NODE_EXECUTE_STMT:
	case PG_QUERY__NODE__NODE_EXPLAIN_STMT:
	case PG_QUERY__NODE__NODE_LISTEN_STMT:
	case PG_QUERY__NODE__NODE_LOAD_STMT:
	case PG_QUERY__NODE__NODE_LOCK_STMT:
	case PG_QUERY__NODE__NODE_NOTIFY_STMT:
	case PG_QUERY__NODE__NODE_PREPARE_STMT:
	case PG_QUERY__NODE__NODE_TRANSACTION_STMT:
	case PG_QUERY__NODE__NODE_UNLISTEN_STMT:
	case PG_QUERY__NODE__NODE_VACUUM_STMT:
	case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT:
	case PG_QUERY__NODE__NODE_VARIABLE_SHOW_STMT:
		return true;
	default:
		return false;
	}
}

static enum classify_stat classify_stat_of(PgQuery__Node__NodeCase c)
{
	switch (c) {
	case PG_QUERY__NODE__NODE_SELECT_STMT:
		return CLASSIFY_STAT_SELECT;
	case PG_QUERY__NODE__NODE_INSERT_STMT:
		return CLASSIFY_STAT_INSERT;
	case PG_QUERY__NODE__NODE_UPDATE_STMT:
		return CLASSIFY_STAT_UPDATE;
	case PG_QUERY__NODE__NODE_DELETE_STMT:
		return CLASSIFY_STAT_DELETE;
	default:
		return classify_stat_other(c) ? CLASSIFY_STAT_OTHER : CLASSIFY_STAT_DDL;
	}
}

/* one statement: pgpool's send_to_where() and is_select_query(), the text checks aside */
static void classify_stmt(const PgQuery__Node *n, struct classify *out, bool locks_or_into)
{
	out->stat = classify_stat_of(n->node_case);
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_SELECT_STMT:
		if (locks_or_into) {
			classify_write(out, 0, "SELECT INTO or SELECT FOR UPDATE/SHARE");
		} else if (classify_cte_writes(n->select_stmt->with_clause)) {
			classify_write(out, CLASSIFY_DML, "a WITH that writes");
		} else {
			out->dest = CLASSIFY_EITHER;
		}
		return;
	case PG_QUERY__NODE__NODE_VARIABLE_SHOW_STMT:
		out->dest = CLASSIFY_EITHER;
		return;
	case PG_QUERY__NODE__NODE_COPY_STMT: {
		const PgQuery__CopyStmt *c = n->copy_stmt;

		if (c->is_from) {
			classify_write(out, CLASSIFY_DML, "COPY FROM");
		} else if (c->filename[0] || c->is_program) {
			classify_write(out, 0, "COPY TO a file or program of the server");
		} else if (c->query && (c->query->node_case != PG_QUERY__NODE__NODE_SELECT_STMT || locks_or_into ||
					classify_cte_writes(c->query->select_stmt->with_clause))) {
			classify_write(out, 0, "COPY of a statement that writes");
		} else {
			out->dest = CLASSIFY_EITHER;
		}
		return;
	}
	case PG_QUERY__NODE__NODE_EXPLAIN_STMT:
		classify_explain(n->explain_stmt, out, locks_or_into);
		return;
	case PG_QUERY__NODE__NODE_LOCK_STMT:
		if (n->lock_stmt->mode >= CLASSIFY_ROW_EXCLUSIVE) {
			classify_write(out, 0, "LOCK in ROW EXCLUSIVE mode or stronger");
		} else {
			out->flags |= CLASSIFY_WRITE;
			out->dest = CLASSIFY_BOTH;
		}
		return;
	case PG_QUERY__NODE__NODE_TRANSACTION_STMT:
		classify_transaction(n->transaction_stmt, out);
		return;
	case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT:
		classify_set(n->variable_set_stmt, out);
		return;
	case PG_QUERY__NODE__NODE_DISCARD_STMT:
		out->flags |= CLASSIFY_SESSION_SET | CLASSIFY_WRITE;
		if (n->discard_stmt->target == PG_QUERY__DISCARD_MODE__DISCARD_ALL)
			out->flags |= CLASSIFY_DEFAULT_ISOLATION;
		out->dest = CLASSIFY_BOTH;
		return;
	case PG_QUERY__NODE__NODE_DEALLOCATE_STMT:
		out->flags |= CLASSIFY_WRITE;
		if (!n->deallocate_stmt->name[0])
			out->dest = CLASSIFY_BOTH;	/* DEALLOCATE ALL */
		else
			classify_primary(out, "SQL DEALLOCATE: SQL prepared statements live on the primary");
		return;
	case PG_QUERY__NODE__NODE_PREPARE_STMT:
	case PG_QUERY__NODE__NODE_EXECUTE_STMT:
		classify_write(out, 0, "SQL PREPARE and EXECUTE: SQL prepared statements live on the primary");
		return;
	case PG_QUERY__NODE__NODE_INSERT_STMT:
	case PG_QUERY__NODE__NODE_UPDATE_STMT:
	case PG_QUERY__NODE__NODE_DELETE_STMT:
	case PG_QUERY__NODE__NODE_MERGE_STMT:
		classify_write(out, CLASSIFY_DML, "a write");
		return;
	case PG_QUERY__NODE__NODE_DECLARE_CURSOR_STMT:
	case PG_QUERY__NODE__NODE_FETCH_STMT:
	case PG_QUERY__NODE__NODE_CLOSE_PORTAL_STMT:
		classify_write(out, 0, "cursors live on the primary");
		return;
	case PG_QUERY__NODE__NODE_LISTEN_STMT:
	case PG_QUERY__NODE__NODE_UNLISTEN_STMT:
	case PG_QUERY__NODE__NODE_NOTIFY_STMT:
		classify_write(out, 0, "LISTEN, UNLISTEN and NOTIFY");
		return;
	default:
		classify_write(out, 0, out->stat == CLASSIFY_STAT_DDL ? "DDL" : "not a read");
		return;
	}
}

/* the text before the parser: leading comments, and pgpool's first-character test of a SELECT */
static const char *classify_text(const char *sql, struct classify *out)
{
	while (isspace((unsigned char)*sql))
		sql++;
	if (!strncmp(sql, "/*", 2) || !strncmp(sql, "--", 2))
		out->flags |= CLASSIFY_COMMENT;
	if (!strncasecmp(sql, CLASSIFY_NO_LB_COMMENT, strlen(CLASSIFY_NO_LB_COMMENT)))
		out->flags |= CLASSIFY_NO_LB;
	return sql;
}

/*
 * pgpool's is_select_query() takes a SELECT for a read only when its text
 * starts with s, (, w, t (TABLE), or is empty, unless allow_sql_comments:
 * a SELECT behind a comment, or VALUES, goes to the primary.
 */
bool classify_select_text_ok(const char *sql)
{
	while (isspace((unsigned char)*sql))
		sql++;
	return strchr("sS(wWtT;", *sql) != NULL;	/* strchr finds the NUL too */
}

int classify_sql(const char *sql, struct classify *out)
{
	PgQueryProtobufParseResult r;
	PgQuery__ParseResult *tree = NULL;
	struct classify_walk w = { .out = out };
	int ret = 0;

	memset(out, 0, sizeof(*out));
	out->stat = CLASSIFY_STAT_OTHER;
	classify_text(sql, out);
	r = pg_query_parse_protobuf(sql);
	if (r.error) {
		classify_write(out, CLASSIFY_UNPARSED, "the parser rejected it");
		goto cleanup;
	}
	tree = pg_query__parse_result__unpack(NULL, r.parse_tree.len, (const uint8_t *)r.parse_tree.data);
	if (!tree) {
		ret = -ENOMEM;
		goto cleanup;
	}
	if (tree->n_stmts == 0 || !tree->stmts[0]->stmt) {
		/* an empty query: pgpool sends a dummy SELECT; nothing runs anywhere */
		out->dest = CLASSIFY_EITHER;
		out->stat = CLASSIFY_STAT_SELECT;
		goto cleanup;
	}
	for (size_t i = 0; i < tree->n_stmts; i++)
		if (tree->stmts[i]->stmt)
			classify_walk_msg(&w, &tree->stmts[i]->stmt->base, 0);
	classify_stmt(tree->stmts[0]->stmt, out, w.locks_or_into);
	if (tree->n_stmts > 1) {
		classify_write(out, CLASSIFY_MULTI, "a query of several statements");
	}
	if (out->flags & CLASSIFY_TOO_DEEP) {
		classify_write(out, 0, "nested too deep to check");
	}
	if (w.oom) {
		ret = -ENOMEM;
		goto cleanup;
	}
	if (w.rels.count > UINT16_MAX || w.funcs.count > UINT16_MAX) {
		/* not worth checking one by one */
		classify_write(out, CLASSIFY_TOO_DEEP, "too many relations or functions to check");
		goto cleanup;
	}
	/* relations, then functions, in one block of the size they take: a cache counts what it keeps */
	if (w.rels.len + w.funcs.len) {
		out->names = malloc(w.rels.len + w.funcs.len);
		if (!out->names) {
			ret = -ENOMEM;
			goto cleanup;
		}
		if (w.rels.len)
			memcpy(out->names, w.rels.data, w.rels.len);
		if (w.funcs.len)
			memcpy(out->names + w.rels.len, w.funcs.data, w.funcs.len);
		out->names_len = w.rels.len + w.funcs.len;
		out->nrels = w.rels.count;
		out->nfuncs = w.funcs.count;
	}
cleanup:
	free(w.rels.data);
	free(w.funcs.data);
	if (tree)
		pg_query__parse_result__free_unpacked(tree, NULL);
	pg_query_free_protobuf_parse_result(r);
	if (ret)
		classify_free(out);
	return ret;
}
