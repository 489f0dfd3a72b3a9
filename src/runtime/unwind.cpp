// Walking a parked goroutine's stack, for the goroutine dump (traceback.cpp).
//
// The walk starts from the registers the goroutine's context switch saved (the frame pointer
// and the return address, where platform/context.hpp's saved_frame says) and follows the call
// frame information (.eh_frame) that every function has, so frames without frame pointers
// (GCC's default at -O2) are walked too: for each return address, the FDE that libgcc's
// _Unwind_Find_FDE finds (every C++ program links libgcc or LLVM's libunwind, which both
// export it) says where the caller's frame, the CFA, is relative to the stack pointer or the
// frame pointer, and where the return address and the caller's frame pointer are saved. A
// function without an FDE (assembly without CFI) is stepped over by the frame-pointer
// convention, which x86-64 and AArch64 share: the frame pointer points at the caller's
// frame pointer, the return address above it, the CFA above that. An FDE that computes the CFA
// otherwise (an expression, or a register not tracked here) ends the walk. The outermost
// frame, gocxx_context_entry, marks the return address undefined, which ends it too.
//
// Holding the stacks still. A goroutine is not stopped for the walk, but it is not let
// resume during it either, so that its stack does not change under the reads (and
// ThreadSanitizer sees the reads ordered before the goroutine's next writes). A reader holds
// a batch of goroutines (a whole goroutine profile) with one barrier, and reads them one by
// one; a worker about to resume a goroutine of the batch that is not being read takes it
// back, so it waits at most for the read of that one goroutine, never for the batch:
//
//   reader (held_stacks, one batch at a time)    worker resuming g (prepare, before_resume)
//   for each g: g->stack_hold = held             g->state = running
//   stacks_held = true                           compiler barrier
//   membarrier (a full barrier on every thread   if stacks_held (acquire):
//     of the process that runs now)                if g->stack_hold is held:
//   for each g:                                      CAS held -> free: g is no longer held
//     CAS g->stack_hold held -> reading:             (the reader's CAS then fails)
//       if g->state == parked: walk                if it is reading: wait until free
//       g->stack_hold = free (release)           switch to g's stack
//     (failed: the worker took g back)
//   every g->stack_hold = free, stacks_held = false (release)
//
// Either the worker's load of stacks_held comes after the membarrier's barrier on its CPU,
// and then it sees the batch and g's hold, which the CAS on the one word settles: the
// worker takes g back before the reader starts on it, or waits for the reader's release; or
// its load came before, and then its store of running, earlier in its program, is visible to
// the reader's load of the state after the membarrier, and the reader does not walk. A
// goroutine that resumed before the barrier and parked again since is walked: its next
// resumption sees the batch. The resuming side pays a load of a global (written only by
// readers) and a compiler barrier, no fence: the asymmetric barrier is the reader's, which
// is rare, and one per batch (bench chan_sync guards the resuming side). Without
// membarrier(2) (an old kernel, an emulator), MEMBARRIER_CMD_GLOBAL is tried, then nothing:
// the walk goes on as below without the guarantee.
//
// Every read is checked first all the same: it must lie within the goroutine's stack, each
// frame above the one before, and each return address in loaded code (dladdr), so a stack that
// changes under us (no membarrier) ends the walk early instead of printing garbage or faulting.
#include "runtime/unwind.hpp"

#include <dlfcn.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <mutex>

#include "platform/context.hpp"
#include "runtime/scheduler.hpp"

// The unwinder's FDE lookup (libgcc, LLVM libunwind); <unwind.h> does not declare it.
struct dwarf_eh_bases {
  void* tbase;
  void* dbase;
  void* func;
};
extern "C" const void* _Unwind_Find_FDE(void* pc, dwarf_eh_bases* bases);

namespace go::detail {

namespace {

struct cfi_reader {
  const std::uint8_t* p;
  const std::uint8_t* end;

  bool more() const { return p < end; }
  std::uint8_t u8() { return p < end ? *p++ : 0; }
  std::uint64_t uleb() {
    std::uint64_t r = 0;
    for (int shift = 0; p < end && shift < 64; shift += 7) {
      std::uint8_t b = *p++;
      r |= std::uint64_t{b & 0x7fu} << shift;
      if (!(b & 0x80)) break;
    }
    return r;
  }
  std::int64_t sleb() {
    std::uint64_t r = 0;
    int shift = 0;
    std::uint8_t b = 0;
    while (p < end && shift < 64) {
      b = *p++;
      r |= std::uint64_t{b & 0x7fu} << shift;
      shift += 7;
      if (!(b & 0x80)) break;
    }
    if (shift < 64 && (b & 0x40)) r |= ~std::uint64_t{0} << shift;
    return static_cast<std::int64_t>(r);
  }
  template <class T>
  T get() {
    T v{};
    if (p + sizeof v <= end) std::memcpy(&v, p, sizeof v);
    p += sizeof v;
    return v;
  }
  // A pointer in DW_EH_PE encoding `enc` (the value, not what an indirect one points to).
  bool pointer(std::uint8_t enc, const dwarf_eh_bases& bases, std::uintptr_t* out) {
    if (enc == 0xff) return *out = 0, true;  // omitted
    auto at = reinterpret_cast<std::uintptr_t>(p);
    std::uintptr_t v = 0;
    switch (enc & 0x0f) {
      case 0x00: v = get<std::uintptr_t>(); break;
      case 0x01: v = uleb(); break;
      case 0x02: v = get<std::uint16_t>(); break;
      case 0x03: v = get<std::uint32_t>(); break;
      case 0x04: v = get<std::uint64_t>(); break;
      case 0x09: v = static_cast<std::uintptr_t>(sleb()); break;
      case 0x0a: v = static_cast<std::uintptr_t>(static_cast<std::intptr_t>(get<std::int16_t>())); break;
      case 0x0b: v = static_cast<std::uintptr_t>(static_cast<std::intptr_t>(get<std::int32_t>())); break;
      case 0x0c: v = get<std::uint64_t>(); break;
      default: return false;
    }
    switch (enc & 0x70) {
      case 0x00: break;
      case 0x10: v += at; break;
      case 0x20: v += reinterpret_cast<std::uintptr_t>(bases.tbase); break;
      case 0x30: v += reinterpret_cast<std::uintptr_t>(bases.dbase); break;
      case 0x40: v += reinterpret_cast<std::uintptr_t>(bases.func); break;
      default: return false;
    }
    *out = v;
    return true;
  }
};

// The DWARF register numbers a walk follows (saved_frame: rsp 7, rbp 6, rip 16 on x86-64;
// sp 31, x29 29, x30 30 on AArch64).
constexpr unsigned sp_reg = platform::saved_frame::dwarf_sp;
constexpr unsigned fp_reg = platform::saved_frame::dwarf_fp;
constexpr unsigned ra_reg = platform::saved_frame::dwarf_ra;

// What the call frame information says at one address, for the registers a walk needs (a
// CIE's instructions set the CFA, and on x86-64 where the call saved the return address).
struct cfa_rules {
  unsigned cfa_register = sp_reg;
  std::int64_t cfa_offset = 0;
  bool fp_saved = false;
  std::int64_t fp_offset = 0;  // from the CFA
  bool ra_undefined = false;   // the outermost frame (.cfi_undefined on the return address)
  bool ra_saved = false;
  std::int64_t ra_offset = 0;  // from the CFA, when ra_saved
};

// Runs the CFA program in r from `loc` until the address passes `target`; false for an
// instruction this walk cannot follow.
bool run_cfa_program(cfi_reader r, std::uintptr_t loc, std::uintptr_t target, std::uint64_t code_align,
                     std::int64_t data_align, const cfa_rules& initial, cfa_rules& rules, const dwarf_eh_bases& bases) {
  cfa_rules saved[8];
  int depth = 0;
  auto set_offset = [&](std::uint64_t reg, std::int64_t off) {
    if (reg == fp_reg) rules.fp_saved = true, rules.fp_offset = off;
    if (reg == ra_reg) rules.ra_saved = true, rules.ra_offset = off, rules.ra_undefined = false;
  };
  auto restore = [&](std::uint64_t reg) {
    if (reg == fp_reg) rules.fp_saved = initial.fp_saved, rules.fp_offset = initial.fp_offset;
    if (reg == ra_reg) {
      rules.ra_saved = initial.ra_saved, rules.ra_offset = initial.ra_offset;
      rules.ra_undefined = initial.ra_undefined;
    }
  };
  // same_value: the register holds the caller's value again.
  auto same_value = [&](std::uint64_t reg) {
    if (reg == fp_reg) rules.fp_saved = false;
    if (reg == ra_reg) rules.ra_saved = false, rules.ra_undefined = false;
  };
  while (r.more()) {
    std::uint8_t op = r.u8();
    std::uint8_t low = op & 0x3f;
    switch (op & 0xc0) {
      case 0x40:
        loc += low * code_align;
        if (loc > target) return true;
        continue;
      case 0x80: set_offset(low, static_cast<std::int64_t>(r.uleb()) * data_align); continue;
      case 0xc0: restore(low); continue;
    }
    switch (op) {
      case 0x00: break;  // nop
      case 0x01: {       // set_loc
        std::uintptr_t to = 0;
        if (!r.pointer(0x00, bases, &to)) return false;
        loc = to;
        if (loc > target) return true;
        break;
      }
      case 0x02:
        loc += r.u8() * code_align;
        if (loc > target) return true;
        break;
      case 0x03:
        loc += r.get<std::uint16_t>() * code_align;
        if (loc > target) return true;
        break;
      case 0x04:
        loc += r.get<std::uint32_t>() * code_align;
        if (loc > target) return true;
        break;
      case 0x05: {
        std::uint64_t reg = r.uleb();
        set_offset(reg, static_cast<std::int64_t>(r.uleb()) * data_align);
        break;
      }
      case 0x06: restore(r.uleb()); break;
      case 0x07: {
        std::uint64_t reg = r.uleb();
        if (reg == fp_reg) rules.fp_saved = false;
        if (reg == ra_reg) rules.ra_undefined = true;
        break;
      }
      case 0x08: same_value(r.uleb()); break;
      case 0x09: {
        std::uint64_t reg = r.uleb();
        r.uleb();
        if (reg == fp_reg || reg == ra_reg) return false;
        break;
      }
      case 0x0a:
        if (depth == 8) return false;
        saved[depth++] = rules;
        break;
      case 0x0b:
        if (depth == 0) return false;
        rules = saved[--depth];
        break;
      case 0x0c:
        rules.cfa_register = static_cast<unsigned>(r.uleb());
        rules.cfa_offset = static_cast<std::int64_t>(r.uleb());
        break;
      case 0x0d: rules.cfa_register = static_cast<unsigned>(r.uleb()); break;
      case 0x0e: rules.cfa_offset = static_cast<std::int64_t>(r.uleb()); break;
      case 0x0f: return false;  // def_cfa_expression
      case 0x10:
      case 0x16: {  // expression, val_expression
        std::uint64_t reg = r.uleb();
        std::uint64_t len = r.uleb();
        if (reg == fp_reg || reg == ra_reg) return false;
        r.p += len;
        break;
      }
      case 0x11: {
        std::uint64_t reg = r.uleb();
        set_offset(reg, r.sleb() * data_align);
        break;
      }
      case 0x12:
        rules.cfa_register = static_cast<unsigned>(r.uleb());
        rules.cfa_offset = r.sleb() * data_align;
        break;
      case 0x13: rules.cfa_offset = r.sleb() * data_align; break;
      case 0x14:
      case 0x15: {
        std::uint64_t reg = r.uleb();
        r.uleb();
        if (reg == fp_reg || reg == ra_reg) return false;
        break;
      }
      case 0x2e: r.uleb(); break;  // GNU_args_size
      case 0x2f: {
        std::uint64_t reg = r.uleb();
        set_offset(reg, -static_cast<std::int64_t>(r.uleb()) * data_align);
        break;
      }
      default: return false;
    }
  }
  return true;
}

// The rules at pc (a call's address) from its FDE; false if there is none or it cannot be
// followed.
bool cfa_rules_at(std::uintptr_t pc, cfa_rules& rules) {
  dwarf_eh_bases bases{};
  const auto* fde = static_cast<const std::uint8_t*>(_Unwind_Find_FDE(reinterpret_cast<void*>(pc), &bases));
  if (!fde) return false;
  std::uint32_t fde_length;
  std::memcpy(&fde_length, fde, 4);
  if (fde_length == 0xffffffff) return false;  // 64-bit DWARF: not emitted by GCC or clang
  const std::uint8_t* fde_end = fde + 4 + fde_length;
  std::uint32_t cie_offset;
  std::memcpy(&cie_offset, fde + 4, 4);
  const std::uint8_t* cie = fde + 4 - cie_offset;
  std::uint32_t cie_length;
  std::memcpy(&cie_length, cie, 4);
  if (cie_length == 0xffffffff) return false;
  cfi_reader c{cie + 8, cie + 4 + cie_length};
  std::uint8_t version = c.u8();
  const char* augmentation = reinterpret_cast<const char*>(c.p);
  while (c.more() && *c.p) ++c.p;
  ++c.p;
  std::uint64_t code_align = c.uleb();
  std::int64_t data_align = c.sleb();
  if (version == 1) c.u8();
  else c.uleb();  // the return address register: ra_reg
  std::uint8_t fde_encoding = 0x00;
  bool has_z = augmentation[0] == 'z';
  if (has_z) {
    std::uint64_t len = c.uleb();
    const std::uint8_t* after = c.p + len;
    for (const char* a = augmentation + 1; *a; ++a) {
      if (*a == 'R') {
        fde_encoding = c.u8();
      } else if (*a == 'P') {
        std::uintptr_t ignored;
        if (!c.pointer(c.u8(), bases, &ignored)) return false;
      } else if (*a == 'L') {
        c.u8();
      } else if (*a != 'S' && *a != 'B' && *a != 'G') {
        return false;
      }
    }
    c.p = after;
  } else if (augmentation[0]) {
    return false;
  }
  cfi_reader f{fde + 8, fde_end};
  std::uintptr_t pc_begin = 0, pc_range = 0;
  if (!f.pointer(fde_encoding, bases, &pc_begin) || !f.pointer(fde_encoding & 0x0f, bases, &pc_range)) return false;
  if (pc < pc_begin || pc >= pc_begin + pc_range) return false;
  if (has_z) f.p += f.uleb();
  cfa_rules initial;
  if (!run_cfa_program(c, pc_begin, pc, code_align, data_align, initial, initial, bases)) return false;
  rules = initial;
  return run_cfa_program(f, pc_begin, pc, code_align, data_align, initial, rules, bases);
}

std::atomic<std::uint64_t> barriers{0};  // stack_read_barriers

// A full barrier on every running thread of the process (the top of the file); false if
// the kernel offers none.
bool barrier_on_every_thread() noexcept {
  barriers.fetch_add(1, std::memory_order_relaxed);
  static const int command = [] {
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0) {
      return static_cast<int>(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
    }
    long supported = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    return supported > 0 && (supported & MEMBARRIER_CMD_GLOBAL) ? static_cast<int>(MEMBARRIER_CMD_GLOBAL) : 0;
  }();
  return command != 0 && syscall(SYS_membarrier, command, 0, 0) == 0;
}

std::mutex read_mutex;  // one batch at a time: a goroutine has one stack_hold

std::vector<std::uintptr_t> walk_parked(goroutine* g);

}  // namespace

std::atomic<bool> stacks_held{false};

void wait_stack_read(goroutine* g) noexcept {
  for (;;) {
    std::uint8_t hold = g->stack_hold.load(std::memory_order_acquire);
    if (hold == stack_free) return;
    if (hold == stack_held) {
      if (g->stack_hold.compare_exchange_weak(hold, stack_free, std::memory_order_acquire)) return;
      continue;
    }
    sched_yield();  // being read
  }
}

held_stacks::held_stacks() : lock_(read_mutex) {}

held_stacks::~held_stacks() {
  for (goroutine* g : batch_) g->stack_hold.store(stack_free, std::memory_order_release);
  stacks_held.store(false, std::memory_order_release);
}

void held_stacks::add(goroutine* g) {
  batch_.push_back(g);
  g->stack_hold.store(stack_held, std::memory_order_relaxed);
}

void held_stacks::hold() noexcept {
  if (batch_.empty()) return;
  stacks_held.store(true, std::memory_order_relaxed);
  barrier_on_every_thread();
}

bool held_stacks::take(goroutine* g) noexcept {
  std::uint8_t hold = stack_held;
  return g->stack_hold.compare_exchange_strong(hold, stack_reading, std::memory_order_acquire,
                                               std::memory_order_relaxed);
}

std::vector<std::uintptr_t> held_stacks::frames(goroutine* g) {
  if (g->state.load(std::memory_order_acquire) != park_parked) return {};
  return walk_parked(g);
}

void held_stacks::release(goroutine* g) noexcept { g->stack_hold.store(stack_free, std::memory_order_release); }

std::vector<std::uintptr_t> parked_frames(goroutine* g) {
  std::vector<goroutine*> one{g};
  std::vector<std::uintptr_t> pcs;
  read_stacks(
      one, [](goroutine* g) { return g; },
      [&](goroutine* g, held_stacks* held) {
        if (held) pcs = held->frames(g);
      });
  return pcs;
}

std::uint64_t stack_read_barriers() noexcept { return barriers.load(std::memory_order_relaxed); }

namespace {

std::vector<std::uintptr_t> walk_parked(goroutine* g) {
  std::vector<std::uintptr_t> pcs;
  if (!g->sp || !g->stk.base) return pcs;
  // Saved by the context switch: platform::saved_frame.
  using frame = platform::saved_frame;
  auto* saved = static_cast<std::uintptr_t*>(g->sp);
  auto lo = reinterpret_cast<std::uintptr_t>(g->sp);
  auto hi = reinterpret_cast<std::uintptr_t>(g->stk.top());
  if (lo < reinterpret_cast<std::uintptr_t>(g->stk.base) || lo + frame::words * sizeof(std::uintptr_t) > hi) return pcs;
  auto read = [&](std::uintptr_t at, std::uintptr_t* out) {
    if (at < lo || at + sizeof(std::uintptr_t) > hi || (at & 7) != 0) return false;
    *out = *reinterpret_cast<const std::uintptr_t*>(at);
    return true;
  };
  std::uintptr_t pc = saved[frame::return_address];
  std::uintptr_t sp = lo + frame::words * sizeof(std::uintptr_t);
  std::uintptr_t fp = saved[frame::frame_pointer];
  for (int depth = 0; depth < 100; ++depth) {
    Dl_info info{};
    if (pc == 0 || !dladdr(reinterpret_cast<void*>(pc), &info)) break;
    pcs.push_back(pc);
    cfa_rules rules;
    std::uintptr_t cfa, ret, caller_fp = fp;
    if (cfa_rules_at(pc - 1, rules)) {
      if (rules.cfa_register != sp_reg && rules.cfa_register != fp_reg) break;
      cfa = (rules.cfa_register == sp_reg ? sp : fp) + static_cast<std::uintptr_t>(rules.cfa_offset);
      if (rules.ra_undefined) break;  // the goroutine's first frame
      // A frame that calls has saved its return address; one whose rules leave it in a
      // register is not one the walk can be in.
      if (!rules.ra_saved) break;
      if (!read(cfa + static_cast<std::uintptr_t>(rules.ra_offset), &ret)) break;
      if (rules.fp_saved && !read(cfa + static_cast<std::uintptr_t>(rules.fp_offset), &caller_fp)) break;
    } else {
      // No call frame information: the frame-pointer convention.
      cfa = fp + 16;
      if (!read(fp + 8, &ret) || !read(fp, &caller_fp)) break;
    }
    if (cfa <= sp || cfa > hi) break;
    pc = ret;
    sp = cfa;
    fp = caller_fp;
  }
  return pcs;
}

}  // namespace

}  // namespace go::detail
