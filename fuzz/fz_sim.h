/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The simulated machine the stateful fuzz targets keep between inputs:
 * a hypervisor with a backend domain 0 and a guest domain 1.
 */

#ifndef XBD_FUZZ_FZ_SIM_H
#define XBD_FUZZ_FZ_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "front/xbd_internal.h"
#include "integ/hostile.h"
#include "platform/sim/hv.h"

struct fz_sim {
	struct hv *s_hv;	  /* the machine */
	struct plat *s_be;	  /* domain 0: the backend */
	struct plat *s_fe;	  /* domain 1: the guest */
	struct xs_handle *s_priv; /* toolstack handle */
	struct xbd_plat *s_xp;	  /* the guest's frontend platform */
};

/* Build the machine; abort if it cannot be had. */
void fz_sim_start(struct fz_sim *s);
/*
 * Start the machine if need be and prepare the scripted backend of the
 * tests on it for vbd xvda of domain 1 (a 1 MiB disk); the caller adds
 * its nodes and hook, then calls hostile_start.
 */
void fz_sim_hostile(struct fz_sim *s, struct hostile *h);
/*
 * Start the machine if need be and create vbd xvda of domain 1 whose
 * backend half the caller plays: *bxs is domain 0's XenStore handle, be
 * (belen bytes) gets the backend directory.
 */
void fz_sim_vbd(struct fz_sim *s, struct xs_handle **bxs, char *be,
    size_t belen);
/* Report a broken invariant of the target and abort (the finding). */
void fz_die(const char *why);
/* CLOCK_MONOTONIC in milliseconds. */
uint64_t fz_now_ms(void);

#endif /* XBD_FUZZ_FZ_SIM_H */
