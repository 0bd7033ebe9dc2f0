# Toolchain for the freestanding guest kernel: clang 14 targeting bare x86-64 ELF, linked
# by ld.lld 14 with our own linker script. Used as
#   cmake -S guest_kernel -B build -DCMAKE_TOOLCHAIN_FILE=guest_kernel/cmake/x86_64-elf-clang.cmake
set(CMAKE_SYSTEM_NAME Generic)       # no operating system: no libc, no crt, no dynamic loader
set(CMAKE_SYSTEM_PROCESSOR x86_64)

find_program(ASI_GUEST_CLANGXX NAMES clang++-14 clang++ REQUIRED)
find_program(ASI_GUEST_CLANG NAMES clang-14 clang REQUIRED)
find_program(ASI_GUEST_LLD NAMES ld.lld-14 ld.lld REQUIRED)

set(CMAKE_CXX_COMPILER ${ASI_GUEST_CLANGXX})
set(CMAKE_ASM_COMPILER ${ASI_GUEST_CLANG})
set(CMAKE_CXX_COMPILER_TARGET x86_64-unknown-none-elf)
set(CMAKE_ASM_COMPILER_TARGET x86_64-unknown-none-elf)
set(CMAKE_LINKER ${ASI_GUEST_LLD})

# CMake's compiler checks link a test program; nothing can be linked without our script.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

# Link with ld.lld directly (not through the clang driver, which would add crt files and
# a host library search path).
set(CMAKE_CXX_LINK_EXECUTABLE "<CMAKE_LINKER> <LINK_FLAGS> <OBJECTS> -o <TARGET> <LINK_LIBRARIES>")

set(ASI_GUEST_CXX_FLAGS
  -ffreestanding               # no hosted library: the compiler may not assume libc semantics
  -nostdlibinc                 # only the compiler's freestanding headers (stdint.h, stdarg.h, stddef.h)
  -fno-exceptions              # no unwinder in the kernel
  -fno-rtti                    # no typeinfo / dynamic_cast support library
  -mno-red-zone                # interrupts and exceptions push their frame onto the current
                               # kernel stack, which would clobber a leaf function's red zone
  -mcmodel=kernel              # code and data are linked in the top 2 GiB (0xffffffff80000000+PA),
                               # so symbol addresses are sign-extended 32-bit values
  -mgeneral-regs-only          # no SSE/MMX/x87: trap entry saves only GPRs, never FPU/vector state
  -fno-stack-protector         # no __stack_chk_guard / __stack_chk_fail runtime
  -fno-pic                     # absolute addressing: the kernel runs at its link address
  -fno-pie
  -fno-threadsafe-statics      # no __cxa_guard_* runtime; statics are set up before any concurrency
  -fno-asynchronous-unwind-tables  # no .eh_frame: nothing unwinds
  -fno-unwind-tables
  -fno-omit-frame-pointer      # RBP chains let the oops path and the emulator walk guest stacks
  -fno-strict-aliasing         # page tables, boot blocks and device data are read through other types
  -Wall -Wextra -Werror
  -O2
  -g                           # debug info (non-loaded sections) lets host tools symbolise guest RIPs
)
string(JOIN " " ASI_GUEST_CXX_FLAGS_STR ${ASI_GUEST_CXX_FLAGS})
set(CMAKE_CXX_FLAGS_INIT "${ASI_GUEST_CXX_FLAGS_STR}")
set(CMAKE_ASM_FLAGS_INIT "-g -Wall -Werror")
# The per-configuration flags (-O3 -DNDEBUG for Release, ...) are cleared in CMakeLists.txt:
# the flags above are the kernel's only ones, whatever CMAKE_BUILD_TYPE the caller passes.

set(CMAKE_EXE_LINKER_FLAGS_INIT
  "-nostdlib -static -z max-page-size=4096 -z noexecstack --build-id=none --orphan-handling=error")
# -nostdlib: no default libraries or search paths; -static: no dynamic sections;
# max-page-size=4096: segments aligned to 4 KiB pages (the default 4 KiB for x86-64 lld, made
# explicit because the loader maps segments page by page); --build-id=none: no extra note;
# --orphan-handling=error: every input section must be placed by kernel.ld, so nothing can
# end up in a segment with the wrong permissions.
