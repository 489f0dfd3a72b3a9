// Turning return addresses into functions and file:line (traceback.cpp owns how: addr2line
// with the object's symbol table as the fallback, cached by address for the process's life),
// and the words for a goroutine's state. Shared by the goroutine dump and the profiles
// (pprof.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace go::detail {

// One frame at an address: a function, and where in it (file empty: unknown).
struct code_frame {
  std::string function;
  std::string file;
  unsigned line = 0;
  bool runtime = false;  // the runtime's own code (left out of tracebacks and profiles)
};

// symbolize_all makes sure the cache has every pc (a call's address: return address - 1),
// running addr2line once per object for those it lacks. It may take seconds: never call it
// holding a runtime lock.
void symbolize_all(std::vector<std::uintptr_t> pcs);

// frames_at returns the frames at pc, innermost inlined call first. The reference stays
// valid for the life of the process.
const std::vector<code_frame>& frames_at(std::uintptr_t pc);

// own_frames returns the return addresses of the calling thread's stack, innermost first.
std::vector<std::uintptr_t> own_frames();

// self_exe returns the path of the running executable ("" if unknown).
const std::string& self_exe();

struct goroutine;
// state_name returns a goroutine's state as Go's dump words it, from g's `state` as read:
// its wait reason when parked ("chan receive"), "running", "syscall" or "runnable".
const char* state_name(goroutine* g, std::uint32_t state);

}  // namespace go::detail
