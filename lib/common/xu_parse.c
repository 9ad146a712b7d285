/* SPDX-License-Identifier: BSD-2-Clause */
/* Strict number parsing; see xu_parse.h. */

#include <errno.h>
#include <string.h>

#include "xu_parse.h"

/*
 * Most digits after the point.  Nine keep the scaled fraction of a size
 * (below 10^9, times at most 2^31 after the common factor 2^9 of 10^9
 * and 2^40) within 64 bits.
 */
#define XU_FRAC_DIGITS 9

/* A decimal number as written: whole part, digits after the point. */
struct xu_decimal {
	uint64_t d_whole;	/* before the point */
	uint64_t d_frac;	/* the digits after it, as a number */
	unsigned int d_ndigits; /* how many digits there were (0..9) */
};

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

/*
 * Split the n characters at s, "D+" or "D+.D+", into the whole part, the
 * digits after the point as a number, and how many there are.
 */
static int
xu_split_decimal(const char *s, size_t n, struct xu_decimal *d)
{
	char buf[32];
	const char *dot;
	size_t w;
	uint64_t f;
	int rc;

	if (n == 0 || n >= sizeof(buf))
		return (n == 0 ? -EINVAL : -ERANGE);
	memcpy(buf, s, n);
	buf[n] = '\0';
	d->d_frac = 0;
	d->d_ndigits = 0;
	if ((dot = strchr(buf, '.')) == NULL)
		return (xu_parse_u64(buf, UINT64_MAX, &d->d_whole));
	w = (size_t)(dot - buf);
	if (w == 0 || strlen(dot + 1) > XU_FRAC_DIGITS)
		return (-EINVAL);
	buf[w] = '\0';
	if ((rc = xu_parse_u64(buf, UINT64_MAX, &d->d_whole)) != 0 ||
	    (rc = xu_parse_u64(dot + 1, UINT64_MAX, &f)) != 0)
		return (rc);
	d->d_frac = f;
	d->d_ndigits = (unsigned int)strlen(dot + 1);
	return (0);
}

/* "D+" or "D+.D+" filling all of s. */
static int
xu_parse_decimal(const char *s, struct xu_decimal *d)
{
	if (s == NULL)
		return (-EINVAL);
	if (strspn(s, "0123456789.") != strlen(s))
		return (-EINVAL);
	return (xu_split_decimal(s, strlen(s), d));
}

static uint64_t
xu_pow(uint64_t b, unsigned int e)
{
	uint64_t v = 1;

	while (e-- > 0)
		v *= b;
	return (v);
}

/*
 * whole << shift plus the fraction's share of 1 << shift, which must be
 * a whole number: "1.5K" is 1536 bytes, "1.1K" no number of bytes.
 */
static int
xu_scale(const struct xu_decimal *d, unsigned int shift, uint64_t *out)
{
	uint64_t num, den, fb;

	if (d->d_whole > (UINT64_MAX >> shift))
		return (-ERANGE);
	/* 10^k = 2^k * 5^k: cancel the twos against the shift first. */
	if (shift >= d->d_ndigits) {
		num = d->d_frac << (shift - d->d_ndigits);
		den = xu_pow(5, d->d_ndigits);
	} else {
		num = d->d_frac << shift;
		den = xu_pow(10, d->d_ndigits);
	}
	if (num % den != 0)
		return (-EINVAL);
	fb = num / den;
	if ((d->d_whole << shift) > UINT64_MAX - fb)
		return (-ERANGE);
	*out = (d->d_whole << shift) + fb;
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
	struct xu_decimal d;
	size_t n, i;
	int rc;

	if (s == NULL)
		return (-EINVAL);
	n = strspn(s, "0123456789.");
	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		if (strcmp(s + n, sfx[i].sfx) != 0)
			continue;
		if ((rc = xu_split_decimal(s, n, &d)) != 0)
			return (rc);
		return (xu_scale(&d, sfx[i].shift, out));
	}
	return (-EINVAL);
}

int
xu_parse_milli(const char *s, uint64_t max, uint64_t *out)
{
	struct xu_decimal d;
	uint64_t f;
	int rc;

	if ((rc = xu_parse_decimal(s, &d)) != 0)
		return (rc);
	/* Digits past the third must be zeros: nothing is rounded. */
	if (d.d_ndigits > 3) {
		f = xu_pow(10, d.d_ndigits - 3);
		if (d.d_frac % f != 0)
			return (-EINVAL);
		d.d_frac /= f;
		d.d_ndigits = 3;
	}
	f = d.d_frac * xu_pow(10, 3 - d.d_ndigits);
	if (d.d_whole > max / 1000 || d.d_whole * 1000 > max - f)
		return (-ERANGE);
	*out = d.d_whole * 1000 + f;
	return (0);
}
