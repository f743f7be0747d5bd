/* splitlist.c: pgpool's regular expression lists of the read/write split, compiled once */
#include <ctype.h>
#include <limits.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "splitlist.h"

#define SPLITLIST_SRC 1024
#define SPLITLIST_NAME 64	/* PostgreSQL's NAMEDATALEN */

/* an item of a redirect preference list: "regex:node(ratio)" */
struct splitlist_redirect {
	regex_t re;
	int node;		/* a node id, SPLITLIST_STANDBY or SPLITLIST_PRIMARY */
	double ratio;		/* the share of the reads that node takes, 0 to 1 */
};

/*
 * An item of dml_adaptive_object_relationship_list, "object:dependent": a
 * write to the object (a table, or a function when fn) writes the
 * dependent table too.  Names without their schema, lowercased.
 */
struct splitlist_relation {
	char obj[SPLITLIST_NAME], dep[SPLITLIST_NAME];
	bool fn;
};

/*
 * One configuration's lists, compiled; never changed once published.
 * The function list is write_function_list or read_only_function_list
 * (one of them may be set, as in pgpool), each item anchored at both
 * ends and case-insensitive, as are the redirect lists' names.
 */
struct splitlist {
	struct splitlist *older;	/* replaced ones: a worker may still be reading one */
	char src[6][SPLITLIST_SRC];	/* what they were made from */
	regex_t *fn, *query;
	int nfn, nquery;
	bool fn_writes;		/* a match is a write (write_function_list), else a read */
	/* app_name_redirect_preference_list, database_redirect_preference_list */
	struct splitlist_redirect *app, *db;
	int napp, ndb;
	struct splitlist_relation *rel;	/* dml_adaptive_object_relationship_list */
	int nrel;
};

/* the lists in force, published by the main loop, read by the proxy's workers */
static _Atomic(struct splitlist *) splitlist_now;

/* a..b without the blanks around it */
static void splitlist_trim(const char **a, const char **b)
{
	while (*a < *b && isspace((unsigned char)**a))
		(*a)++;
	while (*b > *a && isspace((unsigned char)(*b)[-1]))
		(*b)--;
}

/* the next item of a list at *p, split at sep, blanks around it dropped: [*a, *b); false: no more */
static bool splitlist_item(const char **p, char sep, const char **a, const char **b)
{
	while (**p) {
		const char *end = strchr(*p, sep);

		if (!end)
			end = *p + strlen(*p);
		*a = *p;
		*b = end;
		*p = *end ? end + 1 : end;
		splitlist_trim(a, b);
		if (*a != *b)
			return true;
	}
	return false;
}

/* compiles list (items split at sep, blanks around them dropped); 0, or -1 with err said */
static int splitlist_compile(const char *list, char sep, regex_t **out, int *n, char *err,
			     size_t errlen)
{
	const char *p = list, *a, *b;

	*out = NULL;
	*n = 0;
	while (splitlist_item(&p, sep, &a, &b)) {
		char pat[SPLITLIST_SRC + 8];
		regex_t *grown;
		int rc;

		/* pgpool anchors each item: a name matches whole, not a part of it */
		snprintf(pat, sizeof(pat), "^(%.*s)$", (int)(b - a), a);
		grown = realloc(*out, (*n + 1) * sizeof(**out));
		if (!grown) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		*out = grown;
		rc = regcomp(&(*out)[*n], pat, REG_EXTENDED | REG_ICASE | REG_NOSUB);
		if (rc) {
			char why[128];

			regerror(rc, &(*out)[*n], why, sizeof(why));
			snprintf(err, errlen, "\"%.*s\" is not a regular expression: %s", (int)(b - a), a, why);
			goto fail;
		}
		(*n)++;
	}
	return 0;
fail:
	for (int i = 0; i < *n; i++)
		regfree(&(*out)[i]);
	free(*out);
	*out = NULL;
	*n = 0;
	return -1;
}

/*
 * A redirect preference list, pgpool's "name-regex:node(ratio)" items
 * split at commas, node primary, standby or a node id below max_node,
 * ratio between 0 and 1 (1 when left out); 0, or -1 with err said.
 * out NULL: only checked.
 */
static int splitlist_redirect_compile(const char *list, int max_node, struct splitlist_redirect **out,
				      int *n, char *err, size_t errlen)
{
	struct splitlist_redirect *items = NULL;
	const char *p = list, *a, *b;
	int count = 0;

	while (splitlist_item(&p, ',', &a, &b)) {
		const char *colon, *spec;
		char pat[SPLITLIST_SRC + 8], node[32], *stop;
		struct splitlist_redirect it = { .ratio = 1.0 }, *grown;
		size_t nlen;
		int rc;

		colon = memchr(a, ':', b - a);
		if (!colon || colon == a) {
			snprintf(err, errlen, "\"%.*s\" is not name:node (a name's regular expression, a colon, then primary, standby or a node id)",
				 (int)(b - a), a);
			goto fail;
		}
		spec = colon + 1;
		nlen = strcspn(spec, "(");
		if (spec + nlen > b)
			nlen = b - spec;
		snprintf(node, sizeof(node), "%.*s", (int)(nlen < sizeof(node) ? nlen : sizeof(node) - 1), spec);
		if (nlen >= sizeof(node))
			node[0] = 'x';	/* too long to be a node: said so below */
		if (!strcasecmp(node, "primary")) {
			it.node = SPLITLIST_PRIMARY;
		} else if (!strcasecmp(node, "standby")) {
			it.node = SPLITLIST_STANDBY;
		} else {
			long id = strtol(node, &stop, 10);

			if (!*node || *stop || !isdigit((unsigned char)*node) || id >= max_node) {
				snprintf(err, errlen, "\"%.*s\": \"%.*s\" is not a node: expected primary, standby or a node id from 0 to %d",
					 (int)(b - a), a, (int)nlen, spec, max_node - 1);
				goto fail;
			}
			it.node = (int)id;
		}
		if (spec + nlen < b) {
			const char *r = spec + nlen + 1;

			it.ratio = strtod(r, &stop);
			if (stop == r || *stop != ')' || stop + 1 != b || !(it.ratio >= 0 && it.ratio <= 1)) {
				snprintf(err, errlen, "\"%.*s\": the ratio in parentheses must be a number from 0 to 1",
					 (int)(b - a), a);
				goto fail;
			}
		}
		snprintf(pat, sizeof(pat), "^(%.*s)$", (int)(colon - a), a);
		rc = regcomp(&it.re, pat, REG_EXTENDED | REG_ICASE | REG_NOSUB);
		if (rc) {
			char why[128];

			regerror(rc, &it.re, why, sizeof(why));
			snprintf(err, errlen, "\"%.*s\" is not a regular expression: %s", (int)(colon - a), a, why);
			goto fail;
		}
		if (!out) {
			regfree(&it.re);
			continue;
		}
		grown = realloc(items, (count + 1) * sizeof(*items));
		if (!grown) {
			regfree(&it.re);
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		items = grown;
		items[count++] = it;
	}
	if (out) {
		*out = items;
		*n = count;
	}
	return 0;
fail:
	for (int i = 0; i < count; i++)
		regfree(&items[i].re);
	free(items);
	return -1;
}

/*
 * One side of a relationship, a..b: the name without its schema (after
 * the last dot) and its double quotes, lowercased, into out; fn says
 * whether it ends with "()".  0, or -1 when it is not a name that fits.
 */
static int splitlist_relation_name(const char *a, const char *b, char *out, bool *fn)
{
	const char *dot;
	size_t n;

	splitlist_trim(&a, &b);
	*fn = b - a > 2 && b[-2] == '(' && b[-1] == ')';
	if (*fn)
		b -= 2;
	splitlist_trim(&a, &b);
	dot = memrchr(a, '.', b - a);
	if (dot)
		a = dot + 1;
	if (b - a >= 2 && *a == '"' && b[-1] == '"')
		a++, b--;
	n = b - a;
	if (!n || n >= SPLITLIST_NAME || memchr(a, '(', n) || memchr(a, ')', n))
		return -1;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)a[i]);
	out[n] = '\0';
	return 0;
}

/*
 * dml_adaptive_object_relationship_list, pgpool's "table_1:table_2,
 * function_1():table_3": items split at commas, an object (a table, or a
 * function with "()") and the table a write to it writes too; 0, or -1
 * with err said.  out NULL: only checked.
 */
static int splitlist_relations_compile(const char *list, struct splitlist_relation **out, int *n,
				       char *err, size_t errlen)
{
	struct splitlist_relation *items = NULL, it, *grown;
	const char *p = list, *a, *b;
	int count = 0;

	while (splitlist_item(&p, ',', &a, &b)) {
		const char *colon;
		bool dep_fn;

		colon = memchr(a, ':', b - a);
		if (!colon || splitlist_relation_name(a, colon, it.obj, &it.fn) ||
		    splitlist_relation_name(colon + 1, b, it.dep, &dep_fn) || dep_fn) {
			snprintf(err, errlen, "\"%.*s\" is not object:table (a table or a function with \"()\", a colon, then the table a write to it writes too, each name shorter than %d)",
				 (int)(b - a), a, SPLITLIST_NAME);
			free(items);
			return -1;
		}
		if (!out)
			continue;
		grown = realloc(items, (count + 1) * sizeof(*items));
		if (!grown) {
			snprintf(err, errlen, "out of memory");
			free(items);
			return -1;
		}
		items = grown;
		items[count++] = it;
	}
	if (out) {
		*out = items;
		*n = count;
	}
	return 0;
}

/* the configuration's check of dml_adaptive_object_relationship_list: 0, or -1 with err said */
int splitlist_relations_check(const char *list, char *err, size_t errlen)
{
	return splitlist_relations_compile(list, NULL, NULL, err, errlen);
}

/* the configuration's check of a redirect preference list: 0, or -1 with err said */
int splitlist_redirect_check(const char *list, int max_node, char *err, size_t errlen)
{
	return splitlist_redirect_compile(list, max_node, NULL, NULL, err, errlen);
}

/* the configuration's check of a list: 0, or -1 with err said */
int splitlist_check(const char *list, char sep, char *err, size_t errlen)
{
	regex_t *re;
	int n;

	if (splitlist_compile(list, sep, &re, &n, err, errlen))
		return -1;
	for (int i = 0; i < n; i++)
		regfree(&re[i]);
	free(re);
	return 0;
}

static void splitlist_release(struct splitlist *l)
{
	for (int i = 0; i < l->nfn; i++)
		regfree(&l->fn[i]);
	for (int i = 0; i < l->nquery; i++)
		regfree(&l->query[i]);
	for (int i = 0; i < l->napp; i++)
		regfree(&l->app[i].re);
	for (int i = 0; i < l->ndb; i++)
		regfree(&l->db[i].re);
	free(l->fn);
	free(l->query);
	free(l->app);
	free(l->db);
	free(l->rel);
	free(l);
}

/*
 * Main loop: the lists of the configuration in force, compiled again
 * when one changed (a reload).  The configuration checked them already;
 * one that still fails keeps the lists as they were.
 */
void splitlist_update(const char *write_functions, const char *read_only_functions,
		      const char *primary_queries, const char *app_redirects, const char *db_redirects,
		      const char *relations)
{
	struct splitlist *cur = atomic_load(&splitlist_now), *l;
	const char *fns = *write_functions ? write_functions : read_only_functions;
	char err[256];

	if (cur && !strcmp(cur->src[0], write_functions) && !strcmp(cur->src[1], read_only_functions) &&
	    !strcmp(cur->src[2], primary_queries) && !strcmp(cur->src[3], app_redirects) &&
	    !strcmp(cur->src[4], db_redirects) && !strcmp(cur->src[5], relations))
		return;
	if (!cur && !*write_functions && !*read_only_functions && !*primary_queries && !*app_redirects &&
	    !*db_redirects && !*relations)
		return;
	l = calloc(1, sizeof(*l));
	if (!l) {
		log_error("could not compile the split's lists: out of memory");
		return;
	}
	snprintf(l->src[0], SPLITLIST_SRC, "%s", write_functions);
	snprintf(l->src[1], SPLITLIST_SRC, "%s", read_only_functions);
	snprintf(l->src[2], SPLITLIST_SRC, "%s", primary_queries);
	snprintf(l->src[3], SPLITLIST_SRC, "%s", app_redirects);
	snprintf(l->src[4], SPLITLIST_SRC, "%s", db_redirects);
	snprintf(l->src[5], SPLITLIST_SRC, "%s", relations);
	l->fn_writes = *write_functions != '\0';
	if (splitlist_compile(fns, ',', &l->fn, &l->nfn, err, sizeof(err)) ||
	    splitlist_compile(primary_queries, ';', &l->query, &l->nquery, err, sizeof(err)) ||
	    splitlist_redirect_compile(app_redirects, INT_MAX, &l->app, &l->napp, err, sizeof(err)) ||
	    splitlist_redirect_compile(db_redirects, INT_MAX, &l->db, &l->ndb, err, sizeof(err)) ||
	    splitlist_relations_compile(relations, &l->rel, &l->nrel, err, sizeof(err))) {
		log_error("could not compile the split's lists: %s", err);
		splitlist_release(l);
		return;
	}
	l->older = cur;
	atomic_store(&splitlist_now, l);
}

/*
 * Whether a function a read calls may write, by the lists: 1 yes, 0 no,
 * -1 when neither function list is set (pg_proc says).  A qualified name
 * is matched as schema.name, as pgpool writes it.
 */
int splitlist_function(const char *schema, const char *name)
{
	const struct splitlist *l = atomic_load_explicit(&splitlist_now, memory_order_acquire);
	char full[512];

	if (!l || !l->nfn)
		return -1;
	snprintf(full, sizeof(full), "%s%s%s", schema, *schema ? "." : "", name);
	for (int i = 0; i < l->nfn; i++)
		if (!regexec(&l->fn[i], full, 0, NULL, 0))
			return l->fn_writes;
	return !l->fn_writes;
}

/* a query primary_routing_query_pattern_list sends to the primary */
bool splitlist_primary_query(const char *sql)
{
	const struct splitlist *l = atomic_load_explicit(&splitlist_now, memory_order_acquire);

	if (!l)
		return false;
	for (int i = 0; i < l->nquery; i++)
		if (!regexec(&l->query[i], sql, 0, NULL, 0))
			return true;
	return false;
}

/*
 * The read node a session prefers, by pgpool's redirect lists: the first
 * item of app_name_redirect_preference_list whose name matches the
 * application name of the startup packet, else the first of
 * database_redirect_preference_list matching the database; false: none
 */
bool splitlist_redirect(const char *app, const char *database, int *node, double *ratio)
{
	const struct splitlist *l = atomic_load_explicit(&splitlist_now, memory_order_acquire);

	if (!l)
		return false;
	for (int i = 0; app && *app && i < l->napp; i++)
		if (!regexec(&l->app[i].re, app, 0, NULL, 0)) {
			*node = l->app[i].node;
			*ratio = l->app[i].ratio;
			return true;
		}
	for (int i = 0; database && i < l->ndb; i++)
		if (!regexec(&l->db[i].re, database, 0, NULL, 0)) {
			*node = l->db[i].node;
			*ratio = l->db[i].ratio;
			return true;
		}
	return false;
}

/*
 * dml_adaptive: the tables a write to name (a table, or a function when
 * fn; its schema left out) writes too, by the relationship list; *pos
 * starts at 0, NULL when there are no more.  The name is the list's,
 * which lives as long as the process.
 */
const char *splitlist_related(const char *name, bool fn, int *pos)
{
	const struct splitlist *l = atomic_load_explicit(&splitlist_now, memory_order_acquire);

	while (l && *pos < l->nrel) {
		const struct splitlist_relation *r = &l->rel[(*pos)++];

		if (r->fn == fn && !strcasecmp(r->obj, name))
			return r->dep;
	}
	return NULL;
}

/* at exit, once the workers are gone */
void splitlist_free(void)
{
	struct splitlist *l = atomic_exchange(&splitlist_now, NULL);

	while (l) {
		struct splitlist *older = l->older;

		splitlist_release(l);
		l = older;
	}
}
