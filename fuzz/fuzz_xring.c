/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: both consumers of the ring wrapper against a hostile peer.
 * The input is a script of operations on one ring page: the peer's bytes
 * overwrite the page (indices included), and our side puts, polls, takes
 * and final-checks.  Whatever the bytes, the wrapper must report -EIO or
 * stay inside the ring; ASan/UBSan catch anything else.
 */

#include <stdint.h>
#include <string.h>

#include "common/xu_assert.h"
#include "ring/xring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static _Alignas(4096) unsigned char page[2 * XBD_PAGE_SIZE];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xring_front f;
	struct xring_back b;
	struct blkif_request req;
	struct blkif_response rsp;
	union xring_req got;
	size_t i = 0, len;
	uint16_t off;
	int n;

	memset(page, 0, sizeof(page));
	memset(&req, 0, sizeof(req));
	if (size < 1)
		return (0);
	if (xring_front_init(&f, page, 1 + (data[0] & 1)) != 0 ||
	    xring_back_init(&b, page, 1 + (data[0] & 1),
		(data[0] & 2) ? XRING_ABI_X86_32 : XRING_ABI_NATIVE) != 0)
		return (0);
	for (i = 1; i < size;) {
		switch (data[i++] % 6) {
		case 0: /* the peer scribbles on the page */
			if (size - i < 3)
				return (0);
			off = (uint16_t)((data[i] | data[i + 1] << 8) %
			    sizeof(page));
			len = XU_MIN((size_t)data[i + 2], size - i - 3);
			len = XU_MIN(len, sizeof(page) - off);
			memcpy(page + off, data + i + 3, len);
			i += 3 + len;
			break;
		case 1:
			if (xring_front_free(&f) > 0) {
				req.id = i;
				xring_front_put(&f, &req);
			}
			(void)xring_front_push(&f);
			break;
		case 2:
			n = xring_front_poll(&f);
			while (n-- > 0)
				xring_front_take(&f, &rsp);
			(void)xring_front_final_check(&f);
			break;
		case 3:
			n = xring_back_poll(&b);
			while (n-- > 0) {
				xring_back_take(&b, &got);
				xring_back_put_rsp(&b, got.rw.id,
				    got.rw.operation, 0);
			}
			break;
		case 4:
			(void)xring_back_push(&b);
			(void)xring_back_final_check(&b);
			break;
		default:
			break;
		}
	}
	return (0);
}
