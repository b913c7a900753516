/* SPDX-License-Identifier: MIT */
/* Secrets at rest: integration settings marked secret are sealed with
 * AES-256-GCM under a key kept in its own file (never in the database),
 * created with mode 0600 on first use. */
#ifndef MW_SECRET_H
#define MW_SECRET_H

#include <stddef.h>

#include "buf.h"

typedef struct mw_secret mw_secret;

/* Loads the key file, or creates it with a fresh random key. */
mw_secret *mw_secret_open(const char *path, mw_err *e);
void mw_secret_close(mw_secret *k);

/* Appends "mw1:" + base64(nonce | ciphertext | tag) to out. */
int mw_secret_seal(mw_secret *k, const char *plain, size_t n, mw_buf *out,
                   mw_err *e);
/* Opens what seal produced; fails on a wrong key or altered text. */
int mw_secret_unseal(mw_secret *k, const char *sealed, mw_buf *out,
                     mw_err *e);

#endif
