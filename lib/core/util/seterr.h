/* SPDX-License-Identifier: BSD-3-Clause */
/* Private to gcdl's libraries: the one way error messages are written. */
#ifndef GCDL_SETERR_H
#define GCDL_SETERR_H

#include <stddef.h>

/* printf into err (when err is not NULL and errlen > 0). */
void gcdl_seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* GCDL_SETERR_H */
