/* table.h: aligned text tables, filled cell by cell */
#ifndef PGXR_TABLE_H
#define PGXR_TABLE_H

#include <stddef.h>
#include <stdio.h>

/* an aligned text table, filled cell by cell; see table_init() */
struct table {
	int ncols;
	const char *align;	/* 'l' or 'r' per column */
	char **cells;		/* row-major, the header row first */
	size_t ncells;
	size_t cap;
	int err;		/* first failure while filling, reported by table_print() */
};

void table_init(struct table *t, const char *header, const char *align);
void table_cell(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int table_print(struct table *t, FILE *out);

#endif /* PGXR_TABLE_H */
