/* addr.h: IPv4/IPv6 addresses in the layout of the map ABI */
#ifndef PGXR_ADDR_H
#define PGXR_ADDR_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

/* an address as the maps store it: family PGXR_FAMILY_V4 or _V6 */
struct pgxr_addr {
	__u8 family;
	__be32 a[4];
};

/* longest text addr_format() writes, with the NUL */
#define ADDR_STRLEN 46

int addr_parse(const char *text, struct pgxr_addr *out);
int addr_resolve(const char *host, struct pgxr_addr *out);
const char *addr_format(const struct pgxr_addr *a, char *buf, size_t len);
const char *addr_format_raw(__u8 family, const __be32 a[4], char *buf, size_t len);
bool addr_equal(const struct pgxr_addr *x, const struct pgxr_addr *y);
int addr_to_sockaddr(const struct pgxr_addr *a, int port, void *ss, unsigned *len);

#endif /* PGXR_ADDR_H */
