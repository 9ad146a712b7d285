/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Permission lists: their wire form ("n0", "r5", "w7", "b3": a letter
 * and a domid) and the access check of 4.17's perm_for_conn().  Entry 0
 * names the owner and the default access; later entries grant access to
 * one domain each, the first match winning.  Privileged connections and
 * the owner (or a domain whose SET_TARGET target is the owner) hold
 * every right, ownership included.
 */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xsd_internal.h"

/* Every right a connection can hold over a node. */
#define XSD_PERM_ALL (XSD_PERM_READ | XSD_PERM_WRITE | XSD_PERM_OWNER)
/* The rights an entry grants (its stored flags aside). */
#define XSD_PERM_RW (XSD_PERM_READ | XSD_PERM_WRITE)

int
xsd_perms_parse(const char *s, unsigned int n, struct xsd_perm *out)
{
	unsigned long v;
	unsigned int i;
	char *end;

	for (i = 0; i < n; i++) {
		switch (s[0]) {
		case 'n':
			out[i].bits = XSD_PERM_NONE;
			break;
		case 'r':
			out[i].bits = XSD_PERM_READ;
			break;
		case 'w':
			out[i].bits = XSD_PERM_WRITE;
			break;
		case 'b':
			out[i].bits = XSD_PERM_RW;
			break;
		default:
			return (-EINVAL);
		}
		/*
		 * libxenstore parses with strtol(, 0), so "0x1f" is a domid;
		 * signs and blanks are not (it always prints "%u").
		 */
		if (s[1] < '0' || s[1] > '9')
			return (-EINVAL);
		errno = 0;
		v = strtoul(s + 1, &end, 0);
		if (*end != '\0' || errno != 0 || v > UINT_MAX)
			return (-EINVAL);
		out[i].domid = (unsigned int)v;
		s = end + 1;
	}
	return (0);
}

size_t
xsd_perms_format(const struct xsd_perm *p, unsigned int n, char *buf,
    size_t cap)
{
	static const char letter[] = { 'n', 'r', 'w', 'b' };
	size_t len = 0;
	unsigned int i;
	int w;

	for (i = 0; i < n; i++) {
		w = snprintf(buf + len, cap - len, "%c%u",
		    letter[p[i].bits & XSD_PERM_RW], p[i].domid);
		if (w < 0 || (size_t)w + 1 > cap - len)
			return (0);
		len += (size_t)w + 1; /* keep the NUL */
	}
	return (len);
}

unsigned int
xsd_perm_for(const struct xsd_conn *c, const struct xsd_perm *p, unsigned int n)
{
	const struct xsd_domain *d;
	unsigned int target = XSD_DOMID_NONE, i;

	if (c->c_priv)
		return (XSD_PERM_ALL);
	if ((d = xsd_dom_find(c->c_core, c->c_domid)) != NULL)
		target = d->d_target;
	if (p[0].domid == c->c_domid ||
	    (target != XSD_DOMID_NONE && p[0].domid == target))
		return (XSD_PERM_ALL);
	for (i = 1; i < n; i++) {
		if (p[i].bits & XSD_PERM_IGNORE)
			continue;
		if (p[i].domid == c->c_domid ||
		    (target != XSD_DOMID_NONE && p[i].domid == target))
			return (p[i].bits & XSD_PERM_RW);
	}
	return (p[0].bits & XSD_PERM_RW);
}

struct xsd_perm *
xsd_perms_dup(const struct xsd_perm *p, unsigned int n)
{
	struct xsd_perm *q;

	if ((q = malloc(n * sizeof(*q))) != NULL)
		memcpy(q, p, n * sizeof(*q));
	return (q);
}
