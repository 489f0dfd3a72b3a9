// The machine context of x86-64 System V (context_switch_x86_64.S).
// Included by platform/context.hpp, which has the contract.
#pragma once

#include <ucontext.h>

#include <cstdint>
#include <cstring>

namespace go::platform {

// The frame gocxx_context_switch leaves at the saved stack pointer, lowest address first:
// [mxcsr|fpucw] r15 r14 r13 r12 rbx rbp, then the return address.
struct saved_frame {
  static constexpr int words = 8;
  static constexpr int frame_pointer = 6;
  static constexpr int return_address = 7;
  static constexpr unsigned dwarf_sp = 7, dwarf_fp = 6, dwarf_ra = 16;
};

inline void* make_context(void* stack_top, void (*entry)(void*), void* arg) noexcept {
  auto* top = static_cast<std::uint64_t*>(stack_top);
  // After `ret` the stack pointer is top - 2 (16-byte aligned), as a call site requires.
  std::uint64_t* sp = top - 2 - saved_frame::words;
  std::uint32_t mxcsr = 0x1F80;
  std::uint16_t fpucw = 0x037F;
  std::memcpy(&sp[0], &mxcsr, 4);
  std::memcpy(reinterpret_cast<char*>(&sp[0]) + 4, &fpucw, 2);
  sp[1] = 0;                                       // r15
  sp[2] = 0;                                       // r14
  sp[3] = reinterpret_cast<std::uint64_t>(entry);  // r13
  sp[4] = reinterpret_cast<std::uint64_t>(arg);    // r12
  sp[5] = 0;                                       // rbx
  sp[6] = 0;                                       // rbp
  sp[7] = reinterpret_cast<std::uint64_t>(&gocxx_context_entry);
  top[-2] = 0;  // a null return address ends backtraces
  top[-1] = 0;
  return sp;
}

// The registers of a thread a signal interrupted (the CPU profiler's SIGPROF handler).
struct interrupted {
  std::uintptr_t pc, sp, fp;
};

// interrupted_registers reads, from the ucontext_t a signal handler receives, the address
// the thread was at and its stack and frame pointers.
inline interrupted interrupted_registers(const void* ucontext) noexcept {
  const auto* uc = static_cast<const ucontext_t*>(ucontext);
  return {static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]),
          static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]),
          static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RBP])};
}

}  // namespace go::platform
