# The documented install, checked (ctest python_install_import): `cmake
# --install` of the build tree into a fresh prefix, then, from another
# folder and with only that prefix's site-packages on the path, the package
# imports from there and runs a Python filter on the engine.
#   cmake -DBUILD_DIR=... -DPREFIX=... -DSITE=lib/python3.11/site-packages -DPYTHON=... -P install_check.cmake
file(REMOVE_RECURSE ${PREFIX})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${PREFIX}
                RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${rc}): ${err}")
endif()
set(code [=[
import sys, numpy, eoscale
prefix = sys.argv[1]
assert eoscale.__file__.startswith(prefix), eoscale.__file__
with eoscale.Context(workers=2) as ctx:
    out = ctx.map(ctx.from_array(numpy.arange(12, dtype=numpy.float32).reshape(3, 4)), lambda t: t.inputs[0] * 2)[0]
    assert (ctx.read(out)[0] == numpy.arange(12).reshape(3, 4) * 2).all()
print("installed eoscale:", eoscale.__file__)
]=])
execute_process(COMMAND ${CMAKE_COMMAND} -E env --unset=PYTHONPATH PYTHONPATH=${PREFIX}/${SITE} PYTHONDONTWRITEBYTECODE=1
                        ${PYTHON} -c "${code}" ${PREFIX}
                WORKING_DIRECTORY ${PREFIX} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
file(REMOVE_RECURSE ${PREFIX})
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "importing the installed package failed (${rc}): ${out}${err}")
endif()
message(STATUS "${out}")
