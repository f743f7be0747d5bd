/* json.c: a small streaming JSON writer: compact, or indented by two spaces */
#include <assert.h>
#include <math.h>

#include "json.h"

void json_init(struct json *j, FILE *out, bool pretty)
{
	j->out = out;
	j->pretty = pretty;
	j->after_key = false;
	j->depth = 0;
}

/* ends the document: shells and line-based tools expect a final newline */
void json_finish(struct json *j)
{
	assert(j->depth == 0);
	fputc('\n', j->out);
}

static void json_newline(struct json *j, int depth)
{
	if (!j->pretty)
		return;
	fputc('\n', j->out);
	for (int i = 0; i < depth; i++)
		fputs("  ", j->out);
}

/* what goes before a member: nothing after a key, else a comma from the second on */
static void json_next(struct json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (!j->depth)
		return;
	if (j->count[j->depth - 1]++)
		fputc(',', j->out);
	json_newline(j, j->depth);
}

/*
 * Bytes outside printable ASCII are escaped too: the strings pgxrctl
 * writes are ASCII, and escaping the rest keeps the output valid JSON
 * even if a map or a file ever hands us bytes that are not UTF-8.
 */
static void json_quote(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = *s;

		switch (c) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\b':
			fputs("\\b", out);
			break;
		case '\f':
			fputs("\\f", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			if (c < 0x20 || c >= 0x7f)
				fprintf(out, "\\u%04x", c);
			else
				fputc(c, out);
		}
	}
	fputc('"', out);
}

static void json_open(struct json *j, char c)
{
	assert(j->depth < JSON_MAX_DEPTH);
	json_next(j);
	fputc(c, j->out);
	j->count[j->depth++] = 0;
}

/* empty containers stay on one line: [] and {} */
static void json_close(struct json *j, char c)
{
	assert(j->depth > 0 && !j->after_key);
	if (j->count[--j->depth])
		json_newline(j, j->depth);
	fputc(c, j->out);
}

void json_object_begin(struct json *j)
{
	json_open(j, '{');
}

void json_object_end(struct json *j)
{
	json_close(j, '}');
}

void json_array_begin(struct json *j)
{
	json_open(j, '[');
}

void json_array_end(struct json *j)
{
	json_close(j, ']');
}

void json_key(struct json *j, const char *key)
{
	assert(!j->after_key);
	json_next(j);
	json_quote(j->out, key);
	fputs(j->pretty ? ": " : ":", j->out);
	j->after_key = true;
}

void json_string(struct json *j, const char *s)
{
	json_next(j);
	json_quote(j->out, s);
}

void json_u64(struct json *j, __u64 v)
{
	json_next(j);
	fprintf(j->out, "%llu", (unsigned long long)v);
}

/* JSON has no NaN or infinity; 15 digits round-trip what we compute without noise */
void json_double(struct json *j, double v)
{
	json_next(j);
	if (isfinite(v))
		fprintf(j->out, "%.15g", v);
	else
		fputs("null", j->out);
}

void json_bool(struct json *j, bool v)
{
	json_next(j);
	fputs(v ? "true" : "false", j->out);
}

void json_null(struct json *j)
{
	json_next(j);
	fputs("null", j->out);
}

void json_kv_string(struct json *j, const char *key, const char *s)
{
	json_key(j, key);
	json_string(j, s);
}

void json_kv_u64(struct json *j, const char *key, __u64 v)
{
	json_key(j, key);
	json_u64(j, v);
}

void json_kv_double(struct json *j, const char *key, double v)
{
	json_key(j, key);
	json_double(j, v);
}

void json_kv_bool(struct json *j, const char *key, bool v)
{
	json_key(j, key);
	json_bool(j, v);
}
