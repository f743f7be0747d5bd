/* json.h: a small streaming JSON writer: pgxrctl's -j/-p output and pgxrd's control replies */
#ifndef PGXR_JSON_H
#define PGXR_JSON_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>

/* deeper than any output nests (map dump of a stats map: 4 levels) */
#define JSON_MAX_DEPTH 16

/*
 * Caller-owned, so that writing needs no allocation and has no failure
 * path of its own; stdio errors are caught once by main() at exit.
 */
struct json {
	FILE *out;
	bool pretty;
	bool after_key;			/* the next value belongs to a key */
	int depth;
	unsigned count[JSON_MAX_DEPTH];	/* members written so far, per level */
};

void json_init(struct json *j, FILE *out, bool pretty);
void json_finish(struct json *j);

void json_object_begin(struct json *j);
void json_object_end(struct json *j);
void json_array_begin(struct json *j);
void json_array_end(struct json *j);
void json_key(struct json *j, const char *key);

void json_string(struct json *j, const char *s);
void json_u64(struct json *j, __u64 v);
void json_double(struct json *j, double v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);

/* a key and its value in one call */
void json_kv_string(struct json *j, const char *key, const char *s);
void json_kv_u64(struct json *j, const char *key, __u64 v);
void json_kv_double(struct json *j, const char *key, double v);
void json_kv_bool(struct json *j, const char *key, bool v);

#endif /* PGXR_JSON_H */
