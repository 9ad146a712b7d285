/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xbd xenstored: the XenStore daemon of the simulated platform.  The
 * daemon lives in xenstored/ (library xsd); this is only its entry in
 * the subcommand table.
 */

#include "cmd.h"
#include "xsd.h"

int
cmd_xenstored(int argc, char **argv)
{
	return (xsd_cmd_main(argc, argv));
}
