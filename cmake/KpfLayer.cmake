# kpf_layer(NAME [BELOW LOWER] SOURCES file... [TESTS test_x.c...])
#
# One layer of libkpf: the folder core/NAME/, an OBJECT library kpf_NAME
# built from exactly the files listed, public headers in core/NAME/include/kpf
# and private ones beside the sources.  A layer sees its own headers and those
# of the layers below it (BELOW names the one directly below; it brings every
# lower one), and nothing else: an #include of a higher layer's header fails
# to compile.  libkpf.so is the union of the layers' objects (core/CMakeLists.txt).
function(kpf_layer name)
  cmake_parse_arguments(L "" "BELOW" "SOURCES;TESTS" ${ARGN})
  add_library(kpf_${name} OBJECT ${L_SOURCES})
  target_include_directories(kpf_${name} PUBLIC
    ${CMAKE_CURRENT_SOURCE_DIR}/include ${CMAKE_CURRENT_SOURCE_DIR})
  if(L_BELOW)
    target_link_libraries(kpf_${name} PUBLIC kpf_${L_BELOW})
  else()
    target_link_libraries(kpf_${name} PUBLIC kpf_deps)
  endif()
  # Only what carries KPF_API leaves libkpf.so (kpf/export.h).
  set_target_properties(kpf_${name} PROPERTIES C_VISIBILITY_PRESET hidden)
  target_compile_definitions(kpf_${name} PRIVATE KPF_BUILDING_LIBRARY)
  if(TARGET OpenMP::OpenMP_C)
    target_link_libraries(kpf_${name} PRIVATE OpenMP::OpenMP_C)
  endif()
  set_property(GLOBAL APPEND PROPERTY KPF_LAYER_TARGETS kpf_${name})
  set_property(GLOBAL APPEND PROPERTY KPF_PUBLIC_INCLUDE_DIRS ${CMAKE_CURRENT_SOURCE_DIR}/include)
  foreach(t ${L_TESTS})
    kpf_add_test(${t})
  endforeach()
endfunction()

# kpf_add_test(test_x.c [LIBS lib...]) — one Criterion executable and ctest
# test, linked against libkpf (and LIBS); tests/ holds the shared helpers.
function(kpf_add_test src)
  if(NOT KPF_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(T "" "" "LIBS" ${ARGN})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(${name} PRIVATE kpf ${T_LIBS} PkgConfig::CRITERION)
  target_compile_definitions(${name} PRIVATE
    KPF_TEST_PLUGIN_DIR="${CMAKE_BINARY_DIR}/tests/plugins"
    KPF_BUILD_PLUGIN_DIR="${KPF_PLUGIN_BUILD_DIR}"
    KPF_CLI_PATH="$<TARGET_FILE:kpf_cli>"
    KPF_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    KPF_BINARY_DIR="${CMAKE_BINARY_DIR}")
  add_dependencies(${name} kpf_test_plugins kpf_cli kpf_all_plugins)
  add_test(NAME ${name} COMMAND ${name} --jobs 1)
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "KPF_PLUGIN_PATH=")
endfunction()
