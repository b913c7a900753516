/* SPDX-License-Identifier: MIT */
/* AES-256-GCM sealing of secret settings with OpenSSL's EVP interface. A
 * fresh 96-bit nonce per value; the tag authenticates it, so a wrong key
 * file or an edited database value is an error, not garbage. */
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#define KEY_LEN 32
#define NONCE_LEN 12
#define TAG_LEN 16
#define PREFIX "mw1:"

struct mw_secret {
    unsigned char key[KEY_LEN];
};

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int read_key(mw_secret *k, const char *path, mw_err *e)
{
    char text[2 * KEY_LEN + 2] = {0};
    FILE *f = fopen(path, "r");
    size_t n;

    if (!f)
        return 1;
    n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    for (size_t i = 0; i < KEY_LEN; i++) {
        int hi = 2 * i + 1 < n ? hexval(text[2 * i]) : -1;
        int lo = 2 * i + 1 < n ? hexval(text[2 * i + 1]) : -1;
        if (hi < 0 || lo < 0) {
            mw_err_set(e, "E_SECRET_KEY", "key file %s is not 64 hex "
                       "characters", path);
            return -1;
        }
        k->key[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

static int create_key(mw_secret *k, const char *path, mw_err *e)
{
    static const char hex[] = "0123456789abcdef";
    char text[2 * KEY_LEN + 1];
    int fd;

    if (RAND_bytes(k->key, KEY_LEN) != 1) {
        mw_err_set(e, "E_SECRET_KEY", "the system random generator failed");
        return -1;
    }
    for (int i = 0; i < KEY_LEN; i++) {
        text[2 * i] = hex[k->key[i] >> 4];
        text[2 * i + 1] = hex[k->key[i] & 15];
    }
    text[2 * KEY_LEN] = '\n';
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || write(fd, text, sizeof(text)) != (ssize_t)sizeof(text)) {
        mw_err_set(e, "E_SECRET_KEY", "cannot create key file %s: %s", path,
                   strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

mw_secret *mw_secret_open(const char *path, mw_err *e)
{
    mw_secret *k = calloc(1, sizeof(*k));
    int rc;

    if (!k) {
        mw_err_set(e, "E_NOMEM", "out of memory");
        return NULL;
    }
    rc = read_key(k, path, e);
    if (rc == 1)
        rc = create_key(k, path, e);
    if (rc < 0) {
        mw_secret_close(k);
        return NULL;
    }
    return k;
}

void mw_secret_close(mw_secret *k)
{
    if (!k)
        return;
    OPENSSL_cleanse(k->key, sizeof(k->key));
    free(k);
}

static int gcm(mw_secret *k, int enc, const unsigned char *nonce,
               const unsigned char *in, int n, unsigned char *out,
               unsigned char *tag)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0, fin = 0, ok;

    ok = c && EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, k->key, nonce, enc);
    if (ok && !enc)
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag);
    ok = ok && EVP_CipherUpdate(c, out, &len, in, n) &&
         EVP_CipherFinal_ex(c, out + len, &fin);
    if (ok && enc)
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag);
    EVP_CIPHER_CTX_free(c);
    return ok ? len + fin : -1;
}

int mw_secret_seal(mw_secret *k, const char *plain, size_t n, mw_buf *out,
                   mw_err *e)
{
    size_t raw_len = NONCE_LEN + n + TAG_LEN;
    unsigned char *raw = malloc(raw_len);
    char *b64 = malloc(4 * ((raw_len + 2) / 3) + 1);
    int rc = -1;

    if (!raw || !b64 || n > 1 << 20)
        goto out;
    if (RAND_bytes(raw, NONCE_LEN) != 1 ||
        gcm(k, 1, raw, (const unsigned char *)plain, (int)n, raw + NONCE_LEN,
            raw + NONCE_LEN + n) < 0)
        goto out;
    EVP_EncodeBlock((unsigned char *)b64, raw, (int)raw_len);
    rc = mw_buf_adds(out, PREFIX) < 0 || mw_buf_adds(out, b64) < 0 ? -1 : 0;
out:
    if (rc < 0)
        mw_err_set(e, "E_SECRET", "cannot seal a secret value");
    free(raw);
    free(b64);
    return rc;
}

int mw_secret_unseal(mw_secret *k, const char *sealed, mw_buf *out,
                     mw_err *e)
{
    size_t len = strlen(sealed);
    unsigned char *raw = NULL, *plain = NULL;
    int n, pad = 0, rc = -1;

    if (strncmp(sealed, PREFIX, 4) != 0 || (len - 4) % 4 != 0)
        goto out;
    sealed += 4;
    len -= 4;
    pad = (len > 0 && sealed[len - 1] == '=') + (len > 1 && sealed[len - 2] == '=');
    raw = malloc(len / 4 * 3 + 1);
    plain = malloc(len / 4 * 3 + 1);
    if (!raw || !plain)
        goto out;
    n = EVP_DecodeBlock(raw, (const unsigned char *)sealed, (int)len) - pad;
    if (n < NONCE_LEN + TAG_LEN)
        goto out;
    n = gcm(k, 0, raw, raw + NONCE_LEN, n - NONCE_LEN - TAG_LEN, plain,
            raw + n - TAG_LEN);
    if (n >= 0)
        rc = mw_buf_add(out, plain, (size_t)n);
out:
    if (rc < 0)
        mw_err_set(e, "E_SECRET", "a secret setting cannot be decrypted: "
                   "wrong key file, or the stored value was altered");
    free(raw);
    free(plain);
    return rc;
}
