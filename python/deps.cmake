# Python front end (python/): found quietly, so that a machine without
# pybind11 or NumPy still builds the C++ project. Debian 12's /usr/bin/python3
# (3.11, with python3-numpy and pybind11-dev) is preferred over an
# interpreter earlier on PATH (e.g. a pyenv build without NumPy);
# -DPython_EXECUTABLE=... picks another one.
if(NOT DEFINED Python_EXECUTABLE AND EXISTS /usr/bin/python3)
  set(Python_EXECUTABLE /usr/bin/python3)
endif()
find_package(Python 3.8 QUIET COMPONENTS Interpreter Development.Module NumPy)
if(Python_FOUND AND Python_NumPy_FOUND)
  find_package(pybind11 2.10 CONFIG QUIET)
endif()
set(_eoscale_python_default OFF)
# Sanitizer and fuzzing builds leave the module out by default: an extension
# under ASan/TSan needs the runtime preloaded into the interpreter
# (docs/python.md). -DEOSCALE_BUILD_PYTHON=ON builds it anyway (its tests are
# still not registered).
if(Python_FOUND AND Python_NumPy_FOUND AND pybind11_FOUND AND EOSCALE_SANITIZE STREQUAL "" AND NOT EOSCALE_FUZZ)
  set(_eoscale_python_default ON)
endif()
option(EOSCALE_BUILD_PYTHON "Build the Python module (python/; needs pybind11 and NumPy)" ${_eoscale_python_default})
if(EOSCALE_BUILD_PYTHON AND NOT (Python_FOUND AND Python_NumPy_FOUND AND pybind11_FOUND))
  message(FATAL_ERROR "EOSCALE_BUILD_PYTHON=ON needs Python with NumPy and pybind11 "
                      "(Debian: python3-dev python3-numpy pybind11-dev)")
endif()
message(STATUS "eoscale: Python module ${EOSCALE_BUILD_PYTHON}")
