/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Watches and the events they produce.  A change of node N fires every
 * watch on N or an ancestor of N (only watches on exactly N for the
 * descendants an RM removes); the special names @introduceDomain and
 * @releaseDomain match only watches on exactly them.  A connection
 * hears an event only if it may read the node (under its new or, for
 * SET_PERMS, old perms) or its parent, and a special event only with
 * read access to the special name's perms (XSA-115).  Inside a
 * transaction events wait for the commit.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xsd_internal.h"

int
xsd_watch_add(struct xsd_conn *c, const char *path, const char *token,
    size_t rel, struct xsd_watch **out)
{
	struct xsd_domain *d;
	struct xsd_watch *w;
	size_t plen = strlen(path), tlen = strlen(token), mem;

	TAILQ_FOREACH(w, &c->c_watches, w_link)
		if (strcmp(w->w_path, path) == 0 &&
		    strcmp(w->w_token, token) == 0)
			return (-EEXIST);
	if ((d = xsd_dom_get(c->c_core, c->c_domid)) == NULL)
		return (-ENOMEM);
	/* 4.17 checks "count > quota": one more than the quota succeeds. */
	if (!c->c_priv && d->d_watches > c->c_core->x_opts.o_watches)
		return (-E2BIG);
	mem = sizeof(*w) + plen + 1 + tlen + 1;
	if ((w = malloc(mem)) == NULL)
		return (-ENOMEM);
	if (!c->c_priv && xsd_dom_charge(c, mem) != 0) {
		free(w);
		return (-ENOMEM);
	}
	w->w_path = (char *)(w + 1);
	w->w_token = w->w_path + plen + 1;
	memcpy(w->w_path, path, plen + 1);
	memcpy(w->w_token, token, tlen + 1);
	w->w_rel = rel;
	w->w_mem = c->c_priv ? 0 : mem;
	TAILQ_INSERT_TAIL(&c->c_watches, w, w_link);
	d->d_watches++;
	*out = w;
	return (0);
}

static void
xsd_watch_free(struct xsd_conn *c, struct xsd_watch *w)
{
	struct xsd_domain *d = xsd_dom_find(c->c_core, c->c_domid);

	TAILQ_REMOVE(&c->c_watches, w, w_link);
	if (d != NULL && d->d_watches > 0)
		d->d_watches--;
	if (w->w_mem > 0)
		xsd_dom_uncharge(c, w->w_mem);
	free(w);
}

int
xsd_watch_remove(struct xsd_conn *c, const char *path, const char *token)
{
	struct xsd_watch *w;

	TAILQ_FOREACH(w, &c->c_watches, w_link) {
		if (strcmp(w->w_path, path) == 0 &&
		    strcmp(w->w_token, token) == 0) {
			xsd_watch_free(c, w);
			return (0);
		}
	}
	return (-ENOENT);
}

void
xsd_watch_remove_all(struct xsd_conn *c)
{
	struct xsd_watch *w;

	while ((w = TAILQ_FIRST(&c->c_watches)) != NULL)
		xsd_watch_free(c, w);
}

void
xsd_watch_event(struct xsd_conn *c, const struct xsd_watch *w, const char *path)
{
	/* A watch registered relative hears relative paths. */
	const char *ep = path + w->w_rel;

	/* Identical pending events merge, the special ones excepted. */
	xsd_conn_event(c, ep, strlen(ep), w->w_token, strlen(w->w_token),
	    path[0] != '@');
}

/* May c hear about path?  4.17's watch_permitted(). */
static bool
xsd_watch_allowed(struct xsd_core *core, const struct xsd_conn *c,
    const char *path, size_t plen, const struct xsd_perm *perms,
    unsigned int nperms, const struct xsd_perm *old, unsigned int nold)
{
	const struct xsd_node *parent;
	int i;

	if (c->c_priv)
		return (true);
	if (path[0] == '@') {
		i = strcmp(path, XSD_INTRODUCE) == 0 ? 0 : 1;
		return (
		    (xsd_perm_for(c, core->x_sperms[i], core->x_nsperms[i]) &
			XSD_PERM_READ) != 0);
	}
	if (nold > 0 && (xsd_perm_for(c, old, nold) & XSD_PERM_READ))
		return (true);
	if (nperms > 0 && (xsd_perm_for(c, perms, nperms) & XSD_PERM_READ))
		return (true);
	if (plen <= 1)
		return (false);
	parent = xsd_tree_find(core, path, xsd_path_parent_len(path, plen));
	return (parent != NULL &&
	    (xsd_perm_for(c, parent->n_perms, parent->n_nperms) &
		XSD_PERM_READ) != 0);
}

void
xsd_watch_deliver(struct xsd_core *core, const char *path, bool exact,
    const struct xsd_perm *perms, unsigned int nperms,
    const struct xsd_perm *old, unsigned int nold)
{
	struct xsd_conn *c;
	struct xsd_watch *w;
	size_t plen = strlen(path);
	int allowed;

	/* Special names match only watches on exactly them. */
	if (path[0] == '@')
		exact = true;
	TAILQ_FOREACH(c, &core->x_conns, c_link) {
		allowed = -1; /* not asked yet: most connections never are */
		TAILQ_FOREACH(w, &c->c_watches, w_link) {
			if (c->c_closing)
				break;
			if (exact ? strcmp(w->w_path, path) != 0 :
				    !xsd_path_within(path, w->w_path,
					strlen(w->w_path)))
				continue;
			if (allowed < 0)
				allowed = xsd_watch_allowed(core, c, path, plen,
				    perms, nperms, old, nold);
			if (!allowed)
				break;
			xsd_watch_event(c, w, path);
		}
	}
}

void
xsd_watch_fire(const struct xsd_view *v, const char *path, bool exact,
    const struct xsd_node *n, const struct xsd_perm *old, unsigned int nold)
{
	if (v->txn != NULL)
		(void)xsd_txn_add_event(v->conn, v->txn, path, exact, n, old,
		    nold);
	else
		xsd_watch_deliver(v->core, path, exact, n->n_perms, n->n_nperms,
		    old, nold);
}
