# cmake -DSRC_DIR=<tests/sdk> -DDST_DIR=<build>/sdk -P npm_install.cmake
#
# Installs the pinned OpenTelemetry JS packages with `npm ci` (exactly the lockfile) into
# DST_DIR, next to a copy of the scripts. Skips the install when DST_DIR already holds
# node_modules for the same lockfile. Fails without npm.
find_program(NPM npm)
find_program(NODE node)
if(NOT NPM OR NOT NODE)
  message(FATAL_ERROR "node/npm not found (node='${NODE}', npm='${NPM}'): the SDK test needs "
                      "Node.js >= 18.19 and npm; install them (Debian: apt-get install nodejs npm)")
endif()

file(MAKE_DIRECTORY ${DST_DIR})
file(COPY ${SRC_DIR}/package.json ${SRC_DIR}/package-lock.json ${SRC_DIR}/send_all.js
          ${SRC_DIR}/jaeger_sampler.js
     DESTINATION ${DST_DIR})

file(SHA256 ${SRC_DIR}/package-lock.json lock_hash)
set(stamp ${DST_DIR}/node_modules/.otlpd-lock-sha256)
if(EXISTS ${stamp})
  file(READ ${stamp} installed_hash)
  if(installed_hash STREQUAL lock_hash)
    message(STATUS "node_modules up to date for package-lock.json ${lock_hash}")
    return()
  endif()
endif()

# --ignore-scripts: every package used is plain JavaScript; no install step needs to run.
execute_process(
  COMMAND ${NPM} ci --no-audit --no-fund --ignore-scripts --loglevel=error
  WORKING_DIRECTORY ${DST_DIR}
  TIMEOUT 600
  RESULT_VARIABLE rc
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "npm ci failed (${rc}):\n${out}\n${err}")
endif()
file(WRITE ${stamp} ${lock_hash})
message(STATUS "npm ci done in ${DST_DIR}")
