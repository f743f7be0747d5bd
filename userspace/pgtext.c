/* pgtext.c: quoting for SQL and postgresql.conf, conninfo strings, passfiles, pgpool's placeholders */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "log.h"
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
 * The next "key = value" of a conninfo string at *sp, as libpq reads it:
 * the value bare or in single quotes, backslash escaping the next
 * character.  1 with a pair (*sp moves past it), 0 at the end, -EINVAL
 * when the text is not conninfo.
 */
static int pgtext_conninfo_next(const char **sp, char *key, size_t klen, char *val, size_t vlen)
{
	const char *s = *sp;
	size_t n = 0;

	while (isspace((unsigned char)*s))
		s++;
	if (!*s)
		return 0;
	while (*s && !isspace((unsigned char)*s) && *s != '=') {
		if (n + 1 >= klen)
			return -EINVAL;
		key[n++] = *s++;
	}
	key[n] = '\0';
	while (isspace((unsigned char)*s))
		s++;
	if (!n || *s++ != '=')
		return -EINVAL;
	while (isspace((unsigned char)*s))
		s++;
	n = 0;
	if (*s == '\'') {
		for (s++; *s != '\''; s++) {
			if (*s == '\\' && s[1])
				s++;
			if (!*s || n + 1 >= vlen)
				return -EINVAL;
			val[n++] = *s;
		}
		s++;
	} else {
		for (; *s && !isspace((unsigned char)*s); s++) {
			if (*s == '\\' && s[1])
				s++;
			if (n + 1 >= vlen)
				return -EINVAL;
			val[n++] = *s;
		}
	}
	val[n] = '\0';
	*sp = s;
	return 1;
}

/* %XX escapes of a URI component, n bytes of in; -EINVAL for a broken escape or a NUL */
static int pgtext_uri_decode(const char *in, size_t n, char *out, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)in[i];

		if (c == '%') {
			unsigned v;

			if (i + 2 >= n)
				return -EINVAL;
			if (!isxdigit((unsigned char)in[i + 1]) || !isxdigit((unsigned char)in[i + 2]) ||
			    sscanf(in + i + 1, "%2x", &v) != 1 || !v)
				return -EINVAL;
			c = v;
			i += 2;
		}
		if (o + 1 >= len)
			return -ENAMETOOLONG;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

/* appends key='value' for a URI component of n bytes, decoded; nothing when it is empty */
static int pgtext_uri_add(char *out, size_t len, size_t *o, const char *key, const char *v, size_t n)
{
	char val[PGTEXT_CONNINFO_VALUE];
	int ret;

	if (!n)
		return 0;
	ret = pgtext_uri_decode(v, n, val, sizeof(val));
	if (!ret)
		ret = pgtext_conninfo_add(out, len, o, key, val);
	explicit_bzero(val, sizeof(val));
	return ret;
}

/*
 * A postgresql:// (or postgres://) URI as a "key='value' ..." string, as
 * libpq reads one: user:password@hosts/dbname?key=value&...  Hosts and
 * ports stay lists ("h1,h2", "5432,5433").  -EINVAL when malformed.
 */
static int pgtext_uri_conninfo(const char *uri, char *out, size_t len)
{
	const char *p = strstr(uri, "://") + 3, *end, *at, *q;
	char hosts[PGTEXT_CONNINFO_VALUE] = "", ports[64] = "";
	size_t o = 0, hn = 0, pn = 0;
	int ret = 0, k = 0;

	out[0] = '\0';
	end = p + strcspn(p, "/?");
	/* the last '@' ends the user part: a password may hold one, escaped or not */
	for (at = NULL, q = p; q < end; q++)
		if (*q == '@')
			at = q;
	if (at) {
		const char *colon = memchr(p, ':', at - p);

		ret = pgtext_uri_add(out, len, &o, "user", p, (colon ? colon : at) - p);
		if (!ret && colon)
			ret = pgtext_uri_add(out, len, &o, "password", colon + 1, at - colon - 1);
		p = at + 1;
	}
	/* host[:port], comma-separated; an IPv6 address in brackets */
	while (!ret && p < end) {
		const char *h = p, *hend, *comma = memchr(p, ',', end - p), *stop = comma ? comma : end;

		if (*h == '[') {
			hend = memchr(h, ']', stop - h);
			if (!hend)
				return -EINVAL;
			h++;
			p = hend + 1;
		} else {
			hend = memchr(h, ':', stop - h);
			if (!hend)
				hend = stop;
			p = hend;
		}
		/* each decoded on its own: an escaped ',' stays in its host */
		if (k && (hn + 1 >= sizeof(hosts) || pn + 1 >= sizeof(ports)))
			return -ENAMETOOLONG;
		if (k)
			hosts[hn++] = ports[pn++] = ',';
		ret = pgtext_uri_decode(h, hend - h, hosts + hn, sizeof(hosts) - hn);
		hn += strlen(hosts + hn);
		if (*p == ':')
			p++;
		else if (p != stop)
			return -EINVAL;
		if (!ret)
			ret = pgtext_uri_decode(p, stop - p, ports + pn, sizeof(ports) - pn);
		pn += strlen(ports + pn);
		k++;
		p = comma ? comma + 1 : end;
	}
	if (!ret && strspn(hosts, ",") != strlen(hosts))
		ret = pgtext_conninfo_add(out, len, &o, "host", hosts);
	if (!ret && strspn(ports, ",") != strlen(ports))
		ret = pgtext_conninfo_add(out, len, &o, "port", ports);
	p = end;
	if (!ret && *p == '/') {
		p++;
		ret = pgtext_uri_add(out, len, &o, "dbname", p, strcspn(p, "?"));
		p += strcspn(p, "?");
	}
	if (!ret && *p == '?') {
		for (p++; !ret && *p;) {
			const char *amp = p + strcspn(p, "&"), *eq = memchr(p, '=', amp - p);
			char key[64];

			if (!eq || eq == p || (size_t)(eq - p) >= sizeof(key))
				return -EINVAL;
			ret = pgtext_uri_decode(p, eq - p, key, sizeof(key));
			/* libpq's one translation: ssl=true is sslmode=require */
			if (!ret && !strcmp(key, "ssl"))
				ret = amp - eq - 1 == 4 && !strncmp(eq + 1, "true", 4) ?
				      pgtext_conninfo_add(out, len, &o, "sslmode", "require") : -EINVAL;
			else if (!ret)
				ret = pgtext_uri_add(out, len, &o, key, eq + 1, amp - eq - 1);
			p = *amp ? amp + 1 : amp;
		}
	}
	return ret;
}

/* conninfo itself, or the key='value' form of a URI in buf */
static const char *pgtext_conninfo_text(const char *conninfo, char *buf, size_t len, int *ret)
{
	*ret = 0;
	if (strncmp(conninfo, "postgresql://", 13) && strncmp(conninfo, "postgres://", 11))
		return conninfo;
	*ret = pgtext_uri_conninfo(conninfo, buf, len);
	return *ret ? NULL : buf;
}

/*
 * The value of key in conninfo (the last one given, as libpq takes it);
 * -ENOENT when it is not there, -EINVAL when conninfo is not conninfo.
 */
int pgtext_conninfo_get(const char *conninfo, const char *key, char *out, size_t len)
{
	char k[64], val[PGTEXT_CONNINFO_VALUE], uri[2 * PGTEXT_CONNINFO_VALUE];
	int r, ret = -ENOENT;
	const char *s = pgtext_conninfo_text(conninfo, uri, sizeof(uri), &r);

	while (s && (r = pgtext_conninfo_next(&s, k, sizeof(k), val, sizeof(val))) > 0)
		if (!strcmp(k, key))
			ret = (size_t)snprintf(out, len, "%s", val) >= len ? -ENAMETOOLONG : 0;
	if (r < 0)
		ret = r;
	explicit_bzero(val, sizeof(val));
	explicit_bzero(uri, sizeof(uri));
	return ret;
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
	char key[64], val[PGTEXT_CONNINFO_VALUE], p[8], uri[2 * PGTEXT_CONNINFO_VALUE];
	const char *s;
	size_t n = 0;
	int r, ret;

	if (!len)
		return -ENAMETOOLONG;
	out[0] = '\0';
	s = pgtext_conninfo_text(old, uri, sizeof(uri), &ret);
	while (!ret && (r = pgtext_conninfo_next(&s, key, sizeof(key), val, sizeof(val)))) {
		bool skip = r < 0 || !strcmp(key, "host") || !strcmp(key, "hostaddr") ||
			    !strcmp(key, "port");

		for (int i = 0; drop && drop[i] && !skip; i++)
			skip = !strcmp(key, drop[i]);
		ret = r < 0 ? r : skip ? 0 : pgtext_conninfo_add(out, len, &n, key, val);
	}
	explicit_bzero(val, sizeof(val));
	explicit_bzero(uri, sizeof(uri));
	if (ret) {
		explicit_bzero(out, len);
		out[0] = '\0';
		return ret;
	}
	snprintf(p, sizeof(p), "%d", port);
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

/*
 * Whether the passfile field at *p matches want, as libpq reads it: a
 * bare '*' matches anything, a backslash makes the next character
 * literal (an escaped '*' too).  *p moves past the field's ':'; NULL
 * when the line ends first.
 */
static bool pgtext_passfile_match(const char **p, const char *want)
{
	const char *s = *p;
	bool same;

	if (s[0] == '*' && s[1] == ':') {
		*p = s + 2;
		return true;
	}
	for (same = true; *s && *s != ':'; s++) {
		if (*s == '\\' && s[1])
			s++;
		same = same && *want == *s;
		if (*want)
			want++;
	}
	*p = *s == ':' ? s + 1 : NULL;
	return same && !*want && *p;
}

/*
 * The password of the first line of the passfile at path that matches
 * host:port:database:user ('*' matches anything).  A file others may
 * read is ignored with a warning, as libpq does.  -ENOENT when no line
 * matches or the file is unusable.
 */
int pgtext_passfile_lookup(const char *path, const char *host, int port, const char *db,
			const char *user, char *out, size_t len)
{
	char line[4096], portstr[12];
	struct stat st;
	int ret = -ENOENT;
	FILE *f;

	if (stat(path, &st) || !S_ISREG(st.st_mode))
		return -ENOENT;
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		static bool warned;

		if (!warned)
			log_warning("password file \"%s\" has group or world access; permissions should be u=rw (0600) or less",
				    path);
		warned = true;
		return -ENOENT;
	}
	f = fopen(path, "re");
	if (!f)
		return -ENOENT;
	snprintf(portstr, sizeof(portstr), "%d", port);
	while (ret && fgets(line, sizeof(line), f)) {
		const char *p = line;
		size_t n = 0;

		if (!strchr(line, '\n') && !feof(f)) {
			/* longer than any entry libpq reads: skip all of it */
			while (fgets(line, sizeof(line), f) && !strchr(line, '\n'))
				;
			continue;
		}
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || !line[0])
			continue;
		if (!pgtext_passfile_match(&p, host) || !pgtext_passfile_match(&p, portstr) ||
		    !pgtext_passfile_match(&p, db) || !pgtext_passfile_match(&p, user))
			continue;
		/* the password: the rest, up to an unescaped ':', unescaped */
		for (; *p && *p != ':' && n + 1 < len; p++) {
			if (*p == '\\' && p[1])
				p++;
			out[n++] = *p;
		}
		out[n] = '\0';
		ret = *p && *p != ':' ? -ENAMETOOLONG : 0;
	}
	explicit_bzero(line, sizeof(line));
	fclose(f);
	return ret;
}
