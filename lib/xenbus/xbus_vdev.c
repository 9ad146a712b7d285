/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Virtual-device numbers, the key of a vbd's directories.  The encoding
 * is Xen's (docs/man/xen-vbd-interface.7):
 *
 *   xvd, disk <= 15, part <= 15     202 << 8 | disk << 4 | part
 *   xvd, larger ("extended")        1 << 28 | disk << 8 | part (<= 255)
 *   hd, disk 0..3, part <= 63       (disk < 2 ? 3 : 22) << 8 |
 *                                   (disk & 1) << 6 | part
 *   sd, disk <= 15, part <= 15      8 << 8 | disk << 4 | part
 *   dNpM                            the xvd encoding of disk N, part M
 *
 * Disk letters count in bijective base 26: a = 0, z = 25, aa = 26.
 * Numbers from 2 << 28 up are reserved.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/xu_parse.h"
#include "xbus.h"

#define XBUS_VDEV_EXT (1u << 28)
#define XBUS_VDEV_RESERVED (2u << 28)
#define XBUS_MAJOR_XVD 202u
#define XBUS_MAJOR_SD 8u
#define XBUS_MAJOR_HD0 3u
#define XBUS_MAJOR_HD1 22u

/* Parse disk letters at *s; returns the index or -1. */
static long
xbus_vdev_letters(const char **s)
{
	long disk = 0;
	int n = 0;

	while (**s >= 'a' && **s <= 'z') {
		disk = disk * 26 + (**s - 'a' + 1);
		if (disk > (1L << 20))
			return (-1);
		(*s)++;
		n++;
	}
	return (n == 0 ? -1 : disk - 1);
}

/* An optional partition number at s (empty = 0). */
static int
xbus_vdev_part(const char *s, uint32_t *part)
{
	if (*s == '\0') {
		*part = 0;
		return (0);
	}
	/* "xvda0" is not a name: partitions count from 1. */
	if (*s == '0')
		return (-EINVAL);
	return (xu_parse_u32(s, part));
}

static int
xbus_vdev_xvd(uint32_t disk, uint32_t part, uint32_t *vdev)
{
	if (disk <= 15 && part <= 15) {
		*vdev = XBUS_MAJOR_XVD << 8 | disk << 4 | part;
		return (0);
	}
	if (disk >= (1u << 20) || part > 255)
		return (-EINVAL);
	*vdev = XBUS_VDEV_EXT | disk << 8 | part;
	return (0);
}

int
xbus_vdev_parse(const char *name, uint32_t *vdev)
{
	const char *s = name;
	uint32_t disk, part, n;
	const char *p;
	long d;

	if (name == NULL || *name == '\0')
		return (-EINVAL);
	if (xu_parse_u32(name, &n) == 0) {
		if (n >= XBUS_VDEV_RESERVED || n == 0)
			return (-EINVAL);
		*vdev = n;
		return (0);
	}
	if (name[0] == 'd' && (p = strchr(name, 'p')) != NULL) {
		char num[16];

		if ((size_t)(p - name - 1) >= sizeof(num))
			return (-EINVAL);
		memcpy(num, name + 1, (size_t)(p - name - 1));
		num[p - name - 1] = '\0';
		if (xu_parse_u32(num, &disk) != 0 ||
		    xu_parse_u32(p + 1, &part) != 0)
			return (-EINVAL);
		return (xbus_vdev_xvd(disk, part, vdev));
	}
	if (strncmp(name, "xvd", 3) == 0) {
		s = name + 3;
		if ((d = xbus_vdev_letters(&s)) < 0 ||
		    xbus_vdev_part(s, &part) != 0)
			return (-EINVAL);
		return (xbus_vdev_xvd((uint32_t)d, part, vdev));
	}
	if (strncmp(name, "hd", 2) == 0) {
		s = name + 2;
		if ((d = xbus_vdev_letters(&s)) < 0 || d > 3 ||
		    xbus_vdev_part(s, &part) != 0 || part > 63)
			return (-EINVAL);
		*vdev = (d < 2 ? XBUS_MAJOR_HD0 : XBUS_MAJOR_HD1) << 8 |
		    (uint32_t)(d & 1) << 6 | part;
		return (0);
	}
	if (strncmp(name, "sd", 2) == 0) {
		s = name + 2;
		if ((d = xbus_vdev_letters(&s)) < 0 || d > 15 ||
		    xbus_vdev_part(s, &part) != 0 || part > 15)
			return (-EINVAL);
		*vdev = XBUS_MAJOR_SD << 8 | (uint32_t)d << 4 | part;
		return (0);
	}
	return (-EINVAL);
}

/* Write disk letters for index disk into buf. */
static void
xbus_vdev_letters_fmt(uint32_t disk, char *buf, size_t len)
{
	char tmp[8];
	size_t n = 0, i;

	disk++;
	while (disk > 0 && n < sizeof(tmp)) {
		disk--;
		tmp[n++] = (char)('a' + disk % 26);
		disk /= 26;
	}
	for (i = 0; i < n && i + 1 < len; i++)
		buf[i] = tmp[n - 1 - i];
	buf[i < len ? i : len - 1] = '\0';
}

int
xbus_vdev_name(uint32_t vdev, char *buf, size_t len)
{
	uint32_t major, minor, disk, part;
	const char *pfx;
	char letters[8];
	int n;

	if (vdev >= XBUS_VDEV_RESERVED)
		return (-EINVAL);
	if (vdev & XBUS_VDEV_EXT) {
		pfx = "xvd";
		disk = (vdev & (XBUS_VDEV_EXT - 1)) >> 8;
		part = vdev & 0xff;
	} else {
		major = vdev >> 8;
		minor = vdev & 0xff;
		if (vdev > 0xffff)
			return (-EINVAL);
		switch (major) {
		case XBUS_MAJOR_XVD:
			pfx = "xvd";
			disk = minor >> 4;
			part = minor & 15;
			break;
		case XBUS_MAJOR_SD:
			pfx = "sd";
			disk = minor >> 4;
			part = minor & 15;
			break;
		case XBUS_MAJOR_HD0:
		case XBUS_MAJOR_HD1:
			pfx = "hd";
			disk = (minor >> 6) + (major == XBUS_MAJOR_HD1 ? 2 : 0);
			part = minor & 63;
			break;
		default:
			return (-EINVAL);
		}
	}
	xbus_vdev_letters_fmt(disk, letters, sizeof(letters));
	if (part == 0)
		n = snprintf(buf, len, "%s%s", pfx, letters);
	else
		n = snprintf(buf, len, "%s%s%u", pfx, letters, part);
	if (n < 0 || (size_t)n >= len)
		return (-ENAMETOOLONG);
	return (0);
}
