/*
 * mrpcrypt.c: MRP's encrypted channel with OpenSSL's EVP: X25519,
 * HKDF-SHA256, AES-256 or Triple-DES, HMAC-SHA256.  It checks every
 * record's tag in constant time before decrypting anything, never
 * accepts a record out of sequence, and wipes its keys when freed.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>

#include "protocols/mrpcrypt.h"
#include "server/base64.h"
#include "server/log.h"

#define MRPC_SLOT	32	/* each derived key's share of the output */
#define MRPC_TAG	32	/* HMAC-SHA256 */
#define MRPC_INFO	"postern-mrp-v1 "

struct mrpc {
	enum mrpc_mode	 mode;
	EVP_PKEY	*key;		/* ours, until the exchange is done */
	unsigned char	 nonce[MRPC_NONCE_LEN];
	unsigned char	 c2s_enc[MRPC_SLOT], c2s_mac[MRPC_SLOT];
	unsigned char	 s2c_enc[MRPC_SLOT], s2c_mac[MRPC_SLOT];
	uint64_t	 c2s_seq, s2c_seq;
	bool		 ready;
};

static const char *const mode_names[] = { "AES/CBC", "AES/ECB", "DES/CBC",
	"DES/ECB" };

int
mrpc_mode(const char *name, enum mrpc_mode *mode_r)
{
	size_t	 i;

	for (i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (strcasecmp(name, mode_names[i]) == 0) {
			*mode_r = (enum mrpc_mode)i;
			return 0;
		}
	return -1;
}

const char *
mrpc_mode_name(enum mrpc_mode mode)
{
	return mode_names[mode];
}

bool
mrpc_mode_weak(enum mrpc_mode mode)
{
	return mode == MRPC_AES_ECB || mode == MRPC_DES_ECB;
}

/* cipher: the EVP cipher of a mode. */
static const EVP_CIPHER *
cipher(enum mrpc_mode mode)
{
	switch (mode) {
	case MRPC_AES_CBC:
		return EVP_aes_256_cbc();
	case MRPC_AES_ECB:
		return EVP_aes_256_ecb();
	case MRPC_DES_CBC:
		return EVP_des_ede3_cbc();
	default:
		return EVP_des_ede3_ecb();
	}
}

/* Starts an exchange: our key pair and nonce, offered in out. */
struct mrpc *
mrpc_new(enum mrpc_mode mode, char *out, size_t outlen)
{
	EVP_PKEY_CTX	*pc;
	struct mrpc	*c;
	unsigned char	 pub[MRPC_KEY_LEN];
	char		 bpub[BASE64_ENCODED_SIZE(MRPC_KEY_LEN)];
	char		 bnonce[BASE64_ENCODED_SIZE(MRPC_NONCE_LEN)];
	size_t		 publen = sizeof(pub);
	int		 n;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->mode = mode;
	arc4random_buf(c->nonce, sizeof(c->nonce));
	pc = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);
	if (pc == NULL || EVP_PKEY_keygen_init(pc) != 1 ||
	    EVP_PKEY_keygen(pc, &c->key) != 1 ||
	    EVP_PKEY_get_raw_public_key(c->key, pub, &publen) != 1 ||
	    publen != sizeof(pub) ||
	    base64_encode(pub, publen, bpub, sizeof(bpub)) < 0 ||
	    base64_encode(c->nonce, sizeof(c->nonce), bnonce,
	    sizeof(bnonce)) < 0) {
		log_warnx("mrp: X25519 key generation failed");
		EVP_PKEY_CTX_free(pc);
		mrpc_free(&c);
		return NULL;
	}
	EVP_PKEY_CTX_free(pc);
	n = snprintf(out, outlen, "X25519 %s %s", bpub, bnonce);
	if (n < 0 || (size_t)n >= outlen) {
		mrpc_free(&c);
		return NULL;
	}
	return c;
}

/* derive: the shared secret with the peer's public key. */
static int
derive(struct mrpc *c, const unsigned char *peer, unsigned char *secret)
{
	EVP_PKEY	*pk;
	EVP_PKEY_CTX	*dc = NULL;
	size_t		 len = MRPC_KEY_LEN;
	int		 rc = -1;
	unsigned char	 zero[MRPC_KEY_LEN];

	pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer,
	    MRPC_KEY_LEN);
	if (pk != NULL && (dc = EVP_PKEY_CTX_new(c->key, NULL)) != NULL &&
	    EVP_PKEY_derive_init(dc) == 1 &&
	    EVP_PKEY_derive_set_peer(dc, pk) == 1 &&
	    EVP_PKEY_derive(dc, secret, &len) == 1 && len == MRPC_KEY_LEN) {
		memset(zero, 0, sizeof(zero));
		/* A low-order point gives all zeroes: refused. */
		rc = CRYPTO_memcmp(secret, zero, sizeof(zero)) == 0 ? -1 : 0;
	}
	EVP_PKEY_CTX_free(dc);
	EVP_PKEY_free(pk);
	return rc;
}

/* hkdf: the four keys from the secret, salted with both nonces. */
static int
hkdf(struct mrpc *c, const unsigned char *secret,
    const unsigned char *cnonce)
{
	EVP_PKEY_CTX	*kc;
	unsigned char	 salt[2 * MRPC_NONCE_LEN], okm[4 * MRPC_SLOT];
	char		 info[64];
	size_t		 len = sizeof(okm);
	int		 ok, n;

	memcpy(salt, cnonce, MRPC_NONCE_LEN);
	memcpy(salt + MRPC_NONCE_LEN, c->nonce, MRPC_NONCE_LEN);
	n = snprintf(info, sizeof(info), "%s%s", MRPC_INFO,
	    mode_names[c->mode]);
	if (n < 0 || (size_t)n >= sizeof(info))
		return -1;
	kc = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	ok = kc != NULL && EVP_PKEY_derive_init(kc) == 1 &&
	    EVP_PKEY_CTX_set_hkdf_md(kc, EVP_sha256()) == 1 &&
	    EVP_PKEY_CTX_set1_hkdf_salt(kc, salt, sizeof(salt)) == 1 &&
	    EVP_PKEY_CTX_set1_hkdf_key(kc, secret, MRPC_KEY_LEN) == 1 &&
	    EVP_PKEY_CTX_add1_hkdf_info(kc, (unsigned char *)info,
	    (int)n) == 1 && EVP_PKEY_derive(kc, okm, &len) == 1 &&
	    len == sizeof(okm);
	EVP_PKEY_CTX_free(kc);
	if (ok) {
		memcpy(c->c2s_enc, okm, MRPC_SLOT);
		memcpy(c->c2s_mac, okm + MRPC_SLOT, MRPC_SLOT);
		memcpy(c->s2c_enc, okm + 2 * MRPC_SLOT, MRPC_SLOT);
		memcpy(c->s2c_mac, okm + 3 * MRPC_SLOT, MRPC_SLOT);
	}
	OPENSSL_cleanse(okm, sizeof(okm));
	return ok ? 0 : -1;
}

/* Takes the client's key and nonce; derives the keys. */
int
mrpc_accept(struct mrpc *c, const char *line)
{
	unsigned char	 peer[MRPC_KEY_LEN + 1], cnonce[MRPC_NONCE_LEN + 1];
	unsigned char	 secret[MRPC_KEY_LEN];
	const char	*sp;
	int		 rc = -1;

	if (c->key == NULL || (sp = strchr(line, ' ')) == NULL ||
	    base64_decode(line, (size_t)(sp - line), peer, sizeof(peer)) !=
	    MRPC_KEY_LEN ||
	    base64_decode(sp + 1, strlen(sp + 1), cnonce, sizeof(cnonce)) !=
	    MRPC_NONCE_LEN)
		return -1;
	if (derive(c, peer, secret) == 0 && hkdf(c, secret, cnonce) == 0) {
		c->ready = true;
		rc = 0;
	}
	OPENSSL_cleanse(secret, sizeof(secret));
	EVP_PKEY_free(c->key);
	c->key = NULL;
	return rc;
}

/* tag: HMAC-SHA256 of the sequence number (8 octets, big-endian) and
 * data under key. */
static int
tag(const unsigned char *key, uint64_t seq, const unsigned char *data,
    size_t len, unsigned char *out)
{
	unsigned char	*buf;
	unsigned int	 olen = 0;
	int		 i, ok;

	if ((buf = malloc(8 + len)) == NULL)
		return -1;
	for (i = 0; i < 8; i++)
		buf[i] = (unsigned char)(seq >> (56 - 8 * i));
	memcpy(buf + 8, data, len);
	ok = HMAC(EVP_sha256(), key, MRPC_SLOT, buf, 8 + len, out,
	    &olen) != NULL && olen == MRPC_TAG;
	free(buf);
	return ok ? 0 : -1;
}

/* crypt: encrypts (enc 1) or decrypts in into out with key and iv;
 * returns the output length or -1. */
static int
crypt_(enum mrpc_mode mode, int enc, const unsigned char *key,
    const unsigned char *iv, const unsigned char *in, size_t len,
    unsigned char *out)
{
	EVP_CIPHER_CTX	*x;
	int		 n1 = 0, n2 = 0, ok;

	if ((x = EVP_CIPHER_CTX_new()) == NULL || len > INT32_MAX) {
		EVP_CIPHER_CTX_free(x);
		return -1;
	}
	ok = EVP_CipherInit_ex(x, cipher(mode), NULL, key, iv, enc) == 1 &&
	    EVP_CipherUpdate(x, out, &n1, in, (int)len) == 1 &&
	    EVP_CipherFinal_ex(x, out + n1, &n2) == 1;
	EVP_CIPHER_CTX_free(x);
	return ok ? n1 + n2 : -1;
}

/* Seals a record from the server. */
ssize_t
mrpc_seal(struct mrpc *c, const void *p, size_t len, char *out,
    size_t outlen)
{
	unsigned char	 rec[16 + MRPC_CHUNK + 16 + MRPC_TAG];
	size_t		 ivlen, blk;
	int		 n;
	ssize_t		 r;

	if (!c->ready || len > MRPC_CHUNK)
		return -1;
	blk = (size_t)EVP_CIPHER_block_size(cipher(c->mode));
	ivlen = mrpc_mode_weak(c->mode) ? 0 : blk;
	arc4random_buf(rec, ivlen);
	n = crypt_(c->mode, 1, c->s2c_enc, ivlen > 0 ? rec : NULL, p, len,
	    rec + ivlen);
	if (n < 0 || tag(c->s2c_mac, c->s2c_seq, rec, ivlen + (size_t)n,
	    rec + ivlen + (size_t)n) == -1)
		return -1;
	r = base64_encode(rec, ivlen + (size_t)n + MRPC_TAG, out, outlen);
	if (r >= 0)
		c->s2c_seq++;
	return r < 0 ? -1 : r;
}

/* Opens a record from the client. */
ssize_t
mrpc_open(struct mrpc *c, const char *line, char *out, size_t outlen)
{
	unsigned char	*rec, want[MRPC_TAG];
	size_t		 ivlen, blk, cap = strlen(line) / 4 * 3 + 3;
	ssize_t		 n;
	int		 m = -1;

	if (!c->ready || (rec = malloc(cap)) == NULL)
		return -1;
	blk = (size_t)EVP_CIPHER_block_size(cipher(c->mode));
	ivlen = mrpc_mode_weak(c->mode) ? 0 : blk;
	n = base64_decode(line, strlen(line), rec, cap);
	if (n >= (ssize_t)(ivlen + blk + MRPC_TAG) &&
	    ((size_t)n - ivlen - MRPC_TAG) % blk == 0 &&
	    (size_t)n - ivlen - MRPC_TAG <= outlen &&
	    tag(c->c2s_mac, c->c2s_seq, rec, (size_t)n - MRPC_TAG,
	    want) == 0 &&
	    CRYPTO_memcmp(want, rec + n - MRPC_TAG, MRPC_TAG) == 0)
		m = crypt_(c->mode, 0, c->c2s_enc, ivlen > 0 ? rec : NULL,
		    rec + ivlen, (size_t)n - ivlen - MRPC_TAG,
		    (unsigned char *)out);
	free(rec);
	if (m < 0)
		return -1;
	c->c2s_seq++;
	return m;
}

/* The state: mode, four keys, two sequence numbers, as base64. */
int
mrpc_export(const struct mrpc *c, char *out, size_t outlen)
{
	unsigned char	 raw[1 + 4 * MRPC_SLOT + 16];
	unsigned char	*p = raw;
	int		 i;

	if (!c->ready)
		return -1;
	*p++ = (unsigned char)c->mode;
	memcpy(p, c->c2s_enc, MRPC_SLOT);
	memcpy(p + MRPC_SLOT, c->c2s_mac, MRPC_SLOT);
	memcpy(p + 2 * MRPC_SLOT, c->s2c_enc, MRPC_SLOT);
	memcpy(p + 3 * MRPC_SLOT, c->s2c_mac, MRPC_SLOT);
	p += 4 * MRPC_SLOT;
	for (i = 0; i < 8; i++) {
		p[i] = (unsigned char)(c->c2s_seq >> (56 - 8 * i));
		p[8 + i] = (unsigned char)(c->s2c_seq >> (56 - 8 * i));
	}
	i = base64_encode(raw, sizeof(raw), out, outlen) < 0 ? -1 : 0;
	OPENSSL_cleanse(raw, sizeof(raw));
	return i;
}

/* A channel from an exported state. */
struct mrpc *
mrpc_import(const char *s)
{
	unsigned char	 raw[1 + 4 * MRPC_SLOT + 16 + 1];
	unsigned char	*p = raw + 1;
	struct mrpc	*c;
	int		 i;

	if (base64_decode(s, strlen(s), raw, sizeof(raw)) !=
	    (ssize_t)(sizeof(raw) - 1) || raw[0] > MRPC_DES_ECB ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		OPENSSL_cleanse(raw, sizeof(raw));
		return NULL;
	}
	c->mode = (enum mrpc_mode)raw[0];
	memcpy(c->c2s_enc, p, MRPC_SLOT);
	memcpy(c->c2s_mac, p + MRPC_SLOT, MRPC_SLOT);
	memcpy(c->s2c_enc, p + 2 * MRPC_SLOT, MRPC_SLOT);
	memcpy(c->s2c_mac, p + 3 * MRPC_SLOT, MRPC_SLOT);
	p += 4 * MRPC_SLOT;
	for (i = 0; i < 8; i++) {
		c->c2s_seq = c->c2s_seq << 8 | p[i];
		c->s2c_seq = c->s2c_seq << 8 | p[8 + i];
	}
	c->ready = true;
	OPENSSL_cleanse(raw, sizeof(raw));
	return c;
}

/* Wipes and frees a channel. */
void
mrpc_free(struct mrpc **cp)
{
	struct mrpc	*c = *cp;

	if (c == NULL)
		return;
	EVP_PKEY_free(c->key);
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
	*cp = NULL;
}
