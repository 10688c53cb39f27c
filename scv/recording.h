/*
 * The body of a recording report (POST /v1/calls/{vendorCallKey}/recording on the local API),
 * read by a pure function (jansson): {"url": "https://...", "duration": 123}.
 */
#ifndef SCVB_SCV_RECORDING_H
#define SCVB_SCV_RECORDING_H

#include <stddef.h>

#define SCV_RECORDING_MAX_URL 1000 /* Salesforce's limit for recordingLocation */

/*
 * Reads body[0..len): a JSON object with "url" (required: an http(s) URL of at most
 * SCV_RECORDING_MAX_URL printable ASCII characters) and "duration" (optional: whole seconds,
 * 0 or more; absent or null gives -1), and no other member. Returns 0 with *ret_url (malloc'd,
 * the caller's) and *ret_duration_s; -EINVAL with why (a field name first, e.g. "url: no
 * host"), or -ENOMEM.
 */
int scv_recording_parse(const char *body, size_t len, char **ret_url, long *ret_duration_s,
                        char *why, size_t whylen);

#endif
