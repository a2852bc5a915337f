/*
 * uidl.h: POP3 unique-ids made from the pop3_uidl_format setting, as
 * Dovecot's setting of that name makes them, so that an admin moving
 * from another server keeps the unique-ids its clients have seen:
 *
 *	%f	the Maildir base name
 *	%u	the message's UID in the Maildir
 *	%v	the Maildir's UIDVALIDITY
 *	%g	the global message ID
 *	%%	a percent sign
 *
 * Between '%' and the letter: '0' and a width pad a number with zeros to
 * at least that many digits, a width alone cuts the value to at most
 * that many characters (Dovecot's meaning), and 'X' writes a number in
 * hexadecimal, in small letters as Dovecot does.  postern-pop3(7).
 */
#ifndef POSTERN_UIDL_H
#define POSTERN_UIDL_H

#include <stddef.h>
#include <stdint.h>

struct mail;

#define UIDL_DEFAULT_FORMAT	"%f"
#define UIDL_NEEDS_UIDS		0x01	/* uses %u or %v: UIDs that last */
#define UIDL_NEEDS_GIDS		0x02	/* uses %g: global IDs */
#define UIDL_FORMAT_MAX		256	/* a longer format is refused */

/*
 * Checks a format.  Returns the UIDL_NEEDS_* it uses, or -1 with *err_r
 * pointing to a static explanation.
 */
int	 uidl_check(const char *fmt, const char **err_r);
/*
 * Writes message m's unique-id as the (checked) format fmt says into out
 * (at least UIDL_MAX + 1 bytes).  A result that is not 1 to 70
 * characters from 0x21 to 0x7e, as RFC 1939 requires, is replaced by 'h'
 * and 32 hexadecimal digits of its SHA-256 digest.
 */
void	 uidl_format(const char *fmt, const struct mail *m,
	    uint32_t uidvalidity, char *out, size_t outlen);

#endif
