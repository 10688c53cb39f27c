/*
 * Internals of the Salesforce client, shared by scv/client.c (the object, signing and
 * sending) and scv/client_req.c (the request builders). Private to scv/client*.c and their
 * unit tests.
 */
#ifndef SCVB_SCV_CLIENT_INT_H
#define SCVB_SCV_CLIENT_INT_H

#include "scv/client.h"

struct scv_signer;

struct scv_client {
	struct scv_client_cfg cfg; /* strings borrowed from the caller's configuration */
	struct scv_http *http;
	struct scv_signer *signer;
	int target; /* from scv_http_target_add() */
};

#endif
