// Goroutine dumps (Go's traceback.go): what go::dump_goroutines, SIGQUIT, panics, stack
// overflows and the deadlock detector print.
//
// Format, as Go's:
//   goroutine 7 [chan receive, 2 minutes]:
//   	blocked at tests/foo_test.cpp:42 in void worker(go::chan<int>)
//   	#0 0x55d0c0de1234 some_function(int)+0x24
//   created by main_body()+0x5c in goroutine 1
//   	pc=0x55d0c0de5678
// (the creating function is symbolized with dladdr; addr2line -e <binary> <pc> gives the line)
//
// The backtrace of a parked goroutine follows the frame-pointer chain from its saved
// registers, within its own stack; builds without frame pointers
// (-fno-omit-frame-pointer) show the blocking call site and the creation site only.
// A running goroutine (on another worker) cannot be walked safely; it shows "[running]".
#include <cxxabi.h>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <vector>
#include <cstdlib>
#include <mutex>
#include <ostream>
#include <sstream>
#include <string>
#include <thread>

#include "go/runtime.hpp"
#include "runtime/scheduler.hpp"

namespace go::detail {

namespace {

// An object file's static symbol table (.symtab), read once from disk: dladdr only sees
// the dynamic symbol table, which for an executable linked without -rdynamic is empty.
struct symbol_table {
  std::vector<char> strings;
  struct entry {
    std::uintptr_t start, size;
    std::uint32_t name;
  };
  std::vector<entry> functions;  // sorted by start
  bool relative = true;          // ET_DYN: symbol values are offsets from the load base
};

const symbol_table* load_symbols(const char* path) {
  static std::mutex mutex;
  static auto& cache = *new std::map<std::string, symbol_table*>;
  std::lock_guard lk(mutex);
  auto [it, inserted] = cache.emplace(path, nullptr);
  if (!inserted) return it->second;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  struct stat st{};
  void* map = fstat(fd, &st) == 0 ? mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0)
                                  : MAP_FAILED;
  close(fd);
  if (map == MAP_FAILED) return nullptr;
  const auto* base = static_cast<const char*>(map);
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(base);
  auto* table = new symbol_table;
  if (std::memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 && eh->e_ident[EI_CLASS] == ELFCLASS64) {
    table->relative = eh->e_type == ET_DYN;
    const auto* sections = reinterpret_cast<const Elf64_Shdr*>(base + eh->e_shoff);
    for (int i = 0; i < eh->e_shnum; ++i) {
      if (sections[i].sh_type != SHT_SYMTAB) continue;
      const auto* syms = reinterpret_cast<const Elf64_Sym*>(base + sections[i].sh_offset);
      std::size_t n = sections[i].sh_size / sizeof(Elf64_Sym);
      const Elf64_Shdr& strs = sections[sections[i].sh_link];
      table->strings.assign(base + strs.sh_offset, base + strs.sh_offset + strs.sh_size);
      for (std::size_t k = 0; k < n; ++k) {
        if (ELF64_ST_TYPE(syms[k].st_info) != STT_FUNC || syms[k].st_value == 0) continue;
        table->functions.push_back({syms[k].st_value, syms[k].st_size, syms[k].st_name});
      }
    }
    std::sort(table->functions.begin(), table->functions.end(),
              [](const auto& a, const auto& b) { return a.start < b.start; });
  }
  munmap(map, static_cast<std::size_t>(st.st_size));
  it->second = table;
  return table;
}

std::string symbolize(void* pc) {
  Dl_info info{};
  if (!dladdr(pc, &info)) return "?";
  const char* name = info.dli_sname;
  auto addr = reinterpret_cast<std::uintptr_t>(pc);
  std::uintptr_t start = reinterpret_cast<std::uintptr_t>(info.dli_saddr);
  if (!name && info.dli_fname) {
    if (const symbol_table* t = load_symbols(info.dli_fname)) {
      std::uintptr_t bias = t->relative ? reinterpret_cast<std::uintptr_t>(info.dli_fbase) : 0;
      std::uintptr_t key = addr - bias;
      auto it = std::upper_bound(t->functions.begin(), t->functions.end(), key,
                                 [](std::uintptr_t k, const auto& e) { return k < e.start; });
      if (it != t->functions.begin()) {
        --it;
        if (key < it->start + std::max<std::uintptr_t>(it->size, 1)) {
          name = t->strings.data() + it->name;
          start = it->start + bias;
        }
      }
    }
  }
  if (!name) return "?";
  int status = 0;
  char* demangled = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string out = demangled ? demangled : name;
  std::free(demangled);
  char off[32];
  std::snprintf(off, sizeof off, "+0x%lx", static_cast<unsigned long>(addr - start));
  return out + off;
}

void print_backtrace(std::ostream& out, goroutine* g) {
  if (!g->sp || !g->stk.base) return;
  // Saved by the context switch: [mxcsr/fpucw] r15 r14 r13 r12 rbx rbp ret.
  auto* saved = static_cast<std::uintptr_t*>(g->sp);
  auto lo = reinterpret_cast<std::uintptr_t>(g->sp);
  auto hi = reinterpret_cast<std::uintptr_t>(g->stk.top());
  std::uintptr_t fp = saved[6];
  for (int depth = 0; depth < 32; ++depth) {
    if (fp < lo || fp + 16 > hi || (fp & 7) != 0) break;
    auto* frame = reinterpret_cast<std::uintptr_t*>(fp);
    std::uintptr_t ret = frame[1];
    if (ret == 0) break;
    char addr[32];
    std::snprintf(addr, sizeof addr, "0x%lx", static_cast<unsigned long>(ret));
    out << "\t#" << depth << " " << addr << " " << symbolize(reinterpret_cast<void*>(ret - 1)) << "\n";
    if (frame[0] <= fp) break;
    fp = frame[0];
  }
}

const char* state_name(goroutine* g, std::uint32_t state) {
  switch (state) {
    case park_parked: return to_string(g->reason);
    case park_running: return "running";
    default: return "runnable";
  }
}

}  // namespace

void print_goroutine(std::ostream& out, goroutine* g, bool running_here) {
  std::uint32_t state = g->state.load(std::memory_order_acquire);
  out << "goroutine " << g->id << " [";
  if (running_here) {
    out << "running";
  } else {
    out << state_name(g, state);
    if (state == park_parked) {
      std::int64_t minutes = (coarse_nanotime() - g->wait_since) / 60'000'000'000;
      if (minutes >= 1) out << ", " << minutes << (minutes == 1 ? " minute" : " minutes");
    }
  }
  out << "]:\n";
  if (!running_here && state == park_parked) {
    out << "\tblocked at " << g->wait_site.file_name() << ":" << g->wait_site.line() << " in "
        << g->wait_site.function_name() << "\n";
    print_backtrace(out, g);
  }
  char pc[32];
  std::snprintf(pc, sizeof pc, "0x%lx", reinterpret_cast<unsigned long>(g->spawn_pc));
  out << "created by " << symbolize(g->spawn_pc);
  if (g->parent_id) out << " in goroutine " << g->parent_id;
  out << "\n\tpc=" << pc << "\n";
}

void dump_all(std::ostream& out) {
  struct ctx {
    std::ostream* out;
    goroutine* self;
  } c{&out, current_goroutine()};
  for_each_goroutine(
      [](goroutine* g, void* arg) {
        auto* c = static_cast<ctx*>(arg);
        if (g == c->self || g->state.load(std::memory_order_acquire) == park_dead) return;
        print_goroutine(*c->out, g, false);
        *c->out << "\n";
      },
      &c);
}

void dump_after_overflow(goroutine* g) noexcept {
  try {
    std::ostringstream out;
    out << "\n";
    print_goroutine(out, g, true);
    out << "\n";
    dump_all(out);
    std::string s = out.str();
    (void)!write(2, s.data(), s.size());
  } catch (...) {
  }
}

void fatal_with_dump(const char* msg) noexcept {
  std::ostringstream out;
  out << "fatal error: " << msg << "\n\n";
  dump_all(out);
  std::string s = out.str();
  std::fwrite(s.data(), 1, s.size(), stderr);
  std::fflush(nullptr);
  _exit(2);
}

namespace {

int sigquit_pipe[2] = {-1, -1};

void on_sigquit(int) {
  char c = 1;
  (void)!write(sigquit_pipe[1], &c, 1);
}

}  // namespace

std::atomic<int> runtime_extra_threads{0};  // threads of ours besides the workers

}  // namespace go::detail

namespace go {

void dump_goroutines(std::ostream& out) {
  if (detail::goroutine* self = detail::current_goroutine()) {
    detail::print_goroutine(out, self, true);
    out << "\n";
  }
  detail::dump_all(out);
}

void enable_sigquit_dump() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (pipe(detail::sigquit_pipe) != 0) return;
    detail::runtime_extra_threads.fetch_add(1);
    std::thread([] {
      char c;
      while (read(detail::sigquit_pipe[0], &c, 1) != 1) {
      }
      std::ostringstream out;
      out << "SIGQUIT: quit\n\n";
      detail::dump_all(out);
      std::string s = out.str();
      std::fwrite(s.data(), 1, s.size(), stderr);
      std::fflush(nullptr);
      _exit(2);
    }).detach();
    struct sigaction sa{};
    sa.sa_handler = &detail::on_sigquit;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGQUIT, &sa, nullptr);
  });
}

}  // namespace go
