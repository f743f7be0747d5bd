/* splitlist.h: pgpool's regular expression lists of the read/write split */
#ifndef PGXR_SPLITLIST_H
#define PGXR_SPLITLIST_H

#include <stdbool.h>
#include <stddef.h>

int splitlist_check(const char *list, char sep, char *err, size_t errlen);
void splitlist_update(const char *write_functions, const char *read_only_functions,
		      const char *primary_queries);
int splitlist_function(const char *schema, const char *name);
bool splitlist_primary_query(const char *sql);
void splitlist_free(void);

#endif
