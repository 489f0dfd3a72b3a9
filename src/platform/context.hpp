// Machine contexts: the register-level switch between a worker's scheduler stack and a
// goroutine's stack. One assembly file per architecture (context_switch_<arch>.S).
#pragma once

#include <cstdint>
#include <cstring>

extern "C" {
void gocxx_context_switch(void** save_sp, void* load_sp);
void gocxx_context_entry();
}

namespace go::platform {

// make_context prepares a stack so that switching to the returned stack pointer calls
// entry(arg) on it. stack_top must be 16-byte aligned. entry must never return.
inline void* make_context(void* stack_top, void (*entry)(void*), void* arg) noexcept {
  auto* top = static_cast<std::uint64_t*>(stack_top);
  // Frame popped by gocxx_context_switch: [mxcsr|fpucw] r15 r14 r13 r12 rbx rbp ret.
  // After `ret` the stack pointer is top - 2 (16-byte aligned), as a call site requires.
  std::uint64_t* sp = top - 2 - 8;
  std::uint32_t mxcsr = 0x1F80;
  std::uint16_t fpucw = 0x037F;
  std::memcpy(&sp[0], &mxcsr, 4);
  std::memcpy(reinterpret_cast<char*>(&sp[0]) + 4, &fpucw, 2);
  sp[1] = 0;                                         // r15
  sp[2] = 0;                                         // r14
  sp[3] = reinterpret_cast<std::uint64_t>(entry);    // r13
  sp[4] = reinterpret_cast<std::uint64_t>(arg);      // r12
  sp[5] = 0;                                         // rbx
  sp[6] = 0;                                         // rbp
  sp[7] = reinterpret_cast<std::uint64_t>(&gocxx_context_entry);
  top[-2] = 0;  // a null return address ends backtraces
  top[-1] = 0;
  return sp;
}

inline void switch_context(void** save_sp, void* load_sp) noexcept { gocxx_context_switch(save_sp, load_sp); }

}  // namespace go::platform
