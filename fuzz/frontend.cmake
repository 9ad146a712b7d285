# SPDX-License-Identifier: BSD-2-Clause
# Fuzz targets of the frontend component (included from fuzz/CMakeLists.txt).

# The response consumer against a scripted backend on a simulated machine.
if(TARGET xbd_sim)
	xbd_fuzz(NAME fuzz_xbd_rsp
	    SOURCES fuzz_xbd_rsp.c fz_sim.c
	    ${PROJECT_SOURCE_DIR}/tests/integ/hostile.c
	    LIBS xbd_front LABELS frontend)
	target_include_directories(fuzz_xbd_rsp PRIVATE
	    ${PROJECT_SOURCE_DIR}/tests)
	# The same scripts with the consumer run on the fuzzer's thread.
	xbd_fuzz(NAME fuzz_xbd_int
	    SOURCES fuzz_xbd_int.c fz_sim.c
	    ${PROJECT_SOURCE_DIR}/tests/integ/hostile.c
	    LIBS xbd_front LABELS frontend)
	target_include_directories(fuzz_xbd_int PRIVATE
	    ${PROJECT_SOURCE_DIR}/tests)
	# Its XenBus state machine against hostile backend nodes.
	xbd_fuzz(NAME fuzz_xbus_front
	    SOURCES fuzz_xbus_front.c fz_sim.c
	    ${PROJECT_SOURCE_DIR}/tests/integ/hostile.c
	    LIBS xbd_front LABELS frontend)
	target_include_directories(fuzz_xbus_front PRIVATE
	    ${PROJECT_SOURCE_DIR}/tests)
	# The same scripts with the state machine run on the fuzzer's thread.
	xbd_fuzz(NAME fuzz_xbd_bus SOURCES fuzz_xbd_bus.c fz_sim.c
	    LIBS xbd_front LABELS frontend)
	target_include_directories(fuzz_xbd_bus PRIVATE
	    ${PROJECT_SOURCE_DIR}/tests)
endif()
