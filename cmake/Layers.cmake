# gradstack_layer(NAME DEPS dep...): a shared library gradstack_NAME built from every .cpp (and,
# for cuda/, .cu) under NAME/. Its public include directory holds a single entry, NAME -> the source folder, so code sees
# "NAME/..." headers of itself and of the layers it links (include directories propagate along
# target_link_libraries) and nothing else: an include that points the wrong way fails to compile.
function(gradstack_layer name)
  cmake_parse_arguments(L "" "" "DEPS;LIBS" ${ARGN})
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/${name}/*.cpp
    ${CMAKE_SOURCE_DIR}/${name}/*.cu)
  if(NOT sources)
    message(STATUS "layer ${name}: no sources yet, skipped")
    return()
  endif()
  set(view ${CMAKE_BINARY_DIR}/include/${name})
  file(MAKE_DIRECTORY ${view})
  file(CREATE_LINK ${CMAKE_SOURCE_DIR}/${name} ${view}/${name} SYMBOLIC)
  add_library(gradstack_${name} SHARED ${sources})
  target_include_directories(gradstack_${name} PUBLIC ${view})
  set(deps)
  foreach(dep ${L_DEPS})
    list(APPEND deps gradstack_${dep})
  endforeach()
  target_link_libraries(gradstack_${name} PUBLIC ${deps} ${L_LIBS})
endfunction()
