/*
 * flags.h: the flags of a Maildir message, kept in the information part
 * of its file name: ":2," followed by letters in ASCII order, capital
 * letters for the flags (D draft, F flagged, P passed, R replied, S seen,
 * T trashed) and small letters for keywords.  Which keyword a letter
 * stands for is in the keywords file of the Maildir (or folder), in
 * Dovecot's dovecot-keywords layout.  Nothing here touches a message.
 */
#ifndef POSTERN_FLAGS_H
#define POSTERN_FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A flag letter 'A'..'Z' as a bit; the six of maildir(5) by name. */
#define FLAG_BIT(c)	((uint32_t)1 << ((c) - 'A'))
#define FLAG_DRAFT	FLAG_BIT('D')
#define FLAG_FLAGGED	FLAG_BIT('F')
#define FLAG_PASSED	FLAG_BIT('P')
#define FLAG_REPLIED	FLAG_BIT('R')
#define FLAG_SEEN	FLAG_BIT('S')
#define FLAG_TRASHED	FLAG_BIT('T')
#define FLAGS_KNOWN	(FLAG_DRAFT | FLAG_FLAGGED | FLAG_PASSED | \
			 FLAG_REPLIED | FLAG_SEEN | FLAG_TRASHED)

/* Keyword i (0..25) is the letter 'a' + i. */
#define KEYWORDS_MAX	26
#define KEYWORD_BIT(i)	((uint32_t)1 << (i))

/* The longest information part flags_format() writes: ":2," and 52
 * letters, and the NUL. */
#define FLAGS_INFO_MAX	(3 + 26 + 26 + 1)

#define KEYWORDS_FILE		"postern-keywords"
#define KEYWORDS_DOVECOT	"dovecot-keywords"	/* read, not written */
#define KEYWORD_LEN_MAX		128

/*
 * Parses the information part of a message's file name, from its first
 * ':' ("" when the name has none).  Returns 0 with the capital letters
 * in *flags_r and the small ones in *keywords_r, or -1 when the part is
 * not ":2," followed by letters only: such a message's flags are
 * unknown and must not be changed (*flags_r and *keywords_r are 0).
 */
int	 flags_parse(const char *info, uint32_t *flags_r,
	    uint32_t *keywords_r);
/*
 * Writes ":2," and the letters of flags and keywords, in ASCII order, to
 * out (at least FLAGS_INFO_MAX bytes).  Returns the length.
 */
size_t	 flags_format(uint32_t flags, uint32_t keywords, char *out);

/* The keyword names of one Maildir or folder: name[i] is letter 'a'+i. */
struct keywords {
	char	*name[KEYWORDS_MAX];
};

/*
 * Whether s may be a keyword: 1 to KEYWORD_LEN_MAX printable ASCII
 * characters, none of them a space or ( ) { % * " \ ] (IMAP's atom), and
 * not starting with '\' (those are system flags).
 */
bool	 keyword_valid(const char *s);
/*
 * Reads KEYWORDS_FILE of the Maildir dirfd into *kw (path only for the
 * log); when it does not exist, KEYWORDS_DOVECOT, so that a Maildir that
 * Dovecot kept keeps its keywords.  Neither file: no keywords.  Lines
 * that are not "N name" with N from 0 to 25 and a valid name are
 * skipped and logged.  Returns 0, or -1 when a file exists but cannot be
 * read (logged; *kw is then empty).
 */
int	 keywords_read(int dirfd, const char *path, struct keywords *kw);
/*
 * Writes *kw as KEYWORDS_FILE: a temporary file, fsynced and renamed
 * into place.  The caller holds the index lock.  Returns 0 or -1
 * (logged).
 */
int	 keywords_write(int dirfd, const char *path,
	    const struct keywords *kw);
/* The letter index of name (matched without regard to case), or -1. */
int	 keywords_find(const struct keywords *kw, const char *name);
/*
 * The letter index of name, giving it the first free letter when it has
 * none (*added_r set then; the caller writes the file).  Returns -1 with
 * errno EINVAL for an invalid name, ENOSPC when all 26 letters are
 * taken, ENOMEM.
 */
int	 keywords_add(struct keywords *kw, const char *name, bool *added_r);
/* Frees the names and empties *kw. */
void	 keywords_free(struct keywords *kw);

#endif
