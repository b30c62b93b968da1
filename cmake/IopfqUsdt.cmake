# USDT probes in the core (core/platform/iopfq_platform.h lists them):
# iopfq_usdt(TARGET) compiles TARGET's core sources with IOPFQ_USDT, which
# maps IOPFQ_PROBE onto <sys/sdt.h> (Debian: systemtap-sdt-dev). The core
# builds with -nostdinc, so only sys/sdt.h and sys/sdt-config.h are copied
# into an include directory of their own: nothing else of the system's
# headers becomes reachable. IOPFQ_USDT=OFF, or no sys/sdt.h: no probes.
option(IOPFQ_USDT "USDT probes (sys/sdt.h) in libiopfq's core" ON)
if(IOPFQ_USDT AND NOT IOPFQ_SDT_DIR)
  find_path(IOPFQ_SDT_H_DIR sys/sdt.h)
  if(IOPFQ_SDT_H_DIR)
    set(IOPFQ_SDT_DIR ${CMAKE_BINARY_DIR}/sdt-include CACHE INTERNAL "")
    foreach(h sdt.h sdt-config.h)
      configure_file(${IOPFQ_SDT_H_DIR}/sys/${h} ${IOPFQ_SDT_DIR}/sys/${h} COPYONLY)
    endforeach()
  else()
    message(STATUS "sys/sdt.h not found (systemtap-sdt-dev): libiopfq without USDT probes")
  endif()
endif()

function(iopfq_usdt target)
  if(IOPFQ_USDT AND IOPFQ_SDT_DIR)
    target_compile_definitions(${target} PRIVATE IOPFQ_USDT=1)
    target_include_directories(${target} SYSTEM PRIVATE ${IOPFQ_SDT_DIR})
  endif()
endfunction()
