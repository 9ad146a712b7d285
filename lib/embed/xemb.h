/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The embedded default: a whole simulated machine in this process, with
 * a backend domain (0, also the toolstack) serving one image through xbb
 * and a frontend domain (1) to which the image is xvda.  `xbd run`,
 * `xbd bench`, the nbdkit plugin and the end-to-end tests all start
 * their disk this way.
 */

#ifndef XBD_XEMB_H
#define XBD_XEMB_H

#include <stdbool.h>
#include <stdint.h>

#include "back/xbb.h"
#include "xbd/xbd.h"
#include "xenbus/xbus.h"

struct hv;
struct xemb;

struct xemb_opts {
	size_t o_size;		      /* sizeof(struct xemb_opts) */
	const char *o_image;	      /* the file or block device served */
	bool o_readonly;	      /* vbd mode "r" */
	bool o_untrusted;	      /* frontend's trusted = 0 */
	uint32_t o_grant_entries;     /* grant table size (0: default) */
	const struct xbb_opts *o_xbb; /* backend options (NULL: defaults) */
};

void xemb_opts_init(struct xemb_opts *o);

/*
 * Start the machine and the backend, create the vbd.
 * \return 0, -ENOSYS/-EPERM (no io_uring), -errno.
 */
int xemb_start(const struct xemb_opts *o, struct xemb **out);

/* Remove the vbd, stop the backend and the machine. */
void xemb_stop(struct xemb *e);

/* The frontend domain's platform (for xbd_attach); owned by e. */
struct xbd_plat *xemb_plat(struct xemb *e);

/* The backend, for its statistics and resize. */
struct xbb *xemb_backend(struct xemb *e);

/* The toolstack's XenStore handle and the vbd it created. */
struct xs_handle *xemb_xs(struct xemb *e);
const struct xbus_vbd *xemb_vbd(struct xemb *e);

/* The XenStore directory of the machine. */
const char *xemb_dir(struct xemb *e);

/* The simulated machine (its domains' resource usage, for tests). */
struct hv *xemb_hv(struct xemb *e);

/*
 * Stop the backend as if its driver domain's process died, and start a
 * new one with the same options: it finds the vbds in XenStore again.
 */
int xemb_backend_restart(struct xemb *e);

#endif /* XBD_XEMB_H */
