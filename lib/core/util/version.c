/* SPDX-License-Identifier: BSD-3-Clause */
#include "gcdl/version.h"

#include "gcdl_vcs.h"

const char *
gcdl_version(void)
{
	return GCDL_PROJECT_VERSION;
}

const char *
gcdl_version_vcs(void)
{
	return GCDL_VCS_DESCRIBE;
}

void
gcdl_version_print(FILE *out, const char *program)
{
	fprintf(out, "%s %s (git %s)\nSPDX-License-Identifier: BSD-3-Clause (see LICENSE)\n",
		program, gcdl_version(), gcdl_version_vcs());
}
