/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The machine of the frontend's tests against scripted, hostile backends
 * (hostile-backend, suspend/resume and wire-format tests): a
 * simulated hypervisor with the frontend in domain 1 and a hostile backend
 * (hostile.h) in domain 0, plus the means to replace that backend by a
 * new one in another domain, as a toolstack does when a suspended guest
 * resumes elsewhere.
 */

#ifndef XBD_TESTS_SFIX_H
#define XBD_TESTS_SFIX_H

#include "front/xbd_internal.h"
#include "hostile.h"
#include "platform/sim/hv.h"

/* Bytes of each hostile backend's in-memory disk. */
#define SFIX_DISK (4u * 1024 * 1024)

/* Backends a fixture may start over its life (domains 0, 2, 3, ...). */
#define SFIX_MAX_BACKENDS 2

struct sfix {
	struct hv *f_hv;		       /* the machine */
	struct plat *f_fe;		       /* frontend domain 1 */
	struct xs_handle *f_priv;	       /* toolstack handle */
	struct xbd_plat *f_xp;		       /* frontend's platform */
	struct xbd_dev *f_dev;		       /* the device (or NULL) */
	int f_nbe;			       /* backends started */
	struct plat *f_be[SFIX_MAX_BACKENDS];  /* their domains */
	struct hostile f_h[SFIX_MAX_BACKENDS]; /* the backends */
};

/*
 * Start the machine and a backend answering through hook with nodes
 * published, and attach with o (NULL: defaults).  Returns attach's rc.
 */
int sfix_up(struct sfix *f, hostile_hook_fn *hook, void *arg,
    const struct hostile_node *nodes, const struct xbd_opts *o);

/* The same on a machine using the XenStore daemon serving xsd_dir. */
int sfix_up_on(struct sfix *f, const char *xsd_dir, hostile_hook_fn *hook,
    void *arg, const struct hostile_node *nodes, const struct xbd_opts *o);

/*
 * Start another backend in the next domain for the same vbd; the
 * frontend directory then names it.
 */
struct hostile *sfix_new_backend(struct sfix *f, hostile_hook_fn *hook,
    void *arg, const struct hostile_node *nodes);

/* The newest backend. */
struct hostile *sfix_backend(struct sfix *f);

/* Detach, stop every backend, destroy the machine. */
void sfix_down(struct sfix *f);

/* The device's xi_state. */
int sfix_state(struct sfix *f);

/* The device's statistics. */
void sfix_stats(struct sfix *f, struct xbd_stats *st);

/* The device is in the error state and stays usable as an object. */
void sfix_assert_error(struct sfix *f);

#endif /* XBD_TESTS_SFIX_H */
