# SPDX-License-Identifier: BSD-2-Clause
# Fuzz targets of the frontend component (included from fuzz/CMakeLists.txt).

if(TARGET xbd_sim)
	set(hostile ${PROJECT_SOURCE_DIR}/tests/integ/hostile.c)
	# The response consumer against a scripted backend on a simulated
	# machine, end to end ...
	xbd_fuzz(NAME fuzz_xbd_rsp SOURCES fuzz_xbd_rsp.c fz_rsp.c fz_sim.c
	    ${hostile} LIBS xbd_front LABELS frontend)
	# ... and the same scripts with the consumer run on the fuzzer's
	# thread.
	xbd_fuzz(NAME fuzz_xbd_int SOURCES fuzz_xbd_int.c fz_rsp.c fz_sim.c
	    ${hostile} LIBS xbd_front LABELS frontend)
	# Its XenBus state machine against hostile backend nodes, end to
	# end ...
	xbd_fuzz(NAME fuzz_xbus_front
	    SOURCES fuzz_xbus_front.c fz_front.c fz_sim.c ${hostile}
	    LIBS xbd_front LABELS frontend)
	# ... and run on the fuzzer's thread.
	xbd_fuzz(NAME fuzz_xbd_bus SOURCES fuzz_xbd_bus.c fz_front.c fz_sim.c
	    LIBS xbd_front LABELS frontend)
	foreach(t fuzz_xbd_rsp fuzz_xbd_int fuzz_xbus_front fuzz_xbd_bus)
		target_include_directories(${t} PRIVATE
		    ${PROJECT_SOURCE_DIR}/tests)
	endforeach()
endif()
