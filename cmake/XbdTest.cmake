# SPDX-License-Identifier: BSD-2-Clause
#
# The two helpers every test and fuzz target is registered with, so that
# tests/ and fuzz/ hold the only lists of them.

# xbd_test(NAME n SOURCES s... [LIBS l...] [LABELS l...] [TIMEOUT sec]
#          [ARGS a...] [NO_CMOCKA])
# One executable per test file; exit 77 means "skipped" (a missing
# facility such as io_uring), anything else non-zero is a failure.
function(xbd_test)
	cmake_parse_arguments(T "NO_CMOCKA" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS;ARGS"
	    ${ARGN})
	if(NOT T_TIMEOUT)
		set(T_TIMEOUT 60)
	endif()
	add_executable(${T_NAME} ${T_SOURCES})
	target_link_libraries(${T_NAME} PRIVATE xbd_warnings ${T_LIBS})
	if(NOT T_NO_CMOCKA)
		target_link_libraries(${T_NAME} PRIVATE PkgConfig::CMOCKA)
	endif()
	target_include_directories(${T_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
	add_test(NAME ${T_NAME} COMMAND ${T_NAME} ${T_ARGS})
	set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}"
	    TIMEOUT ${T_TIMEOUT} SKIP_RETURN_CODE 77)
endfunction()

# xbd_script_test(NAME n COMMAND c... [LABELS l...] [TIMEOUT sec])
# A shell test; it sees the build directory in XBD_BUILD.
function(xbd_script_test)
	cmake_parse_arguments(T "" "NAME;TIMEOUT" "COMMAND;LABELS" ${ARGN})
	if(NOT T_TIMEOUT)
		set(T_TIMEOUT 120)
	endif()
	add_test(NAME ${T_NAME} COMMAND ${T_COMMAND})
	set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}"
	    TIMEOUT ${T_TIMEOUT} SKIP_RETURN_CODE 77
	    ENVIRONMENT "XBD_BUILD=${PROJECT_BINARY_DIR};XBD_SRC=${PROJECT_SOURCE_DIR}")
endfunction()

# xbd_fuzz(NAME n SOURCES s... [LIBS l...] [LABELS l...])
# In the fuzz preset this is a libFuzzer binary; in every other build it is
# linked with fuzz/replay.c.  Either way CTest replays the committed seeds
# in fuzz/corpus/<n>/, so they are regression tests everywhere.
function(xbd_fuzz)
	cmake_parse_arguments(F "" "NAME" "SOURCES;LIBS;LABELS" ${ARGN})
	set(corpus ${PROJECT_SOURCE_DIR}/fuzz/corpus/${F_NAME})
	if(XBD_FUZZ)
		add_executable(${F_NAME} ${F_SOURCES})
		target_link_options(${F_NAME} PRIVATE -fsanitize=fuzzer)
		set(replay_args -runs=0 ${corpus})
	else()
		add_executable(${F_NAME} ${F_SOURCES}
		    ${PROJECT_SOURCE_DIR}/fuzz/replay.c)
		set(replay_args ${corpus})
	endif()
	target_link_libraries(${F_NAME} PRIVATE xbd_warnings ${F_LIBS})
	add_test(NAME fuzz_replay_${F_NAME} COMMAND ${F_NAME} ${replay_args})
	set_tests_properties(fuzz_replay_${F_NAME} PROPERTIES
	    LABELS "fuzz;${F_LABELS}" TIMEOUT 300)
endfunction()
