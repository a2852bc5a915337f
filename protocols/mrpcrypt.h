/*
 * mrpcrypt.h: MRP's encrypted channel (the AUTH command, postern-mrp(7)):
 * an X25519 key exchange with a random nonce from each side, keys derived
 * with HKDF-SHA256, then records of IV, ciphertext (AES-256 or
 * Triple-DES, CBC or ECB, PKCS#7 padding) and an HMAC-SHA256 tag over a
 * sequence number, the IV and the ciphertext (encrypt-then-MAC), each
 * record one base64 line.  Nothing here reads or writes the connection.
 */
#ifndef POSTERN_MRPCRYPT_H
#define POSTERN_MRPCRYPT_H

#include <sys/types.h>
#include <stdbool.h>
#include <stddef.h>

enum mrpc_mode {
	MRPC_AES_CBC,
	MRPC_AES_ECB,
	MRPC_DES_CBC,
	MRPC_DES_ECB,
};

#define MRPC_CHUNK	4096	/* the most plaintext the server seals in
				   one record */
#define MRPC_KEY_LEN	32	/* an X25519 public key */
#define MRPC_NONCE_LEN	16
/* The base64 line of a record of n octets of plaintext, NUL included. */
#define MRPC_LINE_SIZE(n)	(((n) + 16 + 16 + 32 + 2) / 3 * 4 + 1)
/* The longest exported state, NUL included. */
#define MRPC_STATE_SIZE	256

struct mrpc;

/* The mode called name ("AES/CBC", any case) into *mode_r; 0 or -1. */
int	 mrpc_mode(const char *name, enum mrpc_mode *mode_r);
/* The name of mode, as the draft spells it. */
const char *mrpc_mode_name(enum mrpc_mode mode);
/* Whether mode is one of the ECB modes (weak: off unless enabled). */
bool	 mrpc_mode_weak(enum mrpc_mode mode);

/*
 * Starts a key exchange in mode: a new X25519 key and nonce, offered as
 * "X25519 <base64 public key> <base64 nonce>" in out.  Returns the
 * channel, or NULL (logged).
 */
struct mrpc *mrpc_new(enum mrpc_mode mode, char *out, size_t outlen);
/*
 * Takes the client's answer "<base64 public key> <base64 nonce>" and
 * derives the keys.  Returns 0, or -1 when the line is malformed or the
 * shared secret is degenerate (the channel is then unusable).
 */
int	 mrpc_accept(struct mrpc *c, const char *line);
/*
 * Seals len octets (at most MRPC_CHUNK) as the next record from the
 * server into out, a NUL-terminated base64 line without CRLF.  Returns
 * its length, or -1.
 */
ssize_t	 mrpc_seal(struct mrpc *c, const void *p, size_t len, char *out,
	    size_t outlen);
/*
 * Opens line, the next record from the client, into out.  Returns the
 * plaintext's length, or -1 when the line is not a record sealed with
 * the client's key and the next sequence number (tampered, replayed,
 * reordered): the session must end.
 */
ssize_t	 mrpc_open(struct mrpc *c, const char *line, char *out,
	    size_t outlen);
/*
 * The channel's keys and sequence numbers as one base64 string, so that
 * the session process carries the channel on after a login handed over
 * (privilege separation); mrpc_import() takes it back.  0 or -1.
 */
int	 mrpc_export(const struct mrpc *c, char *out, size_t outlen);
struct mrpc *mrpc_import(const char *s);
/* Wipes and frees *cp, and sets it to NULL. */
void	 mrpc_free(struct mrpc **cp);

#endif
