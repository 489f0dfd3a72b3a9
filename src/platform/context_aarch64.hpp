// The machine context of AArch64 (AAPCS64, Linux; context_switch_aarch64.S).
// Included by platform/context.hpp, which has the contract.
#pragma once

#include <ucontext.h>

#include <cstdint>

namespace go::platform {

// The frame gocxx_context_switch leaves at the saved stack pointer, lowest address first:
// fpcr and a pad word, d8-d15, x19-x28, then x29 (the frame pointer) and x30 (the link
// register, the address the switch returns to), as a frame record would hold them.
struct saved_frame {
  static constexpr int words = 22;
  static constexpr int frame_pointer = 20;
  static constexpr int return_address = 21;
  static constexpr unsigned dwarf_sp = 31, dwarf_fp = 29, dwarf_ra = 30;
};

inline void* make_context(void* stack_top, void (*entry)(void*), void* arg) noexcept {
  auto* top = static_cast<std::uint64_t*>(stack_top);
  // After `ret` the stack pointer is top - 2 (16-byte aligned, as AAPCS64 requires always).
  std::uint64_t* sp = top - 2 - saved_frame::words;
  for (int i = 0; i < saved_frame::words; ++i) sp[i] = 0;  // fpcr 0: round to nearest, no traps
  sp[2 + 8 + 0] = reinterpret_cast<std::uint64_t>(arg);    // x19
  sp[2 + 8 + 1] = reinterpret_cast<std::uint64_t>(entry);  // x20
  sp[saved_frame::return_address] = reinterpret_cast<std::uint64_t>(&gocxx_context_entry);
  top[-2] = 0;  // a null frame record ends backtraces
  top[-1] = 0;
  return sp;
}

// The registers of a thread a signal interrupted (the CPU profiler's SIGPROF handler).
struct interrupted {
  std::uintptr_t pc, sp, fp;
};

// interrupted_registers reads, from the ucontext_t a signal handler receives, the address
// the thread was at and its stack and frame (x29) pointers.
inline interrupted interrupted_registers(const void* ucontext) noexcept {
  const auto* uc = static_cast<const ucontext_t*>(ucontext);
  return {static_cast<std::uintptr_t>(uc->uc_mcontext.pc), static_cast<std::uintptr_t>(uc->uc_mcontext.sp),
          static_cast<std::uintptr_t>(uc->uc_mcontext.regs[29])};
}

}  // namespace go::platform
