# Install rules, pkg-config file and CMake package config (see docs/writing-a-plugin.md).
#
#   <prefix>/bin/kpf
#   <prefix>/include/kpf/*.h                      (the layers' public headers; version.h is generated)
#   <prefix>/<libdir>/libkpf.so.X.Y.Z, .so.X, .so
#   <prefix>/<libdir>/kpf/plugins/*.so            (kpf_add_plugin installs these)
#   <prefix>/<libdir>/pkgconfig/kpf.pc            pkg-config --cflags --libs kpf
#   <prefix>/<libdir>/cmake/kpf/                  find_package(kpf) -> kpf::kpf, kpf_add_plugin
include(CMakePackageConfigHelpers)

set(KPF_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/kpf)

# ---- what installed consumers need besides libkpf -----------------------------
# In the build tree libkpf links kpf_deps PUBLIC: tests and in-tree plugins use
# GSL, CBLAS and HDF5 headers through it.  An installed consumer (a plugin)
# needs only what the public headers and the ABI hand it: GSL (model.h
# includes gsl/gsl_rng.h; create gets a gsl_rng) and CBLAS (the ops are meant
# to be GEMMs).  YAML, HDF5 and libdl stay private to libkpf.so.  So the
# exported kpf::kpf links kpf::deps, which kpfConfig.cmake defines by finding
# GSL and OpenBLAS again, and kpf.pc lists the same.
get_target_property(_kpf_iface kpf INTERFACE_LINK_LIBRARIES)
if(NOT _kpf_iface)
  set(_kpf_iface "")
endif()
list(TRANSFORM _kpf_iface REPLACE "^kpf_deps$" "$<BUILD_INTERFACE:kpf_deps>")
list(APPEND _kpf_iface "$<INSTALL_INTERFACE:kpf::deps>")
set_property(TARGET kpf PROPERTY INTERFACE_LINK_LIBRARIES "${_kpf_iface}")

# ---- targets, headers --------------------------------------------------------
install(TARGETS kpf EXPORT kpfTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
set_target_properties(kpf_cli PROPERTIES EXPORT_NAME cli)   # kpf::cli
install(TARGETS kpf_cli EXPORT kpfTargets RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The public API: each layer's include/kpf (core/CMakeLists.txt collects
# them).  Private headers beside the sources and the studies' headers stay
# in the source tree.
foreach(dir ${KPF_PUBLIC_INCLUDE_DIRS})
  install(DIRECTORY ${dir}/kpf DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
          FILES_MATCHING PATTERN "*.h")
endforeach()
install(FILES ${PROJECT_BINARY_DIR}/core/include/kpf/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/kpf)

# ---- CMake package -------------------------------------------------------------
install(EXPORT kpfTargets NAMESPACE kpf:: DESTINATION ${KPF_CMAKE_INSTALL_DIR})
# Hints for kpfConfig.cmake: where this build found GSL and OpenBLAS.
get_filename_component(KPF_GSL_LIBRARY_DIR ${GSL_LIBRARY} DIRECTORY)
get_filename_component(KPF_OPENBLAS_LIBRARY_DIR ${OPENBLAS_LIBRARY} DIRECTORY)
configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/kpfConfig.cmake.in
  ${PROJECT_BINARY_DIR}/kpfConfig.cmake
  INSTALL_DESTINATION ${KPF_CMAKE_INSTALL_DIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_LIBDIR KPF_PLUGIN_INSTALL_DIR)
# 0.x: the plugin ABI may still change between minor versions.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/kpfConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
# KpfPlugin.cmake: kpf_add_plugin, for plugins built against the install.
install(FILES ${PROJECT_BINARY_DIR}/kpfConfig.cmake ${PROJECT_BINARY_DIR}/kpfConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/KpfPlugin.cmake
        DESTINATION ${KPF_CMAKE_INSTALL_DIR})

# ---- pkg-config ------------------------------------------------------------------
# Library paths as found by KpfDependencies.cmake -> "-L<dir> -l<name>" flags
# (no -L for the compiler's own search folders; imported targets are skipped:
# they appear in Requires.private instead).
function(kpf_pc_libs out)
  set(flags "")
  foreach(lib IN LISTS ARGN)
    if(TARGET ${lib} OR lib MATCHES "^\\$<")
      continue()
    elseif(lib MATCHES "^-")
      list(APPEND flags "${lib}")
    elseif(IS_ABSOLUTE "${lib}")
      get_filename_component(dir "${lib}" DIRECTORY)
      get_filename_component(name "${lib}" NAME)
      if(name MATCHES "^lib(.+)\\.(so|a)(\\..*)?$")
        if(NOT dir IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
          list(APPEND flags "-L${dir}")
        endif()
        list(APPEND flags "-l${CMAKE_MATCH_1}")
      else()
        list(APPEND flags "${lib}")
      endif()
    elseif(NOT lib MATCHES "^(debug|optimized|general)$")
      list(APPEND flags "-l${lib}")
    endif()
  endforeach()
  list(REMOVE_DUPLICATES flags)
  list(JOIN flags " " flags)
  set(${out} "${flags}" PARENT_SCOPE)
endfunction()

set(_kpf_pc_cflags "")
foreach(dir IN ITEMS ${GSL_INCLUDE_DIR} ${CBLAS_INCLUDE_DIR})
  if(NOT dir IN_LIST CMAKE_C_IMPLICIT_INCLUDE_DIRECTORIES AND NOT dir STREQUAL "/usr/include")
    string(APPEND _kpf_pc_cflags " -I${dir}")
  endif()
endforeach()
kpf_pc_libs(KPF_PC_LIBS ${GSL_LIBRARY} ${OPENBLAS_LIBRARY} ${M_LIBRARY})
kpf_pc_libs(KPF_PC_LIBS_PRIVATE ${HDF5_C_LIBRARIES} ${HDF5_LIBRARIES} ${CMAKE_DL_LIBS})
set(KPF_PC_CFLAGS "${_kpf_pc_cflags}")

# The prefix is only known at install time (cmake --install --prefix P), so
# the file is configured then, from a template configured now.
foreach(d LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${d}}")
    set(KPF_PC_${d} "${CMAKE_INSTALL_${d}}")
  else()
    set(KPF_PC_${d} "\${prefix}/${CMAKE_INSTALL_${d}}")
  endif()
endforeach()
if(IS_ABSOLUTE "${KPF_PLUGIN_INSTALL_DIR}")
  set(KPF_PC_PLUGINDIR "${KPF_PLUGIN_INSTALL_DIR}")
else()
  set(KPF_PC_PLUGINDIR "\${prefix}/${KPF_PLUGIN_INSTALL_DIR}")
endif()
set(KPF_PC_PREFIX "@KPF_PC_PREFIX@")   # kept for the install-time pass
set(KPF_PC_RPATH "@KPF_PC_RPATH@")
configure_file(${PROJECT_SOURCE_DIR}/cmake/kpf.pc.in ${PROJECT_BINARY_DIR}/kpf.pc.in @ONLY)
# Libs carries -Wl,-rpath,${libdir} when the library folder is not one the
# linker and the dynamic loader search anyway, so a plugin built with
# `pkg-config --libs kpf` finds libkpf at run time from any prefix
# (docs/writing-a-plugin.md, "Running from a non-system prefix").  A system
# folder gets no rpath: it would be redundant, and distributions forbid it.
# Each install configures its own copy (in a folder named after its prefix),
# installs it and removes it, so concurrent installs into different prefixes
# (the install tests) never share a file.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(_kpf_pc_libdir_code "set(_libdir \"${CMAKE_INSTALL_LIBDIR}\")")
else()
  set(_kpf_pc_libdir_code "set(_libdir \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}\")")
endif()
set(_kpf_system_libdirs ${CMAKE_C_IMPLICIT_LINK_DIRECTORIES} ${CMAKE_PLATFORM_IMPLICIT_LINK_DIRECTORIES})
install(CODE "
  set(KPF_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  ${_kpf_pc_libdir_code}
  cmake_path(NORMAL_PATH _libdir)
  set(_system \"${_kpf_system_libdirs}\")
  set(KPF_PC_RPATH \"\")
  list(FIND _system \"\${_libdir}\" _at)   # (no IN_LIST: install scripts run without policies)
  if(_at LESS 0)
    set(KPF_PC_RPATH \" -Wl,-rpath,\\\${libdir}\")
  endif()
  string(MD5 _tag \"\${CMAKE_INSTALL_PREFIX}\")
  set(_pc \"${PROJECT_BINARY_DIR}/pkgconfig/\${_tag}/kpf.pc\")
  configure_file(\"${PROJECT_BINARY_DIR}/kpf.pc.in\" \"\${_pc}\" @ONLY)
  file(INSTALL DESTINATION \"\${_libdir}/pkgconfig\" TYPE FILE FILES \"\${_pc}\")
  file(REMOVE_RECURSE \"${PROJECT_BINARY_DIR}/pkgconfig/\${_tag}\")
")
