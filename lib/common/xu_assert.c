/* SPDX-License-Identifier: BSD-2-Clause */
/* The message formatter behind XU_ASSERT. */

#include <stdarg.h>
#include <stdio.h>

#include "xu_assert.h"

const char *
xu_assert_fmt(const char *fmt, ...)
{
	static _Thread_local char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return (buf);
}
