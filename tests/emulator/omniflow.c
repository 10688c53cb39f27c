#include "tests/emulator/omniflow.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tests/emulator/table.h"

struct answer {
	struct emu_hnode hnode;
	struct answer *next; /* all answers, for reset */
	int status;
	int latency_ms;
	char *json;
	char dialed[];
};

static struct emu_htab table;
static struct answer *all;

int
emu_omniflow_set(const char *dialed, json_t *response, int status, int latency_ms)
{
	size_t len = strlen(dialed);
	struct emu_hnode *n = emu_htab_find(&table, dialed, len);
	char *json = json_dumps(response, JSON_COMPACT | JSON_ENCODE_ANY);
	struct answer *a;

	if (!json)
		return -ENOMEM;
	if (n) {
		a = emu_container_of(n, struct answer, hnode);
		free(a->json);
	} else {
		a = calloc(1, sizeof *a + len + 1);
		if (!a) {
			free(json);
			return -ENOMEM;
		}
		memcpy(a->dialed, dialed, len + 1);
		a->hnode.key = a->dialed;
		a->hnode.keylen = len;
		if (emu_htab_insert(&table, &a->hnode) < 0) {
			free(a);
			free(json);
			return -ENOMEM;
		}
		a->next = all;
		all = a;
	}
	a->json = json;
	a->status = status;
	a->latency_ms = latency_ms;
	return 0;
}

int
emu_omniflow_get(const char *dialed, struct emu_omniflow_answer *ret)
{
	struct emu_hnode *n = emu_htab_find(&table, dialed, strlen(dialed));
	struct answer *a;

	if (!n)
		return -ENOENT;
	a = emu_container_of(n, struct answer, hnode);
	ret->status = a->status;
	ret->latency_ms = a->latency_ms;
	ret->json = a->json;
	return 0;
}

void
emu_omniflow_reset(void)
{
	struct answer *a, *next;

	for (a = all; a; a = next) {
		next = a->next;
		free(a->json);
		free(a);
	}
	all = NULL;
	emu_htab_free(&table);
}
