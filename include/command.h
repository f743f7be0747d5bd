/* command.h: command lines of failover_command and its kin, from pgpool's placeholders */
#ifndef PGXR_COMMAND_H
#define PGXR_COMMAND_H

#include <stddef.h>

int command_line(const char *tmpl, int failed, int new_main, int old_primary, char *out,
		 size_t len, char *env_buf, size_t env_len, char **env, int env_max);

#endif /* PGXR_COMMAND_H */
