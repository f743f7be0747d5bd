/* pgtext.c: quoting for SQL and postgresql.conf, conninfo rewriting, pgpool's placeholders */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#include "pgtext.h"

/* 'text' with each quote doubled, and each backslash too when escape is set */
static int pgtext_quote(const char *s, bool escape, char *out, size_t len)
{
	size_t n = 0;

	if (len < 3)
		return -ENAMETOOLONG;
	out[n++] = '\'';
	for (; *s; s++) {
		if (n + 3 >= len)
			return -ENAMETOOLONG;
		if (*s == '\'' || (escape && *s == '\\'))
			out[n++] = *s;
		out[n++] = *s;
	}
	out[n++] = '\'';
	out[n] = '\0';
	return 0;
}

/* standard_conforming_strings: a backslash is just a backslash */
int pgtext_sql_literal(const char *s, char *out, size_t len)
{
	return pgtext_quote(s, false, out, len);
}

/* postgresql.conf reads backslash escapes inside quotes: \\ for a backslash */
int pgtext_conf_literal(const char *s, char *out, size_t len)
{
	return pgtext_quote(s, true, out, len);
}

/* appends key='value' to a conninfo string, with libpq's escapes for ' and \\ */
int pgtext_conninfo_add(char *out, size_t len, size_t *n, const char *key, const char *val)
{
	int w = snprintf(out + *n, len - *n, "%s%s='", *n ? " " : "", key);

	if (w < 0 || (size_t)w >= len - *n)
		return -ENAMETOOLONG;
	*n += w;
	for (; *val; val++) {
		if (*n + 3 >= len)
			return -ENAMETOOLONG;
		if (*val == '\'' || *val == '\\')
			out[(*n)++] = '\\';
		out[(*n)++] = *val;
	}
	if (*n + 2 >= len)
		return -ENAMETOOLONG;
	out[(*n)++] = '\'';
	out[*n] = '\0';
	return 0;
}

/*
 * old with host, hostaddr and port replaced and the keys in drop (NULL
 * or NULL-terminated) left out: user, password, sslmode... stay as they
 * were.  -EINVAL when old is not a conninfo string, -ENAMETOOLONG when
 * out is too small.
 */
int pgtext_conninfo_retarget(const char *old, const char *host, const char *hostaddr, int port,
			     const char *const *drop, char *out, size_t len)
{
	PQconninfoOption *opts;
	char *err = NULL, p[8];
	size_t n = 0;
	int ret = 0;

	if (!len)
		return -ENAMETOOLONG;
	out[0] = '\0';
	opts = PQconninfoParse(old, &err);
	if (!opts) {
		PQfreemem(err);
		return -EINVAL;
	}
	for (PQconninfoOption *o = opts; o->keyword && !ret; o++) {
		bool skip = !o->val || !strcmp(o->keyword, "host") ||
			    !strcmp(o->keyword, "hostaddr") || !strcmp(o->keyword, "port");

		for (int i = 0; drop && drop[i] && !skip; i++)
			skip = !strcmp(o->keyword, drop[i]);
		if (skip)
			continue;
		ret = pgtext_conninfo_add(out, len, &n, o->keyword, o->val);
	}
	PQconninfoFree(opts);
	snprintf(p, sizeof(p), "%d", port);
	if (!ret)
		ret = pgtext_conninfo_add(out, len, &n, "host", host);
	if (!ret && hostaddr)
		ret = pgtext_conninfo_add(out, len, &n, "hostaddr", hostaddr);
	if (!ret)
		ret = pgtext_conninfo_add(out, len, &n, "port", p);
	return ret;
}

/*
 * The value of the last "key = value" line of a postgresql.conf text, as
 * PostgreSQL reads it (quotes, '' and backslash escapes); "" when unset.
 */
void pgtext_conf_value(const char *text, const char *key, char *out, size_t len)
{
	size_t klen = strlen(key);

	out[0] = '\0';
	for (const char *line = text; line && *line;) {
		const char *end = strchr(line, '\n'), *p = line;
		size_t n = 0;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!strncasecmp(p, key, klen) && strchr(" \t=", p[klen])) {
			p += klen;
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p == '=')
				p++;
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p == '\'') {
				for (p++; *p && *p != '\n' && n + 1 < len; p++) {
					if (*p == '\'' && p[1] == '\'')
						p++;
					else if (*p == '\'')
						break;
					else if (*p == '\\' && p[1] && p[1] != '\n')
						p++;
					out[n++] = *p;
				}
			} else {
				while (*p && !strchr(" \t\n#", *p) && n + 1 < len)
					out[n++] = *p++;
			}
			out[n] = '\0';
		}
		line = end ? end + 1 : NULL;
	}
}

/*
 * pgpool's failover_command placeholders: %d %h %p %D of the failed node,
 * %m %H %r %R of the new main node, %M the old main node, %P %N %S the old
 * primary, %% a percent sign.  Others are kept as they are.
 */
static int pgtext_shell_quote(char *buf, size_t len);

int pgtext_expand(const char *tmpl, const struct pgtext_vars *v, char *out, size_t len)
{
	size_t n = 0;

	if (!len)
		return -ENAMETOOLONG;
	for (const char *p = tmpl; *p; p++) {
		const struct pgtext_node *x = NULL;
		char buf[4200];

		if (*p != '%' || !p[1]) {
			if (n + 1 >= len)
				return -ENAMETOOLONG;
			out[n++] = *p;
			continue;
		}
		p++;
		switch (*p) {
		case 'd': case 'h': case 'p': case 'D':
			x = &v->failed;
			break;
		case 'm': case 'H': case 'r': case 'R':
			x = &v->new_main;
			break;
		case 'M':
			x = &v->old_main;
			break;
		case 'P': case 'N': case 'S':
			x = &v->old_primary;
			break;
		}
		switch (*p) {
		case 'd': case 'm': case 'M': case 'P':
			snprintf(buf, sizeof(buf), "%d", x->id);
			break;
		case 'h': case 'H': case 'N':
			snprintf(buf, sizeof(buf), "%s", x->id >= 0 && x->host ? x->host : "");
			break;
		case 'p': case 'r': case 'S':
			snprintf(buf, sizeof(buf), "%d", x->id >= 0 ? x->port : 0);
			break;
		case 'D': case 'R':
			snprintf(buf, sizeof(buf), "%s", x->id >= 0 && x->data_dir ? x->data_dir : "");
			break;
		case '%':
			snprintf(buf, sizeof(buf), "%%");
			break;
		default:
			snprintf(buf, sizeof(buf), "%%%c", *p);
			break;
		}
		/* a value, not a placeholder kept as written, goes to the shell as one word */
		if (x && pgtext_shell_quote(buf, sizeof(buf)))
			return -ENAMETOOLONG;
		if (n + strlen(buf) >= len)
			return -ENAMETOOLONG;
		memcpy(out + n, buf, strlen(buf));
		n += strlen(buf);
	}
	out[n] = '\0';
	return 0;
}

/*
 * A placeholder's value reaches /bin/sh as one word: as it is when it is
 * a plain word (ids, ports, host names, most paths), else single-quoted.
 */
static int pgtext_shell_quote(char *buf, size_t len)
{
	char tmp[4200];
	size_t n = 0;
	bool plain = true;

	for (const char *p = buf; *p; p++)
		plain &= isalnum((unsigned char)*p) || strchr("._/:@+-=,", *p);
	if (plain)
		return 0;
	tmp[n++] = '\'';
	for (const char *p = buf; *p; p++) {
		if (n + 5 >= sizeof(tmp))
			return -ENAMETOOLONG;
		if (*p == '\'') {
			memcpy(tmp + n, "'\\''", 4);
			n += 4;
		} else {
			tmp[n++] = *p;
		}
	}
	tmp[n++] = '\'';
	tmp[n] = '\0';
	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(buf, tmp, n + 1);
	return 0;
}

/*
 * The placeholders' values as PGXR_* environment strings, for scripts
 * that would rather not parse arguments: env gets up to max pointers
 * into buf, NULL-terminated.  Returns how many, or -ENAMETOOLONG.
 */
int pgtext_env(const struct pgtext_vars *v, char *buf, size_t len, char **env, int max)
{
	static const struct {
		const char *prefix;
		size_t off;
	} nodes[] = {
		{ "FAILED", offsetof(struct pgtext_vars, failed) },
		{ "NEW_MAIN", offsetof(struct pgtext_vars, new_main) },
		{ "OLD_MAIN", offsetof(struct pgtext_vars, old_main) },
		{ "OLD_PRIMARY", offsetof(struct pgtext_vars, old_primary) },
	};
	size_t used = 0;
	int count = 0;

	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		const struct pgtext_node *x = (const void *)((const char *)v + nodes[i].off);
		const char *fmt[] = { "PGXR_%s_NODE_ID=%d", "PGXR_%s_HOST=%s", "PGXR_%s_PORT=%d",
				      "PGXR_%s_PGDATA=%s" };

		for (int f = 0; f < 4; f++) {
			int w;

			if (count + 1 >= max)
				return -ENAMETOOLONG;
			if (f == 0)
				w = snprintf(buf + used, len - used, fmt[f], nodes[i].prefix, x->id);
			else if (f == 2)
				w = snprintf(buf + used, len - used, fmt[f], nodes[i].prefix,
					     x->id >= 0 ? x->port : 0);
			else
				w = snprintf(buf + used, len - used, fmt[f], nodes[i].prefix,
					     x->id < 0 ? "" : f == 1 ? (x->host ? x->host : "") :
					     (x->data_dir ? x->data_dir : ""));
			if (w < 0 || used + w + 1 > len)
				return -ENAMETOOLONG;
			env[count++] = buf + used;
			used += w + 1;
		}
	}
	env[count] = NULL;
	return count;
}
