/* test_pgproto.c: the startup packet, the messages the proxy writes, pgpool's SHOW commands */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgproto.h"
#include "tap.h"

/* a startup packet of version and NUL-separated name/value pairs (pairs ends with "\0") */
static size_t startup(uint8_t *out, uint32_t version, const char *pairs, size_t pairs_len)
{
	pgproto_put32(out + 4, version);
	memcpy(out + 8, pairs, pairs_len);
	pgproto_put32(out, 8 + pairs_len);
	return 8 + pairs_len;
}

static int t_startup_parse(void)
{
	static const char pairs[] = "user\0alice\0database\0db\0_pq_.opt\0x\0";
	struct pgproto_startup st;
	uint8_t pkt[256];
	size_t n = startup(pkt, PGPROTO_V3, pairs, sizeof(pairs));

	CHECK(pgproto_startup_parse(pkt, n, &st) == 0, "valid packet refused");
	CHECK(st.code == PGPROTO_V3 && st.nparams == 3, "code %x, %d params", st.code, st.nparams);
	CHECK(!strcmp(pgproto_startup_param(&st, "user"), "alice") &&
	      !strcmp(pgproto_startup_param(&st, "database"), "db"), "params wrong");
	CHECK(pgproto_startup_param(&st, "options") == NULL, "absent param found");
	/* the last NUL missing, a length word that lies, a cut value */
	CHECK(pgproto_startup_parse(pkt, n - 1, &st) == -EINVAL, "short packet taken");
	pgproto_put32(pkt, n + 1);
	CHECK(pgproto_startup_parse(pkt, n, &st) == -EINVAL, "wrong length word taken");
	n = startup(pkt, PGPROTO_V3, "user\0alice", 10);
	CHECK(pgproto_startup_parse(pkt, n, &st) == -EINVAL, "unterminated list taken");
	n = startup(pkt, PGPROTO_V3, "user\0\0", 6);
	CHECK(pgproto_startup_parse(pkt, n, &st) == -EINVAL, "name without value taken");
	n = startup(pkt, 0x00020000, "\0", 1);
	CHECK(pgproto_startup_parse(pkt, n, &st) == -EINVAL, "protocol 2 taken");
	return 0;
}

static int t_startup_codes(void)
{
	struct pgproto_startup st;
	uint8_t pkt[16];

	pgproto_put32(pkt, 8);
	pgproto_put32(pkt + 4, PGPROTO_SSL);
	CHECK(!pgproto_startup_parse(pkt, 8, &st) && st.code == PGPROTO_SSL, "SSLRequest");
	pgproto_put32(pkt + 4, PGPROTO_GSSENC);
	CHECK(!pgproto_startup_parse(pkt, 8, &st) && st.code == PGPROTO_GSSENC, "GSSENCRequest");
	pgproto_put32(pkt, 16);
	pgproto_put32(pkt + 4, PGPROTO_CANCEL);
	pgproto_put32(pkt + 8, 4242);
	pgproto_put32(pkt + 12, 0xdeadbeef);
	CHECK(!pgproto_startup_parse(pkt, 16, &st) && st.cancel_pid == 4242 &&
	      st.cancel_key == 0xdeadbeef, "CancelRequest");
	pgproto_put32(pkt, 12);
	CHECK(pgproto_startup_parse(pkt, 12, &st) == -EINVAL, "short CancelRequest taken");
	return 0;
}

static int t_startup_many(void)
{
	static char pairs[PGPROTO_MAX_STARTUP];
	static uint8_t pkt[PGPROTO_MAX_STARTUP + 16];
	struct pgproto_startup st;
	size_t len = 0;

	for (int i = 0; i <= PGPROTO_MAX_PARAMS; i++) {
		len += sprintf(pairs + len, "p%d", i) + 1;
		len += sprintf(pairs + len, "v") + 1;
	}
	pairs[len++] = '\0';
	startup(pkt, PGPROTO_V3, pairs, len);
	CHECK(pgproto_startup_parse(pkt, len + 8, &st) == -EINVAL,
	      "%d parameters taken", PGPROTO_MAX_PARAMS + 1);
	return 0;
}

static int t_startup_build(void)
{
	static const char pairs[] = "user\0alice\0_pq_.opt\0x\0application_name\0app\0";
	struct pgproto_startup st;
	uint8_t pkt[256], out[256];
	size_t n = startup(pkt, 0x00030002, pairs, sizeof(pairs));
	static const char want[] = "user\0alice\0application_name\0app\0";
	int len;

	CHECK(!pgproto_startup_parse(pkt, n, &st), "parse");
	len = pgproto_startup_build(&st, PGPROTO_V3, out, sizeof(out));
	CHECK(len == (int)(8 + sizeof(want)), "length %d", len);
	CHECK(pgproto_get32(out) == (uint32_t)len && pgproto_get32(out + 4) == PGPROTO_V3,
	      "header");
	CHECK(!memcmp(out + 8, want, sizeof(want)), "the _pq_ option must go, the rest stay");
	CHECK(pgproto_startup_build(&st, PGPROTO_V3, out, 20) == -ENOSPC, "overflow not reported");
	return 0;
}

static int t_messages(void)
{
	static const uint8_t ready[] = { 'Z', 0, 0, 0, 5, 'T' };
	static const uint8_t complete[] = { 'C', 0, 0, 0, 9, 'S', 'H', 'O', 'W', 0 };
	static const uint8_t row[] = { 'D', 0, 0, 0, 17, 0, 2, 0, 0, 0, 3, 'a', 'b', 'c',
				       0xff, 0xff, 0xff, 0xff };
	static const uint8_t negotiate[] = { 'v', 0, 0, 0, 19, 0, 3, 0, 0, 0, 0, 0, 1,
					     '_', 'p', 'q', '_', '.', 'x', 0 };
	const char *values[] = { "abc", NULL };
	const char *opts[] = { "_pq_.x" };
	struct pgproto_buf b = {};

	pgproto_ready(&b, 'T');
	CHECK(b.len == sizeof(ready) && !memcmp(b.data, ready, b.len), "ReadyForQuery");
	b.len = 0;
	pgproto_command_complete(&b, "SHOW");
	CHECK(b.len == sizeof(complete) && !memcmp(b.data, complete, b.len), "CommandComplete");
	b.len = 0;
	pgproto_data_row(&b, values, 2);
	CHECK(b.len == sizeof(row) && !memcmp(b.data, row, b.len), "DataRow with a NULL");
	b.len = 0;
	pgproto_negotiate(&b, PGPROTO_V3, opts, 1);
	CHECK(b.len == sizeof(negotiate) && !memcmp(b.data, negotiate, b.len),
	      "NegotiateProtocolVersion");
	pgproto_buf_free(&b);
	return 0;
}

static int t_error(void)
{
	static const char body[] = "SFATAL\0VFATAL\0C53300\0Msorry, too many clients already\0";
	struct pgproto_buf b = {};

	pgproto_error(&b, "FATAL", "53300", "sorry, too many %s already", "clients");
	CHECK(b.len == 5 + sizeof(body) && b.data[0] == 'E', "length %u", b.len);
	CHECK(pgproto_get32(b.data + 1) == 4 + sizeof(body), "length word");
	CHECK(!memcmp(b.data + 5, body, sizeof(body)), "fields");
	pgproto_buf_free(&b);
	return 0;
}

static int t_row_description(void)
{
	const char *names[] = { "node_id", "hostname" };
	struct pgproto_buf b = {};
	const uint8_t *f;

	pgproto_row_description(&b, names, 2);
	CHECK(b.data[0] == 'T' && pgproto_get32(b.data + 1) == b.len - 1, "header");
	CHECK(b.data[5] == 0 && b.data[6] == 2, "column count");
	f = b.data + 7 + strlen("node_id") + 1;
	CHECK(!strcmp((const char *)b.data + 7, "node_id"), "first name");
	CHECK(pgproto_get32(f + 6) == 25, "type text, got %u", pgproto_get32(f + 6));
	CHECK(!strcmp((const char *)f + 18, "hostname"), "second name");
	CHECK(b.len == 7 + 2 * 18 + strlen("node_id") + 1 + strlen("hostname") + 1, "length %u",
	      b.len);
	pgproto_buf_free(&b);
	return 0;
}

static int t_show(void)
{
	static const struct {
		const char *q;
		const char *what;	/* NULL: not a SHOW pool_* */
	} cases[] = {
		{ "SHOW pool_nodes", "pool_nodes" },
		{ "  show   POOL_Nodes ;  ", "pool_nodes" },
		{ "show\tpool_version;", "pool_version" },
		{ "SHOW pool_nodes; SELECT 1", NULL },
		{ "SHOW pool_", NULL },
		{ "SHOW search_path", NULL },
		{ "SHOWpool_nodes", NULL },
		{ "SELECT 'SHOW pool_nodes'", NULL },
		{ "SHOW pool-nodes", NULL },
		{ "", NULL },
	};
	char what[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = pgproto_show((const uint8_t *)cases[i].q, strlen(cases[i].q) + 1, what,
				       sizeof(what));

		CHECK(got == (cases[i].what != NULL), "\"%s\": %d", cases[i].q, got);
		CHECK(!got || !strcmp(what, cases[i].what), "\"%s\": %s", cases[i].q, what);
	}
	/* a query without its NUL is not looked into */
	CHECK(!pgproto_show((const uint8_t *)"SHOW pool_nodes", 15, what, sizeof(what)),
	      "unterminated query taken");
	CHECK(!pgproto_show((const uint8_t *)"SHOW pool_nodes", 16, what, 8), "overflow taken");
	return 0;
}

int main(void)
{
	tap_run("pgproto: a StartupMessage's parameters; malformed packets refused", t_startup_parse);
	tap_run("pgproto: SSLRequest, GSSENCRequest and CancelRequest", t_startup_codes);
	tap_run("pgproto: more parameters than pgxr keeps are refused", t_startup_many);
	tap_run("pgproto: the backend's startup packet: version 3.0, no _pq_ options", t_startup_build);
	tap_run("pgproto: ReadyForQuery, CommandComplete, DataRow, NegotiateProtocolVersion bytes", t_messages);
	tap_run("pgproto: ErrorResponse fields", t_error);
	tap_run("pgproto: RowDescription of text columns", t_row_description);
	tap_run("pgproto: which queries are pgpool's SHOW commands", t_show);
	return tap_done();
}
