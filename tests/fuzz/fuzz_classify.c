/* fuzz_classify.c: libFuzzer target: any text through the classifier and its cache, which must not crash or leak */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "qcache.h"

/* one cache for the whole run, as a proxy worker keeps one: hits, evictions and misses mix */
static struct qcache *cache;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *sql = malloc(size + 1);
	const struct classify *c;
	struct classify own;

	if (!sql)
		return 0;
	memcpy(sql, data, size);
	sql[size] = '\0';
	if (!cache)
		cache = qcache_new(64, 64 * 1024);
	if (classify_sql(sql, &own) == 0) {
		/* every classification is whole: a destination, a reason for the primary, names that end */
		if (own.dest > CLASSIFY_EITHER || (own.dest == CLASSIFY_PRIMARY) != (own.why != NULL))
			abort();
		const char *p = NULL;

		for (unsigned i = 0; i < 2u * (own.nrels + own.nfuncs); i++)
			if (!(p = classify_name_next(&own, p)))
				abort();
		if (classify_name_next(&own, p))
			abort();
		(void)classify_select_text_ok(sql);
		c = cache ? qcache_get(cache, sql, strlen(sql)) : NULL;
		/*
		 * The cache answers as the classifier does, also for a text
		 * cached under the key of another with other constants
		 */
		if (c && (c->dest != own.dest || c->flags != own.flags || c->stat != own.stat))
			abort();
		classify_free(&own);
	}
	free(sql);
	return 0;
}
