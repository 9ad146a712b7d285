/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A program built the way a user of the installed library builds one:
 * only <xbd/xbd.h> and `pkg-config --cflags --libs xbd`.  It joins a
 * running `xbd hv` machine as a domain, attaches a vbd, writes a
 * pattern, reads it back, flushes and detaches.
 *
 * usage: libxbd_client DIR DOMID VBD [PATTERN-FILE]
 * With PATTERN-FILE, the bytes written are also saved there, so that a
 * test can compare them with the backend's image.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xbd/xbd.h>

#define CLIENT_LEN (64 * 1024)

static int
client_io(struct xbd_dev *dev, const char *save)
{
	FILE *f;
	unsigned char *w, *r;
	size_t i;
	int rc;

	w = xbd_buf_alloc(dev, CLIENT_LEN);
	r = xbd_buf_alloc(dev, CLIENT_LEN);
	if (w == NULL || r == NULL) {
		rc = -1;
		goto out;
	}
	for (i = 0; i < CLIENT_LEN; i++)
		w[i] = (unsigned char)(i * 7 + 3);
	if (save != NULL) {
		if ((f = fopen(save, "w")) == NULL ||
		    fwrite(w, 1, CLIENT_LEN, f) != CLIENT_LEN) {
			if (f != NULL)
				fclose(f);
			rc = -1;
			goto out;
		}
		fclose(f);
	}
	if ((rc = xbd_write(dev, w, 4096, CLIENT_LEN)) != 0 ||
	    (rc = xbd_flush(dev)) != 0 ||
	    (rc = xbd_read(dev, r, 4096, CLIENT_LEN)) != 0)
		goto out;
	rc = memcmp(w, r, CLIENT_LEN) == 0 ? 0 : 1;
out:
	if (w != NULL)
		xbd_buf_free(dev, w, CLIENT_LEN);
	if (r != NULL)
		xbd_buf_free(dev, r, CLIENT_LEN);
	return (rc);
}

int
main(int argc, char **argv)
{
	struct xbd_plat *p;
	struct xbd_dev *dev;
	struct xbd_info info;
	struct xbd_opts o;
	unsigned long domid;
	char *end;
	int rc;

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: %s DIR DOMID VBD [PATTERN-FILE]\n",
		    argv[0]);
		return (2);
	}
	domid = strtoul(argv[2], &end, 10);
	if (*argv[2] == '\0' || *end != '\0' || domid >= 0x7ff0) {
		fprintf(stderr, "%s: bad domain id '%s'\n", argv[0], argv[2]);
		return (2);
	}
	if ((rc = xbd_plat_open_sim(argv[1], (uint32_t)domid, true, &p)) != 0) {
		fprintf(stderr, "joining %s: %s\n", argv[1], strerror(-rc));
		return (1);
	}
	xbd_opts_init(&o);
	if ((rc = xbd_attach(p, argv[3], &o, &dev)) != 0) {
		fprintf(stderr, "attaching %s: %s\n", argv[3], strerror(-rc));
		xbd_plat_close(p);
		return (1);
	}
	xbd_get_info(dev, &info);
	printf("%s: %llu sectors\n", info.xi_name,
	    (unsigned long long)info.xi_sectors);
	rc = client_io(dev, argc == 5 ? argv[4] : NULL);
	printf("io: %s\n", rc == 0 ? "ok" : "failed");
	xbd_detach(dev);
	xbd_plat_close(p);
	return (rc == 0 ? 0 : 1);
}
