# Every dependency comes from a Debian package (see README.md).
find_package(PkgConfig REQUIRED)

# GSL without its reference CBLAS: OpenBLAS provides cblas_* for both GSL
# and kpf, so libgslcblas is never linked.
find_path(GSL_INCLUDE_DIR gsl/gsl_rng.h REQUIRED)
find_library(GSL_LIBRARY gsl REQUIRED)
find_library(OPENBLAS_LIBRARY NAMES openblas REQUIRED)
find_path(CBLAS_INCLUDE_DIR cblas.h
          PATHS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE} /usr/include/openblas
          REQUIRED)

pkg_check_modules(YAML REQUIRED IMPORTED_TARGET yaml-0.1)

set(HDF5_PREFER_PARALLEL OFF)
find_package(HDF5 REQUIRED COMPONENTS C)

find_library(M_LIBRARY m REQUIRED)

# Matrix-free eigen/SVD through ARPACK's reverse-communication interface.
find_library(ARPACK_LIBRARY arpack REQUIRED)

# FFTs of trajectories and LTI convolutions (lrnn toolkit, power spectra).
pkg_check_modules(FFTW3 REQUIRED IMPORTED_TARGET fftw3)

# Vectorised tanh/exp for the element-wise half of model ops (kpf/vmath.h).
pkg_check_modules(SLEEF REQUIRED IMPORTED_TARGET sleef)

# JSON headers of .safetensors files (kpf/safetensors.h) and `kpf show`.
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)

# OpenMP (GCC's libgomp) splits the element-wise loops of the core and the
# in-tree plugins; optional: without it the pragmas are ignored.
find_package(OpenMP COMPONENTS C)

add_library(kpf_deps INTERFACE)
target_include_directories(kpf_deps INTERFACE ${GSL_INCLUDE_DIR} ${CBLAS_INCLUDE_DIR}
                           ${HDF5_C_INCLUDE_DIRS} ${HDF5_INCLUDE_DIRS})
target_compile_definitions(kpf_deps INTERFACE ${HDF5_C_DEFINITIONS} ${HDF5_DEFINITIONS})
target_link_libraries(kpf_deps INTERFACE ${GSL_LIBRARY} ${OPENBLAS_LIBRARY}
                      ${ARPACK_LIBRARY} PkgConfig::FFTW3 PkgConfig::YAML PkgConfig::JANSSON ${HDF5_C_LIBRARIES} ${HDF5_LIBRARIES}
                      ${CMAKE_DL_LIBS} ${M_LIBRARY})

if(KPF_BUILD_TESTS)
  pkg_check_modules(CRITERION REQUIRED IMPORTED_TARGET criterion)
endif()
