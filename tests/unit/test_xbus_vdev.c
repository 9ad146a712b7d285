/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Description: strict number parsing (what a hostile peer may write into
 * XenStore) and the virtual-device names and numbers of Xen's vbd
 * interface, in both directions.
 */

#include <errno.h>
#include <string.h>

#include "common/xu_parse.h"
#include "xenbus/xbus.h"
#include "xt.h"

static void
test_parse_u64(void **state)
{
	uint64_t v;

	assert_int_equal(xu_parse_u64("0", UINT64_MAX, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(xu_parse_u64("18446744073709551615", UINT64_MAX, &v),
	    0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(xu_parse_u64("18446744073709551616", UINT64_MAX, &v),
	    -ERANGE);
	assert_int_equal(
	    xu_parse_u64("99999999999999999999999", UINT64_MAX, &v), -ERANGE);
	assert_int_equal(xu_parse_u64("4096", 4096, &v), 0);
	assert_int_equal(xu_parse_u64("4097", 4096, &v), -ERANGE);
	/* A single digit above a small maximum. */
	assert_int_equal(xu_parse_u64("2", 1, &v), -ERANGE);
	assert_int_equal(xu_parse_u64("9", 8, &v), -ERANGE);
	assert_int_equal(xu_parse_u64("1", 1, &v), 0);
	assert_int_equal(xu_parse_u64("0", 0, &v), 0);
	assert_int_equal(xu_parse_u64("1", 0, &v), -ERANGE);
	/* F25: everything a peer might slip in. */
	assert_int_equal(xu_parse_u64("", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(xu_parse_u64("-1", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(xu_parse_u64("+1", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(xu_parse_u64(" 1", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(xu_parse_u64("1 ", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(xu_parse_u64("1abc", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(xu_parse_u64("0x10", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(xu_parse_u64(NULL, UINT64_MAX, &v), -EINVAL);
}

static void
test_parse_size(void **state)
{
	uint64_t v;

	assert_int_equal(xu_parse_size("512", &v), 0);
	assert_int_equal(v, 512);
	assert_int_equal(xu_parse_size("4K", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(xu_parse_size("1GiB", &v), 0);
	assert_int_equal(v, 1ull << 30);
	assert_int_equal(xu_parse_size("3M", &v), 0);
	assert_int_equal(v, 3ull << 20);
	assert_int_equal(xu_parse_size("64k", &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(xu_parse_size("1m", &v), 0);
	assert_int_equal(v, 1ull << 20);
	assert_int_equal(xu_parse_size("1X", &v), -EINVAL);
	assert_int_equal(xu_parse_size("1kib", &v), -EINVAL);
	assert_int_equal(xu_parse_size("K", &v), -EINVAL);
	assert_int_equal(xu_parse_size("99999999999T", &v), -ERANGE);
	/* Fractions that make whole bytes, and only those. */
	assert_int_equal(xu_parse_size("1.5G", &v), 0);
	assert_true(v == 1610612736ull);
	assert_int_equal(xu_parse_size("0.5KiB", &v), 0);
	assert_int_equal(v, 512);
	assert_int_equal(xu_parse_size("1.25T", &v), 0);
	assert_true(v == 5ull << 38);
	assert_int_equal(xu_parse_size("0.001953125K", &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(xu_parse_size("1.1K", &v), -EINVAL);
	assert_int_equal(xu_parse_size("1.5", &v), -EINVAL);
	assert_int_equal(xu_parse_size("1.0", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(xu_parse_size(".5G", &v), -EINVAL);
	assert_int_equal(xu_parse_size("1.G", &v), -EINVAL);
	assert_int_equal(xu_parse_size("1..5G", &v), -EINVAL);
	assert_int_equal(xu_parse_size("1.2.3G", &v), -EINVAL);
	assert_int_equal(xu_parse_size("1.0000000001G", &v), -EINVAL);
	assert_int_equal(xu_parse_size("16777215.5T", &v), 0);
	assert_int_equal(xu_parse_size("16777216T", &v), -ERANGE);
}

static void
test_parse_milli(void **state)
{
	uint64_t v;

	assert_int_equal(xu_parse_milli("3", 3600000, &v), 0);
	assert_int_equal(v, 3000);
	assert_int_equal(xu_parse_milli("1.5", 3600000, &v), 0);
	assert_int_equal(v, 1500);
	assert_int_equal(xu_parse_milli("0.25", 3600000, &v), 0);
	assert_int_equal(v, 250);
	assert_int_equal(xu_parse_milli("0.0010", 3600000, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(xu_parse_milli("3600", 3600000, &v), 0);
	assert_int_equal(xu_parse_milli("3600.001", 3600000, &v), -ERANGE);
	assert_int_equal(xu_parse_milli("0.0001", 3600000, &v), -EINVAL);
	assert_int_equal(xu_parse_milli("3x", 3600000, &v), -EINVAL);
	assert_int_equal(xu_parse_milli("1e3", 3600000, &v), -EINVAL);
	assert_int_equal(xu_parse_milli("-1", 3600000, &v), -EINVAL);
	assert_int_equal(xu_parse_milli(" 1", 3600000, &v), -EINVAL);
	assert_int_equal(xu_parse_milli("", 3600000, &v), -EINVAL);
	assert_int_equal(xu_parse_milli(".5", 3600000, &v), -EINVAL);
	assert_int_equal(xu_parse_milli("nan", 3600000, &v), -EINVAL);
	assert_int_equal(xu_parse_milli("99999999999999999999", UINT64_MAX, &v),
	    -ERANGE);
}

static void
test_vdev_names(void **state)
{
	static const struct {
		const char *name;
		uint32_t vdev;
	} cases[] = {
		{ "xvda", 51712 },
		{ "xvdb", 51728 },
		{ "xvda1", 51713 },
		{ "xvdp15", (202 << 8) | (15 << 4) | 15 },
		{ "xvdq", (1u << 28) | (16 << 8) },
		{ "xvdaa", (1u << 28) | (26 << 8) },
		{ "xvdq200", (1u << 28) | (16 << 8) | 200 },
		{ "hda", 3 << 8 },
		{ "hdb", (3 << 8) | (1 << 6) },
		{ "hdc", 22 << 8 },
		{ "hdd2", (22 << 8) | (1 << 6) | 2 },
		{ "sda", 8 << 8 },
		{ "sdb3", (8 << 8) | (1 << 4) | 3 },
	};
	char buf[32];
	uint32_t v;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(xbus_vdev_parse(cases[i].name, &v), 0);
		assert_int_equal(v, cases[i].vdev);
		assert_int_equal(
		    xbus_vdev_name(cases[i].vdev, buf, sizeof(buf)), 0);
		assert_string_equal(buf, cases[i].name);
	}
	assert_int_equal(xbus_vdev_parse("51712", &v), 0);
	assert_int_equal(v, 51712);
	assert_int_equal(xbus_vdev_parse("d0p1", &v), 0);
	assert_int_equal(v, 51713);
	assert_int_equal(xbus_vdev_parse("d16p0", &v), 0);
	assert_int_equal(v, (1u << 28) | (16 << 8));
	/* Malformed and reserved. */
	assert_int_equal(xbus_vdev_parse("", &v), -EINVAL);
	assert_int_equal(xbus_vdev_parse("xvd", &v), -EINVAL);
	assert_int_equal(xbus_vdev_parse("xvda0", &v), -EINVAL);
	assert_int_equal(xbus_vdev_parse("xvdA", &v), -EINVAL);
	assert_int_equal(xbus_vdev_parse("hde", &v), -EINVAL);
	assert_int_equal(xbus_vdev_parse("sdq", &v), -EINVAL);
	assert_int_equal(xbus_vdev_parse("xvda256", &v), -EINVAL);
	assert_int_equal(xbus_vdev_parse("536870912", &v), -EINVAL);
	assert_int_equal(xbus_vdev_parse("0", &v), -EINVAL);
	assert_int_equal(xbus_vdev_name(2u << 28, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(xbus_vdev_name(7 << 8, buf, sizeof(buf)), -EINVAL);
}

static void
test_state_names(void **state)
{
	assert_string_equal(xbus_state_name(XenbusStateConnected), "Connected");
	assert_string_equal(xbus_state_name(XenbusStateInitWait), "InitWait");
	assert_string_equal(xbus_state_name((enum xenbus_state)9), "Invalid");
	assert_string_equal(xbus_state_name((enum xenbus_state) - 1),
	    "Invalid");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_milli),
		cmocka_unit_test(test_vdev_names),
		cmocka_unit_test(test_state_names),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
