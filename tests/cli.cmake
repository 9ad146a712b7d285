# SPDX-License-Identifier: BSD-2-Clause
# Tests of the cli component (included from tests/CMakeLists.txt).

# test_cli runs the lockout and the refusal 100 times each (about 40 s
# of its 90 on an idle machine).
xbd_script_test(NAME test_cli COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integ/test_cli.sh
    LABELS "integ;cli" TIMEOUT 360)
if(TARGET nbdkit-xbd-plugin)
	xbd_script_test(NAME test_nbdkit
	    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integ/test_nbdkit.sh
	    LABELS "integ;cli" TIMEOUT 180)
endif()
xbd_script_test(NAME test_dist COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integ/test_dist.sh
    LABELS "integ;cli" TIMEOUT 60)
# The hotplug script of rbd:/nbd: vbds; its end-to-end part needs NBD.
if(LIBNBD_FOUND)
	xbd_script_test(NAME test_hotplug
	    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integ/test_hotplug.sh
	    LABELS "integ;cli;storage" TIMEOUT 90)
endif()
