/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The storage tests' frontend: joins a running `xbd hv` machine, attaches
 * a vbd, and runs a list of operations given on the command line, each
 * checked, so that a shell test can say exactly what the disk must do
 * (data written, flushed, discarded, refused, resized) and then look at
 * the storage behind it with the storage's own tools (rbd export, nbdcopy).
 *
 * usage: stor_io DIR DOMID VBD OP...
 *        stor_io --pattern OFF LEN SEED   (the pattern, on stdout)
 *   w:OFF:LEN:SEED   write the pattern of SEED
 *   r:OFF:LEN:SEED   read and compare with the pattern of SEED
 *   z:OFF:LEN        read and require zeros
 *   f                flush
 *   d:OFF:LEN        discard
 *   s:BYTES          wait (up to 20 s) until the disk is BYTES long
 *   p:MS             pause, attached (the test meanwhile stops a server)
 *   i                wait for a line on stdin: the test says when to go on
 *   l:OFF:N:LEN:SEED N writes of LEN from OFF, each flushed, chunk i
 *                    with SEED+i; prints each acknowledged chunk and
 *                    the longest write+flush
 *   !OP              OP must fail (prints the error)
 * The pattern of SEED at byte b of the disk depends on both, so data
 * read from the wrong place does not compare equal.  OFF and LEN take
 * K, M and G.  Exit status: 0 every operation did what it must, 1 not,
 * 2 usage.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xbd/xbd.h>

/* Largest LEN: the buffers come from the device's pool, whose size is
 * negotiated; 4 MiB is one RBD object and fits the default pool. */
#define SIO_MAX_LEN (4u << 20)

/* How long a vbd not there yet is waited for (xbd attach waits 3 s; the
 * storage tests run on a loaded machine). */
#define SIO_VBD_WAIT_MS 10000

struct sio {
	struct xbd_dev *s_dev; /* the attached disk */
	uint8_t *s_buf;	       /* SIO_MAX_LEN bytes of its buffer pool */
	uint8_t *s_want;       /* the expected data, plain memory */
};

static uint64_t
sio_num(const char *s, char **end)
{
	uint64_t v;

	v = strtoull(s, end, 0);
	switch (**end) {
	case 'G':
		v <<= 10;
		/* FALLTHROUGH */
	case 'M':
		v <<= 10;
		/* FALLTHROUGH */
	case 'K':
		v <<= 10;
		(*end)++;
		break;
	}
	return (v);
}

/* Parses up to n numbers separated by ':' after the op letter. */
static int
sio_args(const char *op, uint64_t *v, int n)
{
	const char *p;
	char *end;
	int i;

	p = op + 1;
	for (i = 0; i < n; i++) {
		if (*p != ':')
			return (-EINVAL);
		v[i] = sio_num(p + 1, &end);
		if (end == p + 1)
			return (-EINVAL);
		p = end;
	}
	return (*p == '\0' ? 0 : -EINVAL);
}

static void
sio_pattern(uint8_t *b, uint64_t off, uint64_t len, uint64_t seed)
{
	uint64_t i, x;

	for (i = 0; i < len; i += 8) {
		x = (off + i) * 0x9e3779b97f4a7c15ull ^
		    seed * 0xbf58476d1ce4e5b9ull;
		x ^= x >> 31;
		memcpy(b + i, &x, 8);
	}
}

static double
sio_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

static int
sio_check(struct sio *s, uint64_t off, uint64_t len)
{
	uint64_t i;
	int rc;

	if ((rc = xbd_read(s->s_dev, s->s_buf, off, len)) != 0)
		return (rc);
	for (i = 0; i < len; i++) {
		if (s->s_buf[i] != s->s_want[i]) {
			fprintf(stderr, "stor_io: byte %ju differs\n",
			    (uintmax_t)(off + i));
			return (-EILSEQ);
		}
	}
	return (0);
}

static int
sio_wait_size(struct sio *s, uint64_t bytes)
{
	struct xbd_info info;
	int i;

	for (i = 0; i < 200; i++) {
		xbd_get_info(s->s_dev, &info);
		if (info.xi_size == bytes)
			return (0);
		usleep(100 * 1000);
	}
	fprintf(stderr, "stor_io: size %ju, not %ju\n", (uintmax_t)info.xi_size,
	    (uintmax_t)bytes);
	return (-ETIMEDOUT);
}

static int
sio_pause(uint64_t ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) != 0)
		if (errno != EINTR)
			return (-errno);
	return (0);
}

/* Waits for a line on stdin; -EPIPE if it ends first. */
static int
sio_line(void)
{
	int c;

	while ((c = getchar()) != '\n')
		if (c == EOF)
			return (-EPIPE);
	return (0);
}

/* The OSD-kill workload: chunks written and flushed one after another. */
static int
sio_loop(struct sio *s, const uint64_t *v)
{
	double t0, worst;
	uint64_t i;
	int rc;

	worst = 0;
	for (i = 0; i < v[1]; i++) {
		sio_pattern(s->s_buf, v[0] + i * v[2], v[2], v[3] + i);
		t0 = sio_now();
		if ((rc = xbd_write(s->s_dev, s->s_buf, v[0] + i * v[2],
			 v[2])) != 0 ||
		    (rc = xbd_flush(s->s_dev)) != 0)
			return (rc);
		if (sio_now() - t0 > worst)
			worst = sio_now() - t0;
		printf("ack %ju\n", (uintmax_t)i);
		fflush(stdout);
	}
	printf("longest write+flush: %.3f s\n", worst);
	return (0);
}

/* How many numbers operation c takes; -1 for no such operation. */
static int
sio_nargs(char c)
{
	switch (c) {
	case 'l':
		return (4);
	case 'w':
	case 'r':
		return (3);
	case 'z':
	case 'd':
		return (2);
	case 's':
	case 'p':
		return (1);
	case 'f':
	case 'i':
		return (0);
	default:
		return (-1);
	}
}

static int
sio_op(struct sio *s, const char *op)
{
	uint64_t v[4];
	int n;

	n = sio_nargs(op[0]);
	if (n < 0 || sio_args(op, v, n) != 0 ||
	    (strchr("wrzd", op[0]) != NULL && v[1] > SIO_MAX_LEN) ||
	    (op[0] == 'l' && v[2] > SIO_MAX_LEN))
		return (-EINVAL);
	switch (op[0]) {
	case 'w':
		sio_pattern(s->s_buf, v[0], v[1], v[2]);
		return (xbd_write(s->s_dev, s->s_buf, v[0], v[1]));
	case 'r':
		sio_pattern(s->s_want, v[0], v[1], v[2]);
		return (sio_check(s, v[0], v[1]));
	case 'z':
		memset(s->s_want, 0, v[1]);
		return (sio_check(s, v[0], v[1]));
	case 'f':
		return (xbd_flush(s->s_dev));
	case 'd':
		return (xbd_discard(s->s_dev, v[0], v[1], false));
	case 's':
		return (sio_wait_size(s, v[0]));
	case 'p':
		return (sio_pause(v[0]));
	case 'i':
		return (sio_line());
	default:
		return (sio_loop(s, v));
	}
}

static int
sio_run(struct sio *s, int n, char **ops)
{
	bool fail;
	int i, rc;

	for (i = 0; i < n; i++) {
		fail = ops[i][0] == '!';
		rc = sio_op(s, ops[i] + fail);
		if (rc == -EINVAL && !fail) {
			fprintf(stderr, "stor_io: %s: bad operation\n", ops[i]);
			return (1);
		}
		if (fail && rc == 0) {
			fprintf(stderr, "stor_io: %s: succeeded\n", ops[i]);
			return (1);
		}
		if (!fail && rc != 0) {
			fprintf(stderr, "stor_io: %s: %s\n", ops[i],
			    strerror(-rc));
			return (1);
		}
		printf("%s: %s\n", ops[i], fail ? strerror(-rc) : "ok");
		/* The test reads this as it goes (stopping servers). */
		fflush(stdout);
	}
	return (0);
}

/* What w:OFF:LEN:SEED writes, for comparing with the storage itself. */
static int
sio_print(char **argv)
{
	uint64_t off, len, seed;
	uint8_t b[4096];
	char *e1, *e2, *e3;

	off = sio_num(argv[0], &e1);
	len = sio_num(argv[1], &e2);
	seed = sio_num(argv[2], &e3);
	if (*e1 != '\0' || *e2 != '\0' || *e3 != '\0' || off % 4096 != 0 ||
	    len % 4096 != 0)
		return (2);
	for (; len > 0; off += sizeof(b), len -= sizeof(b)) {
		sio_pattern(b, off, sizeof(b), seed);
		if (fwrite(b, 1, sizeof(b), stdout) != sizeof(b))
			return (1);
	}
	return (0);
}

int
main(int argc, char **argv)
{
	struct xbd_plat *p;
	struct xbd_opts o;
	struct sio s;
	unsigned long domid;
	char *end;
	int rc;

	if (argc == 5 && strcmp(argv[1], "--pattern") == 0)
		return (sio_print(argv + 2));
	if (argc < 5) {
		fprintf(stderr, "usage: stor_io DIR DOMID VBD OP...\n");
		return (2);
	}
	domid = strtoul(argv[2], &end, 10);
	if (*argv[2] == '\0' || *end != '\0' || domid >= 0x7ff0) {
		fprintf(stderr, "stor_io: bad domain id '%s'\n", argv[2]);
		return (2);
	}
	if ((rc = xbd_plat_open_sim(argv[1], (uint32_t)domid, true, &p)) != 0) {
		fprintf(stderr, "stor_io: %s: %s\n", argv[1], strerror(-rc));
		return (1);
	}
	xbd_opts_init(&o);
	/* `xbd serve --image` makes the vbd again only once this domain
	 * has joined: wait for it as `xbd attach` does, a little longer. */
	o.o_vbd_wait_ms = SIO_VBD_WAIT_MS;
	o.o_holder = "stor_io";
	if ((rc = xbd_attach(p, argv[3], &o, &s.s_dev)) != 0) {
		fprintf(stderr, "stor_io: %s: %s\n", argv[3], strerror(-rc));
		xbd_plat_close(p);
		return (1);
	}
	s.s_buf = xbd_buf_alloc(s.s_dev, SIO_MAX_LEN);
	s.s_want = malloc(SIO_MAX_LEN);
	rc = s.s_buf == NULL || s.s_want == NULL ?
	    1 :
	    sio_run(&s, argc - 4, argv + 4);
	if (s.s_buf != NULL)
		xbd_buf_free(s.s_dev, s.s_buf, SIO_MAX_LEN);
	free(s.s_want);
	xbd_detach(s.s_dev);
	xbd_plat_close(p);
	return (rc);
}
