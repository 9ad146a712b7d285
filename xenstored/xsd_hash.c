/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The daemon's containers.  A string-keyed hash table with intrusive
 * entries: the node store and each transaction's accessed-node set.
 * Lookups are O(1) so that wide directories and deep trees cost no more
 * than a path walk; the table doubles when it gets as full as it has
 * buckets, and simply keeps its size if that allocation fails (chains
 * get longer, nothing breaks).  And the growable array the tree walks
 * use as their explicit stack.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xsd_internal.h"

/* Buckets of a new table: small, since most transactions touch few. */
#define XSD_HTAB_MIN 16

/* FNV-1a: short keys, good spread, no state. */
static uint32_t
xsd_hash(const char *key, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 16777619u;
	}
	return (h);
}

int
xsd_htab_init(struct xsd_htab *ht)
{
	ht->ht_bucket = calloc(XSD_HTAB_MIN, sizeof(*ht->ht_bucket));
	if (ht->ht_bucket == NULL)
		return (-ENOMEM);
	ht->ht_size = XSD_HTAB_MIN;
	ht->ht_count = 0;
	return (0);
}

void
xsd_htab_fini(struct xsd_htab *ht)
{
	free(ht->ht_bucket);
	ht->ht_bucket = NULL;
	ht->ht_size = ht->ht_count = 0;
}

struct xsd_hent *
xsd_htab_find(const struct xsd_htab *ht, const char *key, size_t len)
{
	struct xsd_hent *e;
	uint32_t h = xsd_hash(key, len);

	for (e = ht->ht_bucket[h & (ht->ht_size - 1)]; e != NULL;
	     e = e->he_next)
		if (e->he_hash == h && e->he_keylen == len &&
		    memcmp(e->he_key, key, len) == 0)
			return (e);
	return (NULL);
}

static void
xsd_htab_grow(struct xsd_htab *ht)
{
	struct xsd_hent **nb, *e, *next;
	size_t i, nsize = ht->ht_size * 2;

	if ((nb = calloc(nsize, sizeof(*nb))) == NULL)
		return;
	for (i = 0; i < ht->ht_size; i++) {
		for (e = ht->ht_bucket[i]; e != NULL; e = next) {
			next = e->he_next;
			e->he_next = nb[e->he_hash & (nsize - 1)];
			nb[e->he_hash & (nsize - 1)] = e;
		}
	}
	free(ht->ht_bucket);
	ht->ht_bucket = nb;
	ht->ht_size = nsize;
}

void
xsd_htab_insert(struct xsd_htab *ht, struct xsd_hent *e)
{
	struct xsd_hent **b;

	if (ht->ht_count >= ht->ht_size)
		xsd_htab_grow(ht);
	e->he_hash = xsd_hash(e->he_key, e->he_keylen);
	b = &ht->ht_bucket[e->he_hash & (ht->ht_size - 1)];
	e->he_next = *b;
	*b = e;
	ht->ht_count++;
}

void
xsd_htab_remove(struct xsd_htab *ht, struct xsd_hent *e)
{
	struct xsd_hent **pp;

	for (pp = &ht->ht_bucket[e->he_hash & (ht->ht_size - 1)]; *pp != NULL;
	     pp = &(*pp)->he_next) {
		if (*pp == e) {
			*pp = e->he_next;
			e->he_next = NULL;
			ht->ht_count--;
			return;
		}
	}
}

struct xsd_hent *
xsd_htab_next(const struct xsd_htab *ht, const struct xsd_hent *prev)
{
	size_t i = 0;

	if (prev != NULL) {
		if (prev->he_next != NULL)
			return (prev->he_next);
		i = (prev->he_hash & (ht->ht_size - 1)) + 1;
	}
	for (; i < ht->ht_size; i++)
		if (ht->ht_bucket[i] != NULL)
			return (ht->ht_bucket[i]);
	return (NULL);
}

void *
xsd_grow(void *arr, size_t *cap, size_t n, size_t esz)
{
	size_t ncap;

	if (n <= *cap)
		return (arr);
	ncap = *cap < 16 ? 16 : *cap * 2;
	if (ncap < n)
		ncap = n;
	if ((arr = realloc(arr, ncap * esz)) != NULL)
		*cap = ncap;
	return (arr);
}
