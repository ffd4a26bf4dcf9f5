# kpf_add_plugin(NAME src...) — a model plugin: a MODULE library NAME.so
# (target plugin_NAME), built with hidden visibility and linked to libkpf.
#
# In kpf's own tree it lands in the build's plugin folder and installs into
# ${KPF_PLUGIN_INSTALL_DIR}, with the run path $ORIGIN/../.. (that folder is
# <libdir>/kpf/plugins), so the installed plugin finds the libkpf beside it
# wherever the prefix is moved.
#
# kpfConfig.cmake includes this file, so after find_package(kpf) a plugin's
# own project calls the same function: it links kpf::kpf, installs into
# kpf_PLUGIN_DIR (the folder the installed kpf searches), and when kpf's
# library folder is not a system one, records it as the run path of both the
# built and the installed plugin: the plugin finds libkpf without
# LD_LIBRARY_PATH, like one built with `pkg-config --libs kpf`
# (docs/writing-a-plugin.md, "Running from a non-system prefix").
function(kpf_add_plugin name)
  add_library(plugin_${name} MODULE ${ARGN})
  set_target_properties(plugin_${name} PROPERTIES
    PREFIX "" OUTPUT_NAME ${name}
    C_VISIBILITY_PRESET hidden)
  if(DEFINED KPF_PLUGIN_BUILD_DIR)   # kpf's own tree (CMakeLists.txt sets it)
    set_target_properties(plugin_${name} PROPERTIES
      LIBRARY_OUTPUT_DIRECTORY ${KPF_PLUGIN_BUILD_DIR}
      INSTALL_RPATH "$ORIGIN/../..")
    target_link_libraries(plugin_${name} PRIVATE kpf)
    if(TARGET OpenMP::OpenMP_C)
      target_link_libraries(plugin_${name} PRIVATE OpenMP::OpenMP_C)
    endif()
    install(TARGETS plugin_${name} LIBRARY DESTINATION ${KPF_PLUGIN_INSTALL_DIR})
    return()
  endif()
  if(NOT TARGET kpf::kpf)
    message(FATAL_ERROR "kpf_add_plugin(${name}): call find_package(kpf) first")
  endif()
  target_link_libraries(plugin_${name} PRIVATE kpf::kpf)
  if(NOT kpf_LIBRARY_DIR IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES AND
     NOT kpf_LIBRARY_DIR IN_LIST CMAKE_PLATFORM_IMPLICIT_LINK_DIRECTORIES)
    set_target_properties(plugin_${name} PROPERTIES
      BUILD_RPATH "${kpf_LIBRARY_DIR}"
      INSTALL_RPATH "${kpf_LIBRARY_DIR}")
  endif()
  install(TARGETS plugin_${name} LIBRARY DESTINATION "${kpf_PLUGIN_DIR}")
endfunction()
