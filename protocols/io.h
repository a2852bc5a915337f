/* io.h moved to server/io.h: the session's stream is a server service. */
#include "server/io.h"
