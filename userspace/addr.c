/* addr.c: parsing, resolving and printing of pgxr_addr */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "pgxr_xdp.h"

int addr_parse(const char *text, struct pgxr_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, text, &out->a[0]) == 1) {
		out->family = PGXR_FAMILY_V4;
		return 0;
	}
	if (inet_pton(AF_INET6, text, out->a) == 1) {
		out->family = PGXR_FAMILY_V6;
		return 0;
	}
	return -EINVAL;
}

/* numeric addresses first, then the resolver; the first answer wins */
int addr_resolve(const char *host, struct pgxr_addr *out)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
	struct addrinfo *res;
	int ret;

	if (addr_parse(host, out) == 0)
		return 0;
	ret = getaddrinfo(host, NULL, &hints, &res);
	if (ret)
		return ret == EAI_NONAME || ret == EAI_NODATA ? -ENOENT : -EIO;
	memset(out, 0, sizeof(*out));
	if (res->ai_family == AF_INET) {
		out->family = PGXR_FAMILY_V4;
		out->a[0] = ((struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr;
	} else {
		out->family = PGXR_FAMILY_V6;
		memcpy(out->a, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, 16);
	}
	freeaddrinfo(res);
	return 0;
}

const char *addr_format_raw(__u8 family, const __be32 a[4], char *buf, size_t len)
{
	if (!inet_ntop(family == PGXR_FAMILY_V6 ? AF_INET6 : AF_INET, a, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

const char *addr_format(const struct pgxr_addr *a, char *buf, size_t len)
{
	return addr_format_raw(a->family, a->a, buf, len);
}

bool addr_equal(const struct pgxr_addr *x, const struct pgxr_addr *y)
{
	return x->family == y->family && !memcmp(x->a, y->a, sizeof(x->a));
}

int addr_to_sockaddr(const struct pgxr_addr *a, int port, void *ss, unsigned *len)
{
	if (a->family == PGXR_FAMILY_V4) {
		struct sockaddr_in *sin = ss;

		memset(sin, 0, sizeof(*sin));
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr.s_addr = a->a[0];
		*len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = ss;

		memset(sin6, 0, sizeof(*sin6));
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, a->a, 16);
		*len = sizeof(*sin6);
	}
	return a->family == PGXR_FAMILY_V4 ? AF_INET : AF_INET6;
}
