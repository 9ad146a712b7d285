/* SPDX-License-Identifier: BSD-2-Clause */
/* Strict number parsing; see xu_parse.h. */

#include <errno.h>
#include <string.h>

#include "xu_parse.h"

int
xu_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	unsigned int d;

	if (s == NULL || *s == '\0')
		return (-EINVAL);
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return (-EINVAL);
		d = (unsigned int)(*s - '0');
		if (d > max || v > (max - d) / 10)
			return (-ERANGE);
		v = v * 10 + d;
	}
	*out = v;
	return (0);
}

int
xu_parse_u32(const char *s, uint32_t *out)
{
	uint64_t v;
	int rc;

	if ((rc = xu_parse_u64(s, UINT32_MAX, &v)) != 0)
		return (rc);
	*out = (uint32_t)v;
	return (0);
}

int
xu_parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char *sfx;
		unsigned int shift;
	} sfx[] = {
		{ "", 0 },
		{ "K", 10 },
		{ "KiB", 10 },
		{ "k", 10 },
		{ "M", 20 },
		{ "MiB", 20 },
		{ "m", 20 },
		{ "G", 30 },
		{ "GiB", 30 },
		{ "g", 30 },
		{ "T", 40 },
		{ "TiB", 40 },
		{ "t", 40 },
	};
	char num[32];
	size_t n, i;
	uint64_t v;
	int rc;

	if (s == NULL)
		return (-EINVAL);
	n = strspn(s, "0123456789");
	if (n == 0 || n >= sizeof(num))
		return (n == 0 ? -EINVAL : -ERANGE);
	memcpy(num, s, n);
	num[n] = '\0';
	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		if (strcmp(s + n, sfx[i].sfx) != 0)
			continue;
		if ((rc = xu_parse_u64(num, UINT64_MAX >> sfx[i].shift, &v)) !=
		    0)
			return (rc);
		*out = v << sfx[i].shift;
		return (0);
	}
	return (-EINVAL);
}
