/* util.c: helpers shared by the objects of pgxrctl: errors, arguments, formatting, tables */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pgxrctl.h"

/* errors go to stderr even in JSON mode: stdout then holds only valid JSON or nothing */
void p_err(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("Error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* for commands that take no arguments: 0, or -EINVAL after the usage */
int args_none(int argc, char **argv, void (*usage)(FILE *out))
{
	if (argc < 1)
		return 0;
	p_err("unexpected argument \"%s\"", argv[0]);
	usage(stderr);
	return -EINVAL;
}

/*
 * Decimal digits only: no sign, blanks or base prefix, which strtoul
 * would accept.  -ERANGE when the number does not fit, -EINVAL when it is
 * not a number.
 */
int parse_u32(const char *s, __u32 *out)
{
	unsigned long long v = 0;
	bool range = false;

	if (!*s)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		v = v * 10 + (*p - '0');
		if (v > UINT32_MAX) {
			range = true;
			v = 0;
		}
	}
	if (range)
		return -ERANGE;
	*out = v;
	return 0;
}

/* brackets around IPv6, as in URLs, so that the port stays readable */
const char *addr_port_format(__u8 family, const __be32 addr[4], __u16 port, char *buf,
			     size_t len)
{
	char a[ADDR_STRLEN];

	addr_format_raw(family, addr, a, sizeof(a));
	snprintf(buf, len, family == PGXR_FAMILY_V6 ? "[%s]:%u" : "%s:%u", a, port);
	return buf;
}

/* "-" while the MAC is not resolved (all zero) */
const char *mac_format(const __u8 mac[6], char *buf, size_t len)
{
	static const __u8 zero[6];

	if (!memcmp(mac, zero, sizeof(zero)))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
			 mac[3], mac[4], mac[5]);
	return buf;
}

/* bits without a name, from a newer pgxrd, are shown in hex rather than hidden */
static __u8 flags_unnamed(__u8 flags, const struct flag_name *names)
{
	for (int i = 0; names[i].name; i++)
		flags &= ~names[i].bit;
	return flags;
}

/* "a,b", or "-" when no bit is set */
const char *flags_format(__u8 flags, const struct flag_name *names, char *buf, size_t len)
{
	__u8 rest = flags_unnamed(flags, names);
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; names[i].name && n < len; i++)
		if (flags & names[i].bit)
			n += snprintf(buf + n, len - n, "%s%s", n ? "," : "", names[i].name);
	if (rest && n < len)
		n += snprintf(buf + n, len - n, "%s%#x", n ? "," : "", rest);
	if (!n)
		snprintf(buf, len, "-");
	return buf;
}

void flags_json(struct json *j, __u8 flags, const struct flag_name *names)
{
	__u8 rest = flags_unnamed(flags, names);
	char hex[8];

	json_array_begin(j);
	for (int i = 0; names[i].name; i++)
		if (flags & names[i].bit)
			json_string(j, names[i].name);
	if (rest) {
		snprintf(hex, sizeof(hex), "%#x", rest);
		json_string(j, hex);
	}
	json_array_end(j);
}

/* prints and frees t; a failure while filling it is reported here */
int table_show(struct table *t)
{
	int ret = table_print(t, stdout);

	if (ret)
		p_err("could not build the table: %s", strerror(-ret));
	return ret;
}
