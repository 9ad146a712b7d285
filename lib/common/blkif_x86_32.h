/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The blkif wire layouts of a 32-bit x86 frontend, as a 64-bit backend
 * sees them.  Xen's public header only describes the native layout; its
 * backends (Linux blkback's common.h, QEMU's xen_blkif.h) each declare the
 * i386 variants with 4-byte packing, and so do we.  A frontend announces
 * this ABI with protocol = "x86_32-abi".  tests/unit/test_abi.c pins every
 * size and offset.
 */

#ifndef XBD_BLKIF_X86_32_H
#define XBD_BLKIF_X86_32_H

#include "xen_shim.h"

/* i386 aligns 64-bit integers to 4 bytes: that is the whole difference. */
#pragma pack(push, 4)

/* Read, write, barrier and flush requests (108 bytes). */
struct blkif_x86_32_request {
	uint8_t operation;
	uint8_t nr_segments;
	blkif_vdev_t handle;
	uint64_t id;
	blkif_sector_t sector_number;
	struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
};

/* BLKIF_OP_DISCARD (28 bytes). */
struct blkif_x86_32_request_discard {
	uint8_t operation;
	uint8_t flag;
	blkif_vdev_t handle;
	uint64_t id;
	blkif_sector_t sector_number;
	uint64_t nr_sectors;
};

/* BLKIF_OP_INDIRECT (64 bytes; the header pads it explicitly on i386). */
struct blkif_x86_32_request_indirect {
	uint8_t operation;
	uint8_t indirect_op;
	uint16_t nr_segments;
	uint64_t id;
	blkif_sector_t sector_number;
	blkif_vdev_t handle;
	uint16_t _pad1;
	grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	uint64_t _pad2;
};

/* Responses (12 bytes). */
struct blkif_x86_32_response {
	uint64_t id;
	uint8_t operation;
	int16_t status;
};

#pragma pack(pop)

#endif /* XBD_BLKIF_X86_32_H */
