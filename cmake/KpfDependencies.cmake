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

# MPI (optional): sweeps as a task farm over ranks, trial-parallel runs, and
# PARPACK (ARPACK's MPI version) for spectra of trial-distributed operators.
# Both or neither: KPF_HAVE_MPI is ON when MPI's C binding and libparpack are
# found and KPF_MPI is not switched off.  Without it kpf runs in one process,
# exactly as before.  Only kpf_mpi's users see mpi.h (core/sys/comm_mpi.c and
# core/spectral/spectral_parpack.c); everything else talks to kpf/comm.h.
option(KPF_MPI "Use MPI and PARPACK when they are found" ON)
set(KPF_HAVE_MPI OFF)
if(KPF_MPI)
  find_package(MPI COMPONENTS C)
  find_library(PARPACK_LIBRARY parpack)
  find_program(KPF_MPIEXEC NAMES mpirun mpiexec)
  if(MPI_C_FOUND AND PARPACK_LIBRARY)
    set(KPF_HAVE_MPI ON)
    add_library(kpf_mpi INTERFACE)
    target_link_libraries(kpf_mpi INTERFACE MPI::MPI_C ${PARPACK_LIBRARY})
    target_compile_definitions(kpf_mpi INTERFACE KPF_HAVE_MPI)
    message(STATUS "kpf: MPI ${MPI_C_VERSION} and PARPACK found: MPI sweeps and "
                   "trial-parallel runs are built")
  else()
    message(STATUS "kpf: MPI or PARPACK not found (Debian: libopenmpi-dev openmpi-bin "
                   "libparpack2-dev): building without MPI")
  endif()
endif()

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
