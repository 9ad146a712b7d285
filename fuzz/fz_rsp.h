/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The response scripts fuzz_xbd_rsp and fuzz_xbd_int share: the bios an
 * input submits and the steps that answer them.
 *
 * Input: [nbios][per bio: cmd, pages, offset]... then 4-byte steps:
 *   0 k st op  answer request k; st picks OKAY/ERROR/EOPNOTSUPP/raw
 *              status, op bit 7 sends op & 0x7f instead of the right op
 *   1 lo hi op answer id lo | hi << 8 with operation op
 *   2 d  -  -  move the response producer by (int8_t)d
 *   3 -  -  -  publish (the caller's way)
 */

#ifndef XBD_FUZZ_FZ_RSP_H
#define XBD_FUZZ_FZ_RSP_H

#include <stdbool.h>
#include <stdint.h>

#include "fz_sim.h"

#define FZ_RSP_BIOS 8	   /* bios per input: a quarter of the ring */
#define FZ_RSP_MAX_PAGES 4 /* pages per bio: 16 KiB, one request each */
#define FZ_RSP_REQS 64	   /* requests recorded per input */
#define FZ_RSP_STEP 4	   /* bytes per step */

/*
 * Submit the input's bios to dev; return how many there are (those the
 * frontend refused count as completed) and set *sent to how many it
 * took, one request each.
 */
unsigned int fz_rsp_submit(struct xbd_dev *dev, const uint8_t **p,
    const uint8_t *end, unsigned int *sent);
/* Has each of the first n bios completed (exactly once: twice aborts)? */
bool fz_rsp_all_done(unsigned int n);
/*
 * Play one step on h's ring, answering the nreqs requests in reqs;
 * return true for a publish, which the caller does.
 */
bool fz_rsp_step(struct hostile *h, const uint8_t *p,
    const union xring_req *reqs, unsigned int nreqs);

#endif /* XBD_FUZZ_FZ_RSP_H */
