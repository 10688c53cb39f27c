#include "scv/lws_log.h"

#include <string.h>

#include <libwebsockets.h>

#include "connector/log.h"

/* lws never sees a secret: TLS records (client) and raw bytes (API) only. */
static void
log_lws(int level, const char *line)
{
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
		n--;
	if (level & LLL_ERR)
		log_err(NULL, "libwebsockets: %.*s", (int)n, line);
	else
		log_warn(NULL, "libwebsockets: %.*s", (int)n, line);
}

void
scv_lws_log_setup(void)
{
	lws_set_log_level(LLL_ERR | LLL_WARN, log_lws);
}
