/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the backend's XenBus fuzz targets share: a machine with a guest
 * that owns two granted ring pages and an unbound event channel, and the
 * transport nodes that guest writes from the input (honest, missing,
 * nasty or raw).
 */

#ifndef XBD_FUZZ_FZ_BACK_H
#define XBD_FUZZ_FZ_BACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fz_sim.h"
#include "xenbus/xbus.h"

#define FZ_BACK_PAGES 2 /* ring pages the frontend grants */

struct fz_back {
	struct fz_sim b_sim;		   /* the machine */
	struct xs_handle *b_fxs;	   /* XenStore as the guest */
	grant_ref_t b_refs[FZ_BACK_PAGES]; /* the ring pages' grants */
	unsigned char *b_ring;		   /* the ring pages */
	struct plat_evtchn *b_ev;	   /* the guest's channel handle */
	evtchn_port_t b_port;		   /* its unbound port */
	char b_img[64];			   /* the backing image file */
	char b_fe_dir[128], b_be_dir[128]; /* the vbd's two directories */
};

/* The states a frontend script picks from. */
extern const char *const fz_back_states[];
extern const size_t fz_back_nstates;

/* Build the machine, without a backend (the caller starts one). */
void fz_back_machine(struct fz_back *b);
/* The vbd of the targets, as the toolstack describes it. */
struct xbus_vbd fz_back_vbd(struct fz_back *b);
/* Fresh ring pages, as SHARED_RING_INIT leaves them. */
void fz_back_ring_reset(struct fz_back *b);
/*
 * Write the transport nodes as the input says; return bytes used.  In a
 * directory that is not fresh, a node the input leaves out is removed
 * (or gets back what the toolstack wrote), as if it were.
 */
size_t fz_back_nodes_write(struct fz_back *b, const uint8_t *p, size_t size,
    bool fresh);
/* Write the frontend's state node. */
void fz_back_state(struct fz_back *b, const char *state);

#endif /* XBD_FUZZ_FZ_BACK_H */
