/* fuzz_proto.c: libFuzzer target: bytes from a client through pgxr's protocol parsers: startup packets, ParameterStatus, SHOW, SASL, Parse, SET and pin detection */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pgproto.h"
#include "txstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pgproto_startup st;
	struct pgproto_buf params = { 0 };
	struct tx_session tx = { 0 };
	uint8_t pkt[PGPROTO_MAX_STARTUP], *out;
	size_t out_len;
	char what[64], *sql;
	bool scram, plus;
	int len;

	if (size == 0)
		return 0;
	/* the first byte picks the parser, the rest is its input */
	switch (data[0] % 5) {
	case 0:
		if (pgproto_startup_parse(data + 1, size - 1, &st) == 0 && st.code == PGPROTO_V3) {
			(void)pgproto_startup_param(&st, "user");
			len = pgproto_startup_build(&st, PGPROTO_V3, pkt, sizeof(pkt));
			/*
			 * What pgxr builds from a packet it accepted parses again,
			 * the same but for the protocol options ("_pq_."), which
			 * it declines.
			 */
			if (len > 0) {
				struct pgproto_startup again;
				int j = 0;

				if (pgproto_startup_parse(pkt, (size_t)len, &again))
					abort();
				for (int i = 0; i < st.nparams; i++) {
					if (!strncmp(st.name[i], "_pq_.", 5))
						continue;
					if (j == again.nparams || strcmp(st.name[i], again.name[j]) ||
					    strcmp(st.value[i], again.value[j]))
						abort();
					j++;
				}
				if (j != again.nparams)
					abort();
			}
		}
		break;
	case 1:
		/* two messages: the second may replace the first */
		if (pgproto_params_set(&params, data + 1, size - 1) == 0)
			(void)pgproto_params_set(&params, data + 1, size - 1);
		pgproto_buf_free(&params);
		break;
	case 2:
		(void)pgproto_show(data + 1, size - 1, what, sizeof(what));
		pgproto_sasl_mechs(data + 1, size - 1, &scram, &plus);
		break;
	case 3:
		if (tx_parse(&tx, data + 1, size - 1, &out, &out_len) == 1 && (!out || !out_len))
			abort();
		tx_session_free(&tx);
		break;
	case 4:
		sql = malloc(size);
		if (!sql)
			return 0;
		memcpy(sql, data + 1, size - 1);
		sql[size - 1] = '\0';
		(void)tx_pin_reason(sql);
		(void)tx_discards(sql);
		out = NULL;
		if (tx_set_track(&tx, sql) >= 0 && tx_set_replay(&tx, &out, &out_len) >= 0)
			free(out);
		tx_session_free(&tx);
		free(sql);
		break;
	}
	return 0;
}
