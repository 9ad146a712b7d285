/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Transactions, the lazy optimistic way 4.17 does them (not the
 * snapshot xenstore.txt describes): the first access to a node records
 * its generation (or that it was absent) and copies it privately; reads
 * see the copy, or the live tree for nodes not touched yet; writes go to
 * the copy.  Commit fails with EAGAIN if any touched node changed
 * meanwhile, else writes the modified copies back with fresh
 * generations and fires the queued events.  Abort fires nothing.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xsd_internal.h"

/* Record bits of r_events: which kind of event the node already queued. */
#define XSD_TEV_SUBTREE 1u
#define XSD_TEV_EXACT 2u

struct xsd_txn *
xsd_txn_find(const struct xsd_conn *c, uint32_t id)
{
	struct xsd_txn *t;

	TAILQ_FOREACH(t, &c->c_txns, t_link)
		if (t->t_id == id)
			return (t);
	return (NULL);
}

int
xsd_txn_start(struct xsd_conn *c, struct xsd_txn **out)
{
	struct xsd_txn *t;

	/* 4.17 checks "started > quota": one more than the quota opens. */
	if (!c->c_priv && c->c_ntxns > c->c_core->x_opts.o_transactions)
		return (-ENOSPC);
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return (-ENOMEM);
	if (xsd_htab_init(&t->t_recs) != 0) {
		free(t);
		return (-ENOMEM);
	}
	TAILQ_INIT(&t->t_order);
	TAILQ_INIT(&t->t_events);
	/* Ids count per connection from 1, skipping 0 and ids in use. */
	do {
		t->t_id = c->c_next_txid++;
	} while (t->t_id == 0 || xsd_txn_find(c, t->t_id) != NULL);
	TAILQ_INSERT_TAIL(&c->c_txns, t, t_link);
	c->c_ntxns++;
	*out = t;
	return (0);
}

struct xsd_trec *
xsd_txn_rec(const struct xsd_txn *t, const char *path, size_t len)
{
	struct xsd_hent *e = xsd_htab_find(&t->t_recs, path, len);

	return (e != NULL ? XSD_CONTAINER(e, struct xsd_trec, r_hent) : NULL);
}

int
xsd_txn_access(struct xsd_conn *c, struct xsd_txn *t, const char *path,
    size_t len, struct xsd_trec **out)
{
	struct xsd_node *g;
	struct xsd_trec *r;
	size_t cost;

	/* Touching too many nodes fails the whole transaction (XSA-326). */
	if (!c->c_priv && t->t_nrecs >= c->c_core->x_opts.o_txn_nodes) {
		t->t_failed = true;
		return (-ENOSPC);
	}
	g = xsd_tree_find(c->c_core, path, len);
	cost = sizeof(*r) + len + 1;
	if (g != NULL)
		cost += sizeof(*g) + len + 1 + xsd_node_size(g);
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->r_path = malloc(len + 1)) == NULL ||
	    (g != NULL && (r->r_node = xsd_node_dup(g)) == NULL) ||
	    (!c->c_priv && xsd_dom_charge(c, cost) != 0)) {
		if (r != NULL) {
			xsd_node_free(r->r_node);
			free(r->r_path);
			free(r);
		}
		t->t_failed = true;
		return (-ENOMEM);
	}
	if (!c->c_priv)
		t->t_mem += cost;
	memcpy(r->r_path, path, len);
	r->r_path[len] = '\0';
	r->r_hent.he_key = r->r_path;
	r->r_hent.he_keylen = len;
	r->r_gen = g != NULL ? g->n_gen : XSD_NO_GEN;
	xsd_htab_insert(&t->t_recs, &r->r_hent);
	TAILQ_INSERT_TAIL(&t->t_order, r, r_link);
	t->t_nrecs++;
	*out = r;
	return (0);
}

int
xsd_txn_add_event(struct xsd_conn *c, struct xsd_txn *t, const char *path,
    bool exact, const struct xsd_node *n, const struct xsd_perm *old,
    unsigned int nold)
{
	struct xsd_tevent *e;
	struct xsd_trec *r;
	size_t len = strlen(path), cost;
	unsigned int bit = exact ? XSD_TEV_EXACT : XSD_TEV_SUBTREE;

	/*
	 * Every event is about a node the transaction touched; one event of
	 * each kind per node is enough (the client would merge duplicates
	 * anyway), and it bounds the queue by the touched-node quota.
	 */
	r = xsd_txn_rec(t, path, len);
	if (r != NULL && (r->r_events & bit))
		return (0);
	/* Long paths make these as big as the copies: charged alike. */
	cost = sizeof(*e) + len + 1 +
	    (n->n_nperms + nold) * sizeof(struct xsd_perm);
	if (!c->c_priv) {
		if (xsd_dom_charge(c, cost) != 0)
			goto nomem;
		t->t_mem += cost;
	}
	if ((e = calloc(1, sizeof(*e) + len + 1)) == NULL)
		goto nomem;
	memcpy(e->e_path, path, len + 1);
	e->e_exact = exact;
	if ((e->e_perms = xsd_perms_dup(n->n_perms, n->n_nperms)) == NULL ||
	    (nold > 0 && (e->e_old = xsd_perms_dup(old, nold)) == NULL)) {
		free(e->e_perms);
		free(e);
		goto nomem;
	}
	e->e_nperms = n->n_nperms;
	e->e_nold = nold;
	TAILQ_INSERT_TAIL(&t->t_events, e, e_link);
	if (r != NULL)
		r->r_events |= bit;
	return (0);
nomem:
	t->t_failed = true;
	return (-ENOMEM);
}

/*
 * Bytes the global nodes c's domain owns grow by if t commits (the
 * nodes it owns after minus before), or 0 if they shrink.
 */
static size_t
xsd_txn_growth(const struct xsd_conn *c, const struct xsd_txn *t)
{
	const struct xsd_trec *r;
	const struct xsd_node *g;
	size_t add = 0, sub = 0;

	TAILQ_FOREACH(r, &t->t_order, r_link) {
		if (!r->r_modified)
			continue;
		g = xsd_tree_find(c->c_core, r->r_path, r->r_hent.he_keylen);
		if (g != NULL && g->n_memdom == c->c_domid)
			sub += g->n_mem;
		if (r->r_node != NULL &&
		    r->r_node->n_perms[0].domid == c->c_domid)
			add += xsd_node_mem(r->r_node);
	}
	return (add > sub ? add - sub : 0);
}

/* Check, then apply; nothing is applied unless everything checks. */
static int
xsd_txn_commit(struct xsd_conn *c, struct xsd_txn *t)
{
	struct xsd_core *core = c->c_core;
	struct xsd_domain *d;
	struct xsd_tevent *e;
	struct xsd_trec *r;
	struct xsd_node *g, *n;
	unsigned int i;

	if (t->t_failed)
		return (-ENOMEM);
	TAILQ_FOREACH(r, &t->t_order, r_link) {
		g = xsd_tree_find(core, r->r_path, r->r_hent.he_keylen);
		if (r->r_gen == XSD_NO_GEN ?
			g != NULL :
			(g == NULL || g->n_gen != r->r_gen))
			return (-EAGAIN);
		/*
		 * An owner released (or released and reused) since the copy
		 * was made is a conflict too: it must not own nodes again.
		 */
		n = r->r_node;
		if (r->r_modified && n != NULL &&
		    !xsd_dom_valid(core, n->n_perms[0].domid, n->n_gen))
			return (-EAGAIN);
	}
	if (!c->c_priv && t->t_delta > 0) {
		d = xsd_dom_find(core, c->c_domid);
		if ((d != NULL ? d->d_nodes : 0) + t->t_delta >
		    (long)core->x_opts.o_nodes)
			return (-ENOSPC);
	}
	/*
	 * The copies' charge goes when t does; the nodes they become must
	 * fit the memory quota in its place.
	 */
	if (!c->c_priv && (d = xsd_dom_find(core, c->c_domid)) != NULL &&
	    d->d_mem - t->t_mem + xsd_txn_growth(c, t) > core->x_opts.o_memory)
		return (-ENOMEM);
	TAILQ_FOREACH(r, &t->t_order, r_link) {
		if (!r->r_modified)
			continue;
		g = xsd_tree_find(core, r->r_path, r->r_hent.he_keylen);
		if (g != NULL) {
			xsd_htab_remove(&core->x_nodes, &g->n_hent);
			xsd_dom_nodes_add(core, g->n_perms[0].domid, -1);
			xsd_node_unaccount(core, g);
			xsd_node_free(g);
		}
		if ((n = r->r_node) == NULL)
			continue;
		r->r_node = NULL;
		/* Entries for domains gone since the copy changed: void. */
		for (i = 1; i < n->n_nperms; i++)
			if (!xsd_dom_valid(core, n->n_perms[i].domid, n->n_gen))
				n->n_perms[i].bits |= XSD_PERM_IGNORE;
		n->n_gen = ++core->x_gen;
		xsd_htab_insert(&core->x_nodes, &n->n_hent);
		xsd_dom_nodes_add(core, n->n_perms[0].domid, 1);
		xsd_node_account(core, n);
	}
	TAILQ_FOREACH(e, &t->t_events, e_link)
		xsd_watch_deliver(core, e->e_path, e->e_exact, e->e_perms,
		    e->e_nperms, e->e_old, e->e_nold);
	return (0);
}

static void
xsd_txn_free(struct xsd_conn *c, struct xsd_txn *t)
{
	struct xsd_tevent *e, *etmp;
	struct xsd_trec *r, *rtmp;

	TAILQ_REMOVE(&c->c_txns, t, t_link);
	c->c_ntxns--;
	TAILQ_FOREACH_SAFE(r, &t->t_order, r_link, rtmp) {
		xsd_node_free(r->r_node);
		free(r->r_path);
		free(r);
	}
	TAILQ_FOREACH_SAFE(e, &t->t_events, e_link, etmp) {
		free(e->e_perms);
		free(e->e_old);
		free(e);
	}
	xsd_htab_fini(&t->t_recs);
	if (t->t_mem > 0)
		xsd_dom_uncharge(c, t->t_mem);
	free(t);
}

int
xsd_txn_end(struct xsd_conn *c, struct xsd_txn *t, bool commit)
{
	int rc = 0;

	if (commit)
		rc = xsd_txn_commit(c, t);
	xsd_txn_free(c, t);
	return (rc);
}

void
xsd_txn_abort_all(struct xsd_conn *c)
{
	struct xsd_txn *t;

	while ((t = TAILQ_FIRST(&c->c_txns)) != NULL)
		xsd_txn_free(c, t);
}
