// Machine contexts: the register-level switch between a worker's scheduler stack and a
// goroutine's stack, and what a walk of a parked goroutine's stack needs to know about the
// frame the switch leaves (runtime/unwind.cpp). One header and one assembly file per
// architecture (context_<arch>.hpp, context_switch_<arch>.S; CMakeLists.txt picks the .S by
// CMAKE_SYSTEM_PROCESSOR); this header selects the header. Each provides, in go::platform:
//
//   void* make_context(void* stack_top, void (*entry)(void*), void* arg)
//     prepares a stack so that switching to the returned stack pointer calls entry(arg) on
//     it. stack_top must be 16-byte aligned. entry must never return.
//   void switch_context(void** save_sp, void* load_sp)
//     saves the callee-saved registers and the floating-point control state on the current
//     stack, stores the stack pointer in *save_sp, and resumes the context saved at load_sp.
//   struct saved_frame
//     the layout of a saved context: words (its size in words, after which the stack
//     pointer is the caller's), frame_pointer and return_address (indices of the saved
//     frame pointer and the address switch_context returns to), and the DWARF register
//     numbers of the stack pointer, frame pointer and return address.
//   interrupted interrupted_registers(const void* ucontext)
//     the pc, stack pointer and frame pointer of the thread a signal interrupted.
#pragma once

extern "C" {
void gocxx_context_switch(void** save_sp, void* load_sp);
void gocxx_context_entry();
}

#if defined(__x86_64__)
#include "platform/context_x86_64.hpp"
#elif defined(__aarch64__)
#include "platform/context_aarch64.hpp"
#else
#error "gocxx: no context switch for this architecture (src/platform/context_<arch>.hpp)"
#endif

namespace go::platform {

inline void switch_context(void** save_sp, void* load_sp) noexcept { gocxx_context_switch(save_sp, load_sp); }

}  // namespace go::platform
