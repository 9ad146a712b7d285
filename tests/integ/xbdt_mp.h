/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A machine of separate processes for tests: `xbd hv` and an `xbd
 * serve` backend (domain 1) serving an image to domain 2 as xvda; the
 * test itself is domain 2.  The backend can be killed and started
 * again; every process started here dies with the test, however it
 * ends.  A test that is the backend itself starts only the machine.
 */

#ifndef XBD_TESTS_XBDT_MP_H
#define XBD_TESTS_XBDT_MP_H

#include <stdint.h>
#include <sys/types.h>

struct xbdt_mp {
	const char *mp_xbd; /* the xbd binary */
	char mp_dir[256];   /* temporary directory */
	char mp_mdir[300];  /* the machine's directory */
	char mp_img[300];   /* the image */
	pid_t mp_hv;	    /* xbd hv */
	pid_t mp_serve;	    /* xbd serve, 0 while there is none */
};

/* Create the image (bytes long) and start the machine and a backend. */
void xbdt_mp_up(struct xbdt_mp *m, const char *xbd, uint64_t bytes);

/* The same without the backend: only `xbd hv` runs. */
void xbdt_mp_machine(struct xbdt_mp *m, const char *xbd, uint64_t bytes);

/*
 * Start argv (argv[0] a path) in a process that dies with us; with out,
 * its stdout is a pipe we read from *out.
 */
pid_t xbdt_mp_spawn(char *const argv[], int *out);

/* Start a backend and wait until the vbd is at InitWait or further. */
void xbdt_mp_serve(struct xbdt_mp *m);

/* Kill the backend with sig and reap it. */
void xbdt_mp_kill_serve(struct xbdt_mp *m, int sig);

/* Stop everything and remove the directory. */
void xbdt_mp_down(struct xbdt_mp *m);

#endif /* XBD_TESTS_XBDT_MP_H */
