# kbk_module(NAME [DEPS mod...] [EXTERNAL target...])
# Builds src/NAME/*.cpp into the static library kbk_NAME. Its public headers live in include/kbk/NAME/.
# Each module gets an include tree that holds only its own headers and those of the modules it may use
# (a per-build copy-free "view" made of one directory per allowed module), so #include <kbk/other/...> of a
# module that is not in DEPS fails to compile.

set(KBK_VIEW_ROOT ${CMAKE_BINARY_DIR}/include-views)

function(kbk_apply_warnings target)
  # No -Wnull-dereference: at -O2 GCC 12 reports false positives inside CLI11 and libstdc++ headers.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                         -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual
                         -Wimplicit-fallthrough -Wformat=2)
  # g++ 12 at -O2/-O3 reports -Wrestrict inside libstdc++ for `"x" + std::string(...)` (a literal prepended to a
  # temporary: basic_string::insert), a false positive (GCC bug 105329, fixed in GCC 13). It fired in Release builds
  # all over the code and tests, so it is silenced for that compiler only; other compilers keep the warning.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 12
     AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
  if(KBK_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(KBK_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer
                           -fno-sanitize-recover=undefined)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
  if(KBK_FUZZ)
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                           -fno-sanitize-recover=undefined
                           -fsanitize-ignorelist=${PROJECT_SOURCE_DIR}/tests/fuzz/ubsan-ignorelist.txt)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()

function(kbk_module name)
  cmake_parse_arguments(M "" "" "DEPS;EXTERNAL" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${name}/*.cpp)
  if(NOT srcs)
    # A module whose implementation has not landed yet still gets a library, so dependents link.
    set(srcs ${CMAKE_BINARY_DIR}/empty/${name}.cpp)
    file(WRITE ${srcs} "// module ${name}: no sources yet\n")
  endif()
  add_library(kbk_${name} STATIC ${srcs})
  # The include view: include-views/<name>/kbk/<mod> -> include/kbk/<mod> for name and each dep.
  set(view ${KBK_VIEW_ROOT}/${name})
  file(MAKE_DIRECTORY ${view}/kbk)
  foreach(mod ${name} ${M_DEPS})
    if(NOT EXISTS ${view}/kbk/${mod})
      file(CREATE_LINK ${PROJECT_SOURCE_DIR}/include/kbk/${mod} ${view}/kbk/${mod} SYMBOLIC)
    endif()
  endforeach()
  target_include_directories(kbk_${name} PRIVATE ${PROJECT_SOURCE_DIR}/src/${name})
  # Users of the module see its view (its own headers and its dependencies'), transitively through PUBLIC links:
  # storage can never reach kube's headers, restore can reach patch's.
  target_include_directories(kbk_${name} PUBLIC ${view})
  foreach(dep ${M_DEPS})
    target_link_libraries(kbk_${name} PUBLIC kbk_${dep})
  endforeach()
  if(M_EXTERNAL)
    target_link_libraries(kbk_${name} PUBLIC ${M_EXTERNAL})
  endif()
  target_link_libraries(kbk_${name} PUBLIC Threads::Threads)
  target_compile_definitions(kbk_${name} PUBLIC KBK_VERSION="${PROJECT_VERSION}" RAPIDJSON_HAS_STDSTRING=1)
  kbk_apply_warnings(kbk_${name})
endfunction()
