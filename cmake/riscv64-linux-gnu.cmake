# Cross build for riscv64 with Debian's gcc-riscv64-linux-gnu; tests run
# under qemu-riscv64-static. Everything is linked statically: cmocka comes
# from scripts/riscv64-cmocka.sh (Debian 12 has no riscv64 packages).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR riscv64)
set(CMAKE_C_COMPILER riscv64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER riscv64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-riscv64-static;-L;/usr/riscv64-linux-gnu)
set(CMAKE_EXE_LINKER_FLAGS_INIT -static)
get_filename_component(_iopfq_top ${CMAKE_CURRENT_LIST_DIR} DIRECTORY)
set(ENV{PKG_CONFIG_LIBDIR} ${_iopfq_top}/build/riscv64-deps/prefix/lib/pkgconfig)
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")
# sub-word atomics in the tests (u8 exchange) come from libatomic on RISC-V
set(CMAKE_C_STANDARD_LIBRARIES "-latomic")
