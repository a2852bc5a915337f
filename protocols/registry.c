/*
 * registry.c: the list of protocol modules.  Adding a protocol is one
 * line here and one file beside this one.
 */
#include <stddef.h>
#include <string.h>

#include "protocols/protocol.h"

static const struct protocol *const modules[] = {
	&pop3_protocol,
	&lmtp_protocol,
	&pop1_protocol,
	&papm_protocol,
	&mrp_protocol,
	NULL
};

const struct protocol *
protocol_find(const char *name)
{
	size_t	 i;

	for (i = 0; modules[i] != NULL; i++)
		if (strcmp(modules[i]->name, name) == 0)
			return modules[i];
	return NULL;
}

const struct protocol *const *
protocol_all(void)
{
	return modules;
}
