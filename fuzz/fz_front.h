/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the frontend's XenBus fuzz targets (fuzz_xbus_front, fuzz_xbd_bus)
 * share: the backend nodes an input sets, the values it picks from, and
 * the sanity check of what a connected frontend reports.
 *
 * Input: [flags: bit 0 skip InitWait][one selector per fz_front_nodes
 *        entry: 0 default, 1 removed, 2 nasty [index byte], 3 raw
 *        [length, bytes]] then 2-byte steps: 0 state [index] | 1 node
 *        [node, nasty] | 2 read | 3 wait (what that means is the
 *        target's).
 */

#ifndef XBD_FUZZ_FZ_FRONT_H
#define XBD_FUZZ_FZ_FRONT_H

#include <stdbool.h>
#include <stdint.h>

#include "fz_sim.h"

#define FZ_FRONT_NODES 16 /* backend nodes an input sets */

/* Their names. */
extern const char *const fz_front_nodes[FZ_FRONT_NODES];

/* The next input byte, 0 past the end. */
uint8_t fz_front_byte(const uint8_t **p, const uint8_t *end);
/*
 * Read one selector per node: keep[i] when the backend's default stays,
 * else vals[i] is the value to publish (NULL: remove the node).  Raw
 * values live in static storage until the next call.
 */
void fz_front_pick(const uint8_t **p, const uint8_t *end,
    const char *vals[FZ_FRONT_NODES], bool keep[FZ_FRONT_NODES]);
/* The backend state a step's byte names. */
const char *fz_front_state(uint8_t b);
/* The node and nasty value a step's byte names. */
const char *fz_front_nasty(uint8_t b, const char **node);
/* What a connected frontend reports must make sense; aborts if not. */
void fz_front_check_info(struct xbd_dev *dev);

#endif /* XBD_FUZZ_FZ_FRONT_H */
