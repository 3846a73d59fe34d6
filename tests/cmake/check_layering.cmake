# SPDX-License-Identifier: Apache-2.0
# Fails when a source file includes a header of a higher folder, or forward-declares a class with a comment
# pointing into one. Data flows graph <- ops <- autodiff <- models <- train <- apps, io beside models and
# train (io may use models; train may use io); a folder may include itself, the lower folders and
# system/third-party headers (<...>, or a quoted path outside the project's folders).
# Usage: cmake -DSOURCE_DIR=... -P check_layering.cmake
cmake_policy(SET CMP0057 NEW)  # if(... IN_LIST ...)
set(layers graph ops autodiff models io train apps)
set(allowed_graph graph)
set(allowed_ops graph ops)
set(allowed_autodiff graph ops autodiff)
set(allowed_models graph ops autodiff models)
set(allowed_io graph ops autodiff models io)
set(allowed_train graph ops autodiff models io train)
set(allowed_apps graph ops autodiff models io train apps examples)
set(project_folders ${layers} examples)

set(violations "")
foreach(folder IN LISTS layers)
  file(GLOB_RECURSE sources ${SOURCE_DIR}/${folder}/*.h ${SOURCE_DIR}/${folder}/*.cpp)
  foreach(source IN LISTS sources)
    file(RELATIVE_PATH name ${SOURCE_DIR} ${source})
    file(STRINGS ${source} lines)
    foreach(line IN LISTS lines)
      set(target "")
      if(line MATCHES "^[ \t]*#[ \t]*include[ \t]+\"([a-z_]+)/")
        set(target ${CMAKE_MATCH_1})
        set(what "includes")
      elseif(line MATCHES "^[ \t]*(class|struct)[ \t]+[A-Za-z_0-9]+[ \t]*;[ \t]*//(.*[^a-z_])?([a-z_]+)/[a-z_]+\\.(h|cpp)")
        set(target ${CMAKE_MATCH_3})
        set(what "forward-declares a class of")
      endif()
      if(target AND target IN_LIST project_folders AND NOT target IN_LIST allowed_${folder})
        string(APPEND violations "  ${name} ${what} ${target}/: ${line}\n")
      endif()
    endforeach()
  endforeach()
endforeach()
if(violations)
  message(FATAL_ERROR "layering: a folder reaches into a higher one (graph <- ops <- autodiff <- models <- "
                      "train <- apps, io beside models and train):\n${violations}")
endif()
message(STATUS "layering holds")
