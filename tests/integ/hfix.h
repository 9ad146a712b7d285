/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A machine with a frontend attached to the scripted hostile backend
 * (hostile.h): the fixture the frontend's hostile-backend tests share.
 */

#ifndef XBD_TESTS_HFIX_H
#define XBD_TESTS_HFIX_H

#include "front/xbd_internal.h"
#include "hostile.h"
#include "platform/sim/hv.h"

/* Bytes of the hostile backend's in-memory disk. */
#define HFIX_DISK (4u * 1024 * 1024)

struct hfix {
	struct hv *f_hv;	  /* the simulated machine */
	struct plat *f_be, *f_fe; /* backend and frontend domains */
	struct xs_handle *f_priv; /* toolstack handle */
	struct hostile f_h;	  /* the hostile backend */
	struct xbd_plat *f_xp;	  /* the frontend's platform wrapper */
	struct xbd_dev *f_dev;	  /* the device (NULL: not attached) */
};

/* Start a machine and a hostile backend; attach; return attach's rc. */
int hfix_up(struct hfix *f, hostile_hook_fn *hook, void *arg,
    const struct hostile_node *nodes, const struct xbd_opts *o);
/* The same on a machine using the XenStore daemon serving xsd_dir. */
int hfix_up_on(struct hfix *f, const char *xsd_dir, hostile_hook_fn *hook,
    void *arg, const struct hostile_node *nodes, const struct xbd_opts *o);
/* Detach (if attached) and tear the machine down. */
void hfix_down(struct hfix *f);
/* The device's state as xbd_get_info reports it. */
int hfix_state(struct hfix *f);
/* The device is in the error state and stays usable as an object. */
void hfix_assert_error(struct hfix *f);

#endif /* XBD_TESTS_HFIX_H */
