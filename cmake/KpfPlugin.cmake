# kpf_add_plugin(NAME src...) — a model plugin: a MODULE library NAME.so in
# the build's plugin folder and in ${KPF_PLUGIN_INSTALL_DIR} once installed.
function(kpf_add_plugin name)
  add_library(plugin_${name} MODULE ${ARGN})
  set_target_properties(plugin_${name} PROPERTIES
    PREFIX "" OUTPUT_NAME ${name}
    LIBRARY_OUTPUT_DIRECTORY ${KPF_PLUGIN_BUILD_DIR}
    C_VISIBILITY_PRESET hidden)
  target_link_libraries(plugin_${name} PRIVATE kpf)
  if(TARGET OpenMP::OpenMP_C)
    target_link_libraries(plugin_${name} PRIVATE OpenMP::OpenMP_C)
  endif()
  install(TARGETS plugin_${name} LIBRARY DESTINATION ${KPF_PLUGIN_INSTALL_DIR})
endfunction()
