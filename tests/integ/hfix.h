/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A machine for the frontend's scripted-backend tests: a simulated
 * hypervisor with the frontend in domain 1 and a hostile backend
 * (hostile.h) in domain 0, plus the means to replace that backend by a
 * new one in another domain, as a toolstack does when a suspended guest
 * resumes elsewhere.
 */

#ifndef XBD_TESTS_HFIX_H
#define XBD_TESTS_HFIX_H

#include "front/xbd_internal.h"
#include "hostile.h"
#include "platform/sim/hv.h"

/* Backends a fixture may start over its life (domains 0, 2, 3, ...). */
#define HFIX_MAX_BACKENDS 2

struct hfix {
	struct hv *f_hv;		       /* the machine */
	struct plat *f_fe;		       /* frontend domain 1 */
	struct xs_handle *f_priv;	       /* toolstack handle */
	struct xbd_plat *f_xp;		       /* frontend's platform */
	struct xbd_dev *f_dev;		       /* the device (or NULL) */
	int f_nbe;			       /* backends started */
	struct plat *f_be[HFIX_MAX_BACKENDS];  /* their domains */
	struct hostile f_h[HFIX_MAX_BACKENDS]; /* the backends */
};

/*
 * Start the machine and a backend answering through hook with nodes
 * published, and attach with o (NULL: defaults).  Returns attach's rc.
 */
int hfix_up(struct hfix *f, hostile_hook_fn *hook, void *arg,
    const struct hostile_node *nodes, const struct xbd_opts *o);

/*
 * Start another backend in the next domain for the same vbd; the
 * frontend directory then names it.
 */
struct hostile *hfix_new_backend(struct hfix *f, hostile_hook_fn *hook,
    void *arg, const struct hostile_node *nodes);

/* The newest backend. */
struct hostile *hfix_backend(struct hfix *f);

/* Detach, stop every backend, destroy the machine. */
void hfix_down(struct hfix *f);

/* The device's xi_state. */
int hfix_state(struct hfix *f);

/* The device's statistics. */
void hfix_stats(struct hfix *f, struct xbd_stats *st);

#endif /* XBD_TESTS_HFIX_H */
