/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: pins the wire layouts xbd speaks.  Every size and offset
 * below is what Xen, Linux and FreeBSD put on the ring, in the grant
 * table and on the XenStore socket; a libxen-dev update or a packing
 * mistake in our x86_32 declarations fails here first, at compile time
 * (the _Static_asserts) and again at run time (printed for the log).
 */

#include <stdio.h>

#include "../../lib/common/blkif_x86_32.h"
#include "../../lib/common/xen_shim.h"
#include "xt.h"

#define LAYOUT(type, size) _Static_assert(sizeof(type) == (size), #type)
#define AT(type, field, off) \
	_Static_assert(offsetof(type, field) == (off), #type "." #field)

/* Native (x86_64) blkif. */
LAYOUT(struct blkif_request, 112);
AT(struct blkif_request, operation, 0);
AT(struct blkif_request, nr_segments, 1);
AT(struct blkif_request, handle, 2);
AT(struct blkif_request, id, 8);
AT(struct blkif_request, sector_number, 16);
AT(struct blkif_request, seg, 24);
LAYOUT(struct blkif_request_segment, 8);
AT(struct blkif_request_segment, gref, 0);
AT(struct blkif_request_segment, first_sect, 4);
AT(struct blkif_request_segment, last_sect, 5);
LAYOUT(struct blkif_request_discard, 32);
AT(struct blkif_request_discard, flag, 1);
AT(struct blkif_request_discard, id, 8);
AT(struct blkif_request_discard, sector_number, 16);
AT(struct blkif_request_discard, nr_sectors, 24);
LAYOUT(struct blkif_request_indirect, 64);
AT(struct blkif_request_indirect, indirect_op, 1);
AT(struct blkif_request_indirect, nr_segments, 2);
AT(struct blkif_request_indirect, id, 8);
AT(struct blkif_request_indirect, sector_number, 16);
AT(struct blkif_request_indirect, handle, 24);
AT(struct blkif_request_indirect, indirect_grefs, 28);
LAYOUT(struct blkif_response, 16);
AT(struct blkif_response, id, 0);
AT(struct blkif_response, operation, 8);
AT(struct blkif_response, status, 10);
AT(struct blkif_sring, req_prod, 0);
AT(struct blkif_sring, req_event, 4);
AT(struct blkif_sring, rsp_prod, 8);
AT(struct blkif_sring, rsp_event, 12);
AT(struct blkif_sring, ring, 64);
LAYOUT(union blkif_sring_entry, 112);

/* 32-bit x86 frontends, as a 64-bit backend sees them. */
LAYOUT(struct blkif_x86_32_request, 108);
AT(struct blkif_x86_32_request, handle, 2);
AT(struct blkif_x86_32_request, id, 4);
AT(struct blkif_x86_32_request, sector_number, 12);
AT(struct blkif_x86_32_request, seg, 20);
LAYOUT(struct blkif_x86_32_request_discard, 28);
AT(struct blkif_x86_32_request_discard, id, 4);
AT(struct blkif_x86_32_request_discard, sector_number, 12);
AT(struct blkif_x86_32_request_discard, nr_sectors, 20);
LAYOUT(struct blkif_x86_32_request_indirect, 64);
AT(struct blkif_x86_32_request_indirect, nr_segments, 2);
AT(struct blkif_x86_32_request_indirect, id, 4);
AT(struct blkif_x86_32_request_indirect, sector_number, 12);
AT(struct blkif_x86_32_request_indirect, handle, 20);
AT(struct blkif_x86_32_request_indirect, indirect_grefs, 24);
LAYOUT(struct blkif_x86_32_response, 12);
AT(struct blkif_x86_32_response, operation, 8);
AT(struct blkif_x86_32_response, status, 10);

/* Grant table v1 and XenStore. */
LAYOUT(struct grant_entry_v1, 8);
AT(struct grant_entry_v1, flags, 0);
AT(struct grant_entry_v1, domid, 2);
AT(struct grant_entry_v1, frame, 4);
LAYOUT(struct xsd_sockmsg, 16);
AT(struct xsd_sockmsg, type, 0);
AT(struct xsd_sockmsg, req_id, 4);
AT(struct xsd_sockmsg, tx_id, 8);
AT(struct xsd_sockmsg, len, 12);

/* Constants the drivers depend on. */
_Static_assert(BLKIF_MAX_SEGMENTS_PER_REQUEST == 11, "direct segments");
_Static_assert(BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST == 8, "indirect pages");
_Static_assert(XBD_SEGS_PER_INDIRECT_PAGE == 512, "segments per page");
_Static_assert(XENSTORE_PAYLOAD_MAX == 4096, "xenstore payload");
_Static_assert(XS_TYPE_COUNT == 23, "xenstore 4.17 message types");

#define CHECK(expr, want)                                      \
	do {                                                   \
		printf("%-58s %4zu\n", #expr, (size_t)(expr)); \
		assert_int_equal((expr), (want));              \
	} while (0)

static void
test_native_blkif(void **state)
{
	CHECK(sizeof(struct blkif_request), 112);
	CHECK(offsetof(struct blkif_request, seg), 24);
	CHECK(sizeof(struct blkif_request_indirect), 64);
	CHECK(offsetof(struct blkif_request_indirect, indirect_grefs), 28);
	CHECK(sizeof(struct blkif_request_discard), 32);
	CHECK(sizeof(struct blkif_response), 16);
	CHECK(offsetof(struct blkif_response, status), 10);
	CHECK(sizeof(struct blkif_request_segment), 8);
	CHECK(offsetof(struct blkif_sring, ring), 64);
}

static void
test_x86_32_blkif(void **state)
{
	CHECK(sizeof(struct blkif_x86_32_request), 108);
	CHECK(offsetof(struct blkif_x86_32_request, seg), 20);
	CHECK(sizeof(struct blkif_x86_32_request_indirect), 64);
	CHECK(offsetof(struct blkif_x86_32_request_indirect, indirect_grefs),
	    24);
	CHECK(sizeof(struct blkif_x86_32_request_discard), 28);
	CHECK(sizeof(struct blkif_x86_32_response), 12);
	CHECK(offsetof(struct blkif_x86_32_response, status), 10);
}

static void
test_grant_and_xenstore(void **state)
{
	CHECK(sizeof(struct grant_entry_v1), 8);
	CHECK(offsetof(struct grant_entry_v1, frame), 4);
	CHECK(sizeof(struct xsd_sockmsg), 16);
	CHECK(offsetof(struct xsd_sockmsg, len), 12);
	CHECK(GTF_permit_access, 1);
	CHECK(GTF_readonly, 4);
	CHECK(GTF_reading, 8);
	CHECK(GTF_writing, 16);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_native_blkif),
		cmocka_unit_test(test_x86_32_blkif),
		cmocka_unit_test(test_grant_and_xenstore),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
