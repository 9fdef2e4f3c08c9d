# Sanitizer and fuzzing builds (included from the root CMakeLists.txt before
# any target is defined, so the flags reach every target of ours: libraries,
# examples, benchmarks, tests and fuzz targets; never the installed package's
# consumers, whose flags are their own).
#
#   -DEOSCALE_SANITIZE=address,undefined   ASan + UBSan (scripts/sanitize.sh asan)
#   -DEOSCALE_SANITIZE=thread              TSan         (scripts/sanitize.sh tsan)
#   -DEOSCALE_FUZZ=ON                      libFuzzer targets under tests/fuzz/
#                                          (clang only; ASan + UBSan unless
#                                          EOSCALE_SANITIZE says otherwise)
#
# Third-party libraries (GDAL, oneTBB, Abseil, PROJ...) come from Debian and are
# not instrumented; what they report is filtered by tests/sanitizers/*.supp,
# which scripts/sanitize.sh passes to the runtime.

set(EOSCALE_SANITIZE "" CACHE STRING
    "Comma-separated -fsanitize list for every target (e.g. address,undefined or thread); empty: none")
option(EOSCALE_FUZZ "Build the libFuzzer targets of tests/fuzz (needs clang)" OFF)

# The -fsanitize list the build uses; empty when no sanitizer is on. Exposed
# so that tests building outside this tree (the package consumer) can link.
set(EOSCALE_SANITIZE_FLAGS "")

if(EOSCALE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "EOSCALE_FUZZ needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++-14")
  endif()
  if(EOSCALE_SANITIZE STREQUAL "")
    set(EOSCALE_SANITIZE "address,undefined" CACHE STRING "" FORCE)
  endif()
endif()

if(NOT EOSCALE_SANITIZE STREQUAL "")
  string(REPLACE " " "" _eoscale_san "${EOSCALE_SANITIZE}")
  if(_eoscale_san MATCHES "thread" AND _eoscale_san MATCHES "address")
    message(FATAL_ERROR "EOSCALE_SANITIZE: thread and address cannot be combined")
  endif()
  set(EOSCALE_SANITIZE_FLAGS "-fsanitize=${_eoscale_san}")
  set(_eoscale_compile_san "${_eoscale_san}")
  if(EOSCALE_FUZZ)
    # Coverage instrumentation for libFuzzer in every object; the fuzz targets
    # themselves link with -fsanitize=fuzzer (tests/fuzz/CMakeLists.txt).
    set(_eoscale_compile_san "${_eoscale_compile_san},fuzzer-no-link")
  endif()
  # UBSan checks stay recoverable: runtime suppressions only apply to
  # recoverable checks, and UBSAN_OPTIONS=halt_on_error=1 (scripts/sanitize.sh)
  # still makes the first unsuppressed report end the test with a failure.
  add_compile_options(-fsanitize=${_eoscale_compile_san} -fno-omit-frame-pointer)
  if(_eoscale_san MATCHES "thread")
    # Debian's oneTBB is not built with TSan: its header internals are left
    # unchecked by a compile-time ignorelist (clang only; GCC has no such
    # flag), and graph/tsan_annotations.h states oneTBB's ordering promises.
    if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
      message(FATAL_ERROR "EOSCALE_SANITIZE=thread needs clang (for tests/sanitizers/tsan_ignorelist.txt): "
                          "configure with -DCMAKE_CXX_COMPILER=clang++-14")
    endif()
    add_compile_options(-fsanitize-ignorelist=${CMAKE_SOURCE_DIR}/tests/sanitizers/tsan_ignorelist.txt)
  endif()
  add_link_options(-fsanitize=${_eoscale_san})
  message(STATUS "eoscale: sanitizers ${_eoscale_san}")
endif()

if(EOSCALE_FUZZ)
  # The targets link our libraries by name; CMake resolves the names when it
  # generates, so the folder can come before the libraries are defined.
  add_subdirectory(${CMAKE_SOURCE_DIR}/tests/fuzz ${CMAKE_BINARY_DIR}/tests/fuzz)
endif()
