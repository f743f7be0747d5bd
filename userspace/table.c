/* table.c: aligned text tables for pgxrctl and pgxrd's control replies */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

/*
 * A table whose columns are as wide as their widest cell.  header is the
 * column names separated by spaces, align one 'l' or 'r' per column.
 * Cells are added left to right, row after row, the header row first.
 */
void table_init(struct table *t, const char *header, const char *align)
{
	const char *p = header;

	memset(t, 0, sizeof(*t));
	t->ncols = strlen(align);
	t->align = align;
	while (*p) {
		size_t n = strcspn(p, " ");

		table_cell(t, "%.*s", (int)n, p);
		p += n;
		p += strspn(p, " ");
	}
}

void table_cell(struct table *t, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int ret;

	if (t->err)
		return;
	if (t->ncells == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		char **cells = realloc(t->cells, cap * sizeof(*cells));

		if (!cells) {
			t->err = -ENOMEM;
			return;
		}
		t->cells = cells;
		t->cap = cap;
	}
	va_start(ap, fmt);
	ret = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (ret < 0) {
		t->err = -ENOMEM;
		return;
	}
	t->cells[t->ncells++] = s;
}

static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->ncells = t->cap = 0;
}

/*
 * Prints and frees t: two spaces between columns, the last column not
 * padded.  Returns 0, or the error met while filling it (nothing printed).
 */
int table_print(struct table *t, FILE *out)
{
	size_t width[t->ncols];
	int ret = t->err;

	if (ret)
		goto cleanup;
	memset(width, 0, sizeof(width));
	for (size_t i = 0; i < t->ncells; i++) {
		size_t n = strlen(t->cells[i]);

		if (n > width[i % t->ncols])
			width[i % t->ncols] = n;
	}
	for (size_t i = 0; i < t->ncells; i++) {
		int c = i % t->ncols;
		bool last = c == t->ncols - 1;

		if (t->align[c] == 'r')
			fprintf(out, "%*s", (int)width[c], t->cells[i]);
		else if (last)
			fputs(t->cells[i], out);
		else
			fprintf(out, "%-*s", (int)width[c], t->cells[i]);
		fputs(last ? "\n" : "  ", out);
	}
cleanup:
	table_free(t);
	return ret;
}
