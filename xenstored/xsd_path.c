/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Paths as clients send them and as the store keys them.  Every path a
 * request names goes through xsd_path_canon() once: relative paths are
 * resolved under the caller's home first and every limit is checked on
 * the result, so a short relative path cannot expand past a limit
 * (XSA-323), and "/local/domain/" with an empty component is rejected
 * like any trailing slash (XSA-481).  Also the strict number parser all
 * request arguments use.
 */

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "xsd_internal.h"

/* The prefix under which 4.17 measures the path-length quota. */
#define XSD_DOMAIN_PREFIX "/local/domain/"
/* 4.17 reads the domid of that prefix with "%5u". */
#define XSD_DOMID_DIGITS 5

static bool
xsd_path_char_ok(char ch)
{
	return ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch == '-' || ch == '/' || ch == '_' ||
	    ch == '@');
}

/* Syntax of a canonical path of len bytes. */
static bool
xsd_path_syntax_ok(const char *p, size_t len)
{
	size_t i;

	if (len == 0 || p[0] != '/')
		return (false);
	if (len > 1 && p[len - 1] == '/')
		return (false);
	for (i = 0; i < len; i++) {
		if (!xsd_path_char_ok(p[i]))
			return (false);
		if (p[i] == '/' && i + 1 < len && p[i + 1] == '/')
			return (false);
	}
	return (true);
}

/*
 * Bytes of p below a "/local/domain/<domid>/" prefix, or all of them when
 * there is no such prefix: what 4.17's path-length quota measures.
 */
static size_t
xsd_path_below_home(const char *p, size_t len)
{
	size_t pre = sizeof(XSD_DOMAIN_PREFIX) - 1, i;

	if (len <= pre || memcmp(p, XSD_DOMAIN_PREFIX, pre) != 0)
		return (len);
	for (i = pre; i < len && i - pre < XSD_DOMID_DIGITS; i++)
		if (p[i] < '0' || p[i] > '9')
			break;
	if (i == pre || i >= len || p[i] != '/')
		return (len);
	return (len - (i + 1));
}

int
xsd_path_canon(const struct xsd_conn *c, const char *in, char *out)
{
	size_t len = strlen(in), n;

	if (in[0] == '/') {
		if (len > XENSTORE_ABS_PATH_MAX)
			return (-EINVAL);
		memcpy(out, in, len + 1);
		n = len;
	} else {
		/* '@' names are special watch names, never nodes. */
		if (in[0] == '@' || len > XENSTORE_REL_PATH_MAX)
			return (-EINVAL);
		n = c->c_homelen + 1 + len;
		if (n > XENSTORE_ABS_PATH_MAX)
			return (-EINVAL);
		memcpy(out, c->c_home, c->c_homelen);
		out[c->c_homelen] = '/';
		memcpy(out + c->c_homelen + 1, in, len + 1);
	}
	if (!xsd_path_syntax_ok(out, n))
		return (-EINVAL);
	if (!c->c_priv &&
	    xsd_path_below_home(out, n) > c->c_core->x_opts.o_path_max)
		return (-EINVAL);
	return ((int)n);
}

bool
xsd_path_within(const char *p, const char *a, size_t alen)
{
	if (alen == 1 && a[0] == '/')
		return (p[0] == '/');
	return (
	    strncmp(p, a, alen) == 0 && (p[alen] == '\0' || p[alen] == '/'));
}

size_t
xsd_path_child(const char *parent, size_t plen, const char *name, size_t nlen,
    char *out)
{
	/* The root's children are "/name", not "//name". */
	if (plen == 1)
		plen = 0;
	if (plen + 1 + nlen > XENSTORE_ABS_PATH_MAX)
		return (0);
	memcpy(out, parent, plen);
	out[plen] = '/';
	memcpy(out + plen + 1, name, nlen);
	out[plen + 1 + nlen] = '\0';
	return (plen + 1 + nlen);
}

size_t
xsd_path_parent_len(const char *p, size_t len)
{
	while (len > 1 && p[len - 1] != '/')
		len--;
	return (len > 1 ? len - 1 : 1);
}

bool
xsd_path_is_special(const char *name)
{
	return (
	    strcmp(name, XSD_INTRODUCE) == 0 || strcmp(name, XSD_RELEASE) == 0);
}

int
xsd_parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0, d;

	if (*s == '\0')
		return (-EINVAL);
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return (-EINVAL);
		d = (unsigned long)(*s - '0');
		if (d > max || v > (max - d) / 10)
			return (-EINVAL);
		v = v * 10 + d;
	}
	*out = v;
	return (0);
}
