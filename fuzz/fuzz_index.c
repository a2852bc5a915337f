/*
 * fuzz_index.c: libFuzzer harness for the per-Maildir index reader
 * (storage/index.c) through maildrop_open(): the input is written as the
 * postern-index file of a temporary Maildir holding a few messages, which
 * is then listed twice.  Whatever the file says, every message is listed
 * once with a UID below the next UID, and the second listing (from the
 * index the first one wrote back) is the first one again.  It touches
 * nothing outside its temporary directory.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz/common.h"
#include "storage/index.h"
#include "storage/maildir.h"

/* Octet 0, bits 0-4: which of the fixture's messages are there (a
 * message is there when its bit is clear, so that 0 means all). */
#define NFIXTURE	5

/* The messages: a name whose ,W= is right, one whose ,W= lies (the name
 * wins), an empty one, one without a final newline and one from before
 * the others, so that delivery order is not name order. */
static const struct {
	const char	*name;
	const char	*text;
} fixture[NFIXTURE] = {
	{ "new/1700000000.M1P2.fuzz", "Subject: a\n\nbody\n" },
	{ "cur/1700000007.M3P4.fuzz,S=19,W=23:2,S",
	    "Subject: b\n\n.\nbody\n" },
	{ "new/1700000099.M5P6.fuzz,W=999", "Subject: c\n\n" },
	{ "cur/1700000050.x.fuzz:2,", "" },
	{ "new/1600000000.old.fuzz", "no newline" },
};

static char	 maildir[PATH_MAX];

/* One message as a listing has it. */
struct seen {
	char		 name[PATH_MAX];
	off_t		 size;
	uint32_t	 uid;
	time_t		 time;
};

/* LLVMFuzzerInitialize: the Maildir's directory. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char	*dir;

	fuzz_init("fuzz_index");
	dir = fuzz_tempdir("index");
	fuzz_path(maildir, sizeof(maildir), dir, "Maildir");
	FUZZ_CHECK(mkdir(maildir, 0700) == 0);
	return 0;
}

/* setup: the Maildir afresh: the messages of mask and the index. */
static void
setup(unsigned mask, const uint8_t *data, size_t size)
{
	char	 path[PATH_MAX];
	size_t	 i;

	FUZZ_CHECK(fuzz_empty_dir(maildir) == 0);
	for (i = 0; i < 3; i++) {
		fuzz_path(path, sizeof(path), maildir,
		    i == 0 ? "new" : i == 1 ? "cur" : "tmp");
		FUZZ_CHECK(mkdir(path, 0700) == 0);
	}
	for (i = 0; i < NFIXTURE; i++) {
		if (mask & (1U << i))
			continue;
		fuzz_path(path, sizeof(path), maildir, fixture[i].name);
		fuzz_write_file(path, fixture[i].text,
		    strlen(fixture[i].text));
	}
	fuzz_path(path, sizeof(path), maildir, INDEX_FILE);
	fuzz_write_file(path, data, size);
}

/* expected_size: the size a listing gives message i when the index does
 * not know it: the name's ,W=, else the text's network size. */
static off_t
expected_size(size_t i)
{
	const char	*base = fixture[i].name + 4, *t = fixture[i].text;
	size_t		 len = strcspn(base, ":"), n = strlen(t), j;
	off_t		 s, w, net;

	maildir_name_sizes(base, len, &s, &w);
	if (w != -1)
		return w;
	net = (off_t)n;
	for (j = 0; j < n; j++)
		if (t[j] == '\n' && (j == 0 || t[j - 1] != '\r'))
			net++;
	if (n > 0 && t[n - 1] != '\n')
		net += 2;
	return net;
}

/* mentioned: whether the index text names message i's base name, so
 * that its size there is trusted (the index is the listing's cache). */
static bool
mentioned(size_t i, const uint8_t *data, size_t size)
{
	const char	*base = fixture[i].name + 4;
	size_t		 len = strcspn(base, ":"), j;

	for (j = 0; j + len <= size; j++)
		if (memcmp(data + j, base, len) == 0)
			return true;
	return false;
}

/*
 * list: opens the Maildir and checks its listing: each message there
 * once, under its file name, with ascending UIDs below the next UID and
 * its size.  The listing goes to out (NFIXTURE entries); returns the
 * count, with the UIDVALIDITY in *uidv_r.
 */
static size_t
list(unsigned mask, const uint8_t *data, size_t size, struct seen *out,
    uint32_t *uidv_r)
{
	struct maildrop	*md = NULL;
	const struct mail *m;
	size_t		 i, j, want = 0;
	bool		 found[NFIXTURE];
	uint64_t	 total = 0;	/* wraps rather than overflow */

	FUZZ_CHECK(maildrop_open(maildir, NULL, &md) == 0);
	FUZZ_CHECK(md->uidvalidity != 0);
	for (i = 0; i < NFIXTURE; i++) {
		found[i] = false;
		if (!(mask & (1U << i)))
			want++;
	}
	FUZZ_CHECK(md->count == want);
	for (i = 0; i < md->count; i++) {
		m = &md->mail[i];
		for (j = 0; j < NFIXTURE; j++)
			if (strcmp(m->name, fixture[j].name) == 0)
				break;
		FUZZ_CHECK(j < NFIXTURE && !(mask & (1U << j)));
		FUZZ_CHECK(!found[j]);
		found[j] = true;
		FUZZ_CHECK(m->uid >= 1 && m->uid < md->idx.nextuid);
		FUZZ_CHECK(i == 0 || m->uid > md->mail[i - 1].uid);
		FUZZ_CHECK(m->size >= 0);
		if (!mentioned(j, data, size))
			FUZZ_CHECK(m->size == expected_size(j));
		total += (uint64_t)m->size;
		FUZZ_CHECK(strlcpy(out[i].name, m->name, sizeof(out[i].name)) <
		    sizeof(out[i].name));
		out[i].size = m->size;
		out[i].uid = m->uid;
		out[i].time = m->time;
	}
	FUZZ_CHECK((uint64_t)md->size == total);
	*uidv_r = md->uidvalidity;
	maildrop_close(&md);
	FUZZ_CHECK(md == NULL);
	return want;
}

/* LLVMFuzzerTestOneInput: the input as the index, listed twice. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen	 a[NFIXTURE], b[NFIXTURE];
	uint32_t	 va, vb;
	unsigned	 mask;
	size_t		 n, i;

	if (size < 1)
		return 0;
	mask = data[0] & ((1U << NFIXTURE) - 1);
	data++;
	size--;
	setup(mask, data, size);
	n = list(mask, data, size, a, &va);
	FUZZ_CHECK(list(mask, data, size, b, &vb) == n);
	/* The index written back says what the first listing found. */
	FUZZ_CHECK(va == vb);
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(strcmp(a[i].name, b[i].name) == 0);
		FUZZ_CHECK(a[i].uid == b[i].uid);
		FUZZ_CHECK(a[i].size == b[i].size);
		FUZZ_CHECK(a[i].time == b[i].time);
	}
	return 0;
}
