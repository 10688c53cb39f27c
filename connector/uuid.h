#ifndef SCVB_UUID_H
#define SCVB_UUID_H

#define UUID_STR_LEN 37 /* 36 characters and the NUL */

/* A random (version 4, RFC 9562) UUID in lower-case text. 0 or a negative errno. */
int uuid_v4(char out[UUID_STR_LEN]);

#endif
