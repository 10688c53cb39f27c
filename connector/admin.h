/*
 * Operator verbs on the store, run instead of the daemon:
 *   scvbridge -c FILE --dead-letters          list what Salesforce refused for good or expired
 *   scvbridge -c FILE --replay-dead-letters   put them back in the queue (daemon stopped)
 * Each returns a process exit status.
 */
#ifndef SCVB_ADMIN_H
#define SCVB_ADMIN_H

#include <stdio.h>

struct cfg;

int admin_dead_letters(const struct cfg *cfg, FILE *out);
int admin_replay_dead_letters(const struct cfg *cfg, FILE *out);

#endif
