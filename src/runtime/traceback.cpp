// Goroutine dumps (Go's traceback.go): what go::dump_goroutines, SIGQUIT, panics, stack
// overflows and the deadlock detector print.
//
// Format, as Go's (file:line are the call's, as addr2line reports them):
//   goroutine 7 [chan receive, 2 minutes]:
//   	blocked at tests/foo_test.cpp:42 in void worker(go::chan<int>)
//   worker(go::chan<int>)
//   	/src/tests/foo_test.cpp:42
//   main_body()
//   	/src/tests/foo_test.cpp:57
//   created by main_body() in goroutine 1
//   	/src/tests/foo_test.cpp:60
//
// Frames. A parked goroutine's stack is walked from the registers its context switch saved,
// with the call frame information every function has (unwind.cpp), so code built
// without frame pointers (GCC's default at -O2) is walked too; a function without it (code
// written in assembly without CFI) is stepped over by the frame-pointer convention. Every read is
// checked first: it must lie within the goroutine's stack, each frame above the one before,
// and each return address in loaded code (dladdr), so a stale or garbage stack ends the
// walk instead of printing garbage. The goroutine may resume while we read its stack (the
// dump does not stop the world); the checks keep the reads inside its stack.
// The running goroutine (a panic, or dump_goroutines called from a goroutine) is walked by
// the C++ runtime's unwinder (_Unwind_Backtrace, from libgcc, which every C++ program links
// already). A goroutine running on another worker is not walked.
//
// Symbols. Names and file:line come from addr2line (binutils, present wherever a compiler
// is), run once per object file for all the addresses a dump needs, with -i so that the
// calls inlined at an address show as frames of their own, as Go shows them. Results are
// cached by address for the life of the process. Without addr2line, or for code without
// debug information, a frame is its function (dladdr, or the object's .symtab) plus offset,
// and `object +0xoffset`, which addr2line can resolve later. GNU addr2line loses some of the
// calls clang inlines, so a build by clang uses LLVM's addr2line where one is installed; with
// GNU's, a frame whose inlined callee is the runtime's is still told the user's by its
// function's entry (mend_lost_inlining), its line then unknown.
//
// Frames of the runtime are left out, as Go leaves out runtime.*: code from gocxx's own
// sources and headers (go/*.hpp), the C++ standard headers, and the C++ runtime's objects.
// A goroutine whose frames are all the runtime's shows them all.
//
// A running goroutine (on another worker) cannot be walked safely; it shows "[running]".
#include <cxxabi.h>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <unwind.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "go/runtime.hpp"
#include "runtime/panic.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/symbolize.hpp"
#include "runtime/unwind.hpp"

extern char** environ;

namespace go::detail {

namespace {

// --- symbols from the object's own tables (the fallback) ---

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
  struct stat st {};
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

std::string demangle(const char* name) {
  int status = 0;
  char* demangled = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string out = demangled ? demangled : name;
  std::free(demangled);
  return out;
}

// Where code at an address comes from: its object file and the address addr2line wants.
struct object_address {
  std::string path;            // empty: not in any loaded object
  std::uintptr_t address = 0;  // pc less the object's load bias
};

}  // namespace

const std::string& self_exe() {
  static const std::string path = [] {
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }();
  return path;
}

namespace {

object_address locate(std::uintptr_t pc) {
  Dl_info info{};
  link_map* map = nullptr;
  if (!dladdr1(reinterpret_cast<void*>(pc), &info, reinterpret_cast<void**>(&map), RTLD_DL_LINKMAP) || !map) return {};
  std::string path = map->l_name && map->l_name[0] ? map->l_name : self_exe();
  return {std::move(path), pc - map->l_addr};
}

// The demangled name of the function at pc from dladdr or the object's .symtab, and pc's
// offset in it; "" if neither knows it.
std::string symbol_name(std::uintptr_t pc, std::uintptr_t* offset) {
  Dl_info info{};
  if (!dladdr(reinterpret_cast<void*>(pc), &info)) return "";
  const char* name = info.dli_sname;
  std::uintptr_t start = reinterpret_cast<std::uintptr_t>(info.dli_saddr);
  // The object's file from its link map: dladdr names the executable by argv[0], which
  // need not be a path to it (a name found on PATH, or another program's name under an
  // emulator's -0).
  if (!name && info.dli_fname) {
    if (const symbol_table* t = load_symbols(locate(pc).path.c_str())) {
      std::uintptr_t bias = t->relative ? reinterpret_cast<std::uintptr_t>(info.dli_fbase) : 0;
      std::uintptr_t key = pc - bias;
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
  if (!name) return "";
  *offset = pc - start;
  return demangle(name);
}

// function+0xoffset; "" if unknown.
std::string symbol_with_offset(std::uintptr_t pc) {
  std::uintptr_t offset = 0;
  std::string name = symbol_name(pc, &offset);
  if (name.empty()) return name;
  char off[32];
  std::snprintf(off, sizeof off, "+0x%lx", static_cast<unsigned long>(offset));
  return name + off;
}

// --- addr2line ---

// The symbolizer: GNU addr2line, or in a build by clang LLVM's, where installed, which takes
// the same options, prints the same answers, and reads the inlined calls that GNU addr2line
// loses in clang's debug information (mend_lost_inlining).
const char* addr2line_program() {
  static const char* const program = [] {
#ifdef __clang__
    // NOLINTNEXTLINE(concurrency-mt-unsafe): read once; the library never calls setenv
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/bin:/bin";
    for (const char* name : {"llvm-addr2line", "llvm-addr2line-19", "llvm-addr2line-18", "llvm-addr2line-17",
                             "llvm-addr2line-16", "llvm-addr2line-15", "llvm-addr2line-14"}) {
      for (std::size_t at = 0; at <= dirs.size();) {
        std::size_t colon = std::min(dirs.find(':', at), dirs.size());
        std::string file = dirs.substr(at, colon - at) + "/" + name;
        if (access(file.c_str(), X_OK) == 0) return name;
        at = colon + 1;
      }
    }
#endif
    return "addr2line";
  }();
  return program;
}

// Runs `addr2line -a -f -C -i -e path addresses...` and returns what it printed ("" if it
// could not run or took longer than a dump should wait).
std::string run_addr2line(const std::string& path, const std::vector<std::uintptr_t>& addresses) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return "";
  std::vector<std::string> args = {addr2line_program(), "-a", "-f", "-C", "-i", "-e", path};
  for (std::uintptr_t a : addresses) {
    char hex[32];
    std::snprintf(hex, sizeof hex, "0x%lx", static_cast<unsigned long>(a));
    args.emplace_back(hex);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  std::string text;
  if (rc == 0) {
    // Symbolizing a large program takes a second or two; a dump gives up after 30.
    std::int64_t deadline = nanotime() + 30'000'000'000;
    char buf[4096];
    for (;;) {
      std::int64_t left = (deadline - nanotime()) / 1'000'000;
      pollfd p{out[0], POLLIN, 0};
      if (left <= 0 || poll(&p, 1, static_cast<int>(left)) <= 0) {
        kill(pid, SIGKILL);
        text.clear();
        break;
      }
      ssize_t n = read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      text.append(buf, static_cast<std::size_t>(n));
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) text.clear();
  }
  close(out[0]);
  return text;
}

// The library's own sources ("/src/gocxx/src/runtime/..."), from this file's path as the
// compiler was given it, which may be relative to the build folder while the debug
// information names the file by its absolute path: compared as a path's tail.
bool is_own_source(std::string_view file) {
  std::string_view self = __FILE__;
  std::size_t at = self.rfind("runtime/traceback.cpp");
  if (at == std::string_view::npos) return false;
  while (self.substr(0, 3) == "../") self.remove_prefix(3), at -= 3;
  if (self.substr(0, 2) == "./") self.remove_prefix(2), at -= 2;
  for (std::string_view dir : {"runtime/", "platform/"}) {
    std::string own = std::string(self.substr(0, at)) + std::string(dir);  // ".../src/runtime/"
    std::size_t found = file.find(own);
    if (found == 0 || (found != std::string_view::npos && file[found - 1] == '/')) return true;
  }
  return false;
}

bool is_runtime_file(std::string_view file) {
  return is_own_source(file) || file.find("include/go/") != std::string_view::npos ||
         file.find("go/detail/") != std::string_view::npos || file.find("include/c++/") != std::string_view::npos;
}

bool is_runtime_object(std::string_view path) {
  std::size_t slash = path.rfind('/');
  std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  for (std::string_view lib : {"libstdc++.so", "libc++.so", "libc++abi.so", "libgcc_s.so", "libc.so", "ld-linux",
                               "libasan.so", "libtsan.so", "libubsan.so", "libclang_rt"}) {
    if (name.substr(0, lib.size()) == lib) return true;
  }
  return false;
}

std::mutex symbols_mutex;                                                     // guards symbol_cache
auto& symbol_cache = *new std::map<std::uintptr_t, std::vector<code_frame>>;  // by pc, innermost first

// Parses addr2line's answer for one object into `into`: "0x<address>" lines, each
// followed by function and file:line pairs, innermost inlined call first.
void parse_addr2line(const std::string& text, const object_address& object,
                     const std::map<std::uintptr_t, std::uintptr_t>& pc_of,
                     std::map<std::uintptr_t, std::vector<code_frame>>& into) {
  std::istringstream in(text);
  std::string line;
  std::vector<code_frame>* frames = nullptr;
  while (std::getline(in, line)) {
    if (line.rfind("0x", 0) == 0) {
      auto it = pc_of.find(std::strtoull(line.c_str(), nullptr, 16));
      frames = it == pc_of.end() ? nullptr : &into[it->second];
      if (frames) frames->clear();
      continue;
    }
    std::string where;
    if (!frames || !std::getline(in, where)) continue;
    code_frame f;
    f.function = line == "??" ? "" : line;
    if (std::size_t d = where.find(" (discriminator"); d != std::string::npos) where.resize(d);
    std::size_t colon = where.rfind(':');
    if (colon != std::string::npos && where.compare(0, 2, "??") != 0) {
      f.file = where.substr(0, colon);
      f.line = static_cast<unsigned>(std::strtoul(where.c_str() + colon + 1, nullptr, 10));
    }
    f.runtime = f.file.empty() ? is_runtime_object(object.path) : is_runtime_file(f.file);
    frames->push_back(std::move(f));
  }
}

// Runs addr2line on pcs, once per object, and puts its answers into `into`.
void addr2line_all(const std::vector<std::uintptr_t>& pcs, std::map<std::uintptr_t, std::vector<code_frame>>& into) {
  std::map<std::string, std::map<std::uintptr_t, std::uintptr_t>> by_object;  // path -> address -> pc
  for (std::uintptr_t pc : pcs) {
    object_address a = locate(pc);
    if (!a.path.empty() && a.path.find("linux-vdso") == std::string::npos) by_object[a.path][a.address] = pc;
  }
  for (auto& [path, pc_of] : by_object) {
    std::vector<std::uintptr_t> addresses;
    for (auto& [address, pc] : pc_of) addresses.push_back(address);
    constexpr std::size_t per_run = 2048;  // within any argument-size limit
    for (std::size_t i = 0; i < addresses.size(); i += per_run) {
      std::vector<std::uintptr_t> part(
          addresses.begin() + static_cast<std::ptrdiff_t>(i),
          addresses.begin() + static_cast<std::ptrdiff_t>(std::min(addresses.size(), i + per_run)));
      parse_addr2line(run_addr2line(path, part), {path, 0}, pc_of, into);
    }
  }
}

// Whether a function, by its name, belongs to the runtime or the standard library whatever
// file its code is in.
bool is_runtime_function(std::string_view name) {
  for (std::string_view ns : {"go::", "std::", "__gnu_cxx::"}) {
    if (name.substr(0, ns.size()) == ns) return true;
  }
  return false;
}

// mend_lost_inlining mends the answers for pcs (just parsed into the cache) whose inlined
// calls addr2line lost. GNU addr2line (2.40) drops an inlined call whose addresses clang's
// DWARF 5 gives as a range list (DW_FORM_rnglistx): at such a pc it names the function
// that holds the code but gives the callee's file:line, as if the callee's code were the
// function's own. When the callee is the runtime's (an awaitable's await_suspend inlined
// into the coroutine that awaits, in a header of go/), the user's function would be left out
// as the runtime's. A pc is checked when its outermost frame is in a header of the runtime
// but its function is not the runtime's by name: addr2line at the function's entry gives
// the file the function is in, and if that is the user's, so is the frame; its line, the
// lost call's, stays unknown.
void mend_lost_inlining(const std::vector<std::uintptr_t>& pcs) {
  std::map<std::uintptr_t, std::uintptr_t> entry_of;  // pc -> its function's first address
  for (std::uintptr_t pc : pcs) {
    const code_frame& outer = symbol_cache[pc].back();
    if (!outer.runtime || outer.file.empty() || is_own_source(outer.file)) continue;
    std::uintptr_t offset = 0;
    std::string symbol = symbol_name(pc, &offset);
    if (!symbol.empty() && offset != 0 && !is_runtime_function(symbol)) entry_of[pc] = pc - offset;
  }
  if (entry_of.empty()) return;
  std::vector<std::uintptr_t> entries;
  for (auto& [pc, entry] : entry_of) entries.push_back(entry);
  std::map<std::uintptr_t, std::vector<code_frame>> at_entry;
  addr2line_all(entries, at_entry);
  for (auto& [pc, entry] : entry_of) {
    auto it = at_entry.find(entry);
    if (it == at_entry.end() || it->second.empty()) continue;
    const code_frame& start = it->second.back();
    if (start.runtime || start.file.empty()) continue;
    code_frame& outer = symbol_cache[pc].back();
    outer.file = start.file;
    outer.line = 0;
    outer.runtime = false;
  }
}

}  // namespace

void symbolize_all(std::vector<std::uintptr_t> pcs) {
  std::sort(pcs.begin(), pcs.end());
  pcs.erase(std::unique(pcs.begin(), pcs.end()), pcs.end());
  std::lock_guard lk(symbols_mutex);
  // Only addresses not cached yet: a cached entry never changes, since printers hold
  // pointers into it without the lock.
  std::erase_if(pcs, [](std::uintptr_t pc) { return symbol_cache.count(pc) != 0; });
  addr2line_all(pcs, symbol_cache);
  for (std::uintptr_t pc : pcs) {
    if (symbol_cache[pc].empty()) symbol_cache[pc].push_back({});
  }
  mend_lost_inlining(pcs);
  // The function itself is named by the symbol table, whose names are whole: addr2line
  // names a lambda "operator()", so such a frame, inlined or not, takes the name of the
  // function that holds it (which names the lambda: "f()::{lambda()#1}..."). Where addr2line
  // knew no line, the name has the offset, and the place is the object and the address in it.
  for (std::uintptr_t pc : pcs) {
    auto& frames = symbol_cache[pc];
    code_frame& outer = frames.back();
    std::uintptr_t offset = 0;
    std::string symbol = symbol_name(pc, &offset);
    if (!symbol.empty()) outer.function = symbol;
    for (code_frame& f : frames) {
      if (f.function.empty() || f.function == "operator()") f.function = symbol.empty() ? "?" : symbol;
    }
    if (outer.file.empty()) {
      object_address a = locate(pc);
      char off[32];
      std::snprintf(off, sizeof off, "+0x%lx", static_cast<unsigned long>(offset));
      if (!symbol.empty()) outer.function += off;
      std::snprintf(off, sizeof off, " +0x%lx", static_cast<unsigned long>(a.address));
      outer.file = a.path.empty() ? "?" : a.path + off;
      outer.runtime = !a.path.empty() && is_runtime_object(a.path);
    }
  }
}

const std::vector<code_frame>& frames_at(std::uintptr_t pc) {
  {
    std::lock_guard lk(symbols_mutex);
    if (auto it = symbol_cache.find(pc); it != symbol_cache.end()) return it->second;
  }
  symbolize_all({pc});
  std::lock_guard lk(symbols_mutex);
  return symbol_cache[pc];  // entries are never erased: the reference stays valid
}

namespace {

void print_frame(std::ostream& out, const code_frame& f) {
  out << f.function << "\n\t" << f.file;
  if (f.line) out << ":" << f.line;
  out << "\n";
}

// --- walking stacks ---

struct unwind_state {
  std::vector<std::uintptr_t>* pcs;
};

_Unwind_Reason_Code collect_frame(_Unwind_Context* context, void* arg) {
  auto* s = static_cast<unwind_state*>(arg);
  std::uintptr_t ip = _Unwind_GetIP(context);
  if (ip == 0 || s->pcs->size() >= 200) return _URC_END_OF_STACK;
  s->pcs->push_back(ip);
  return _URC_NO_REASON;
}

}  // namespace

std::vector<std::uintptr_t> own_frames() {
  std::vector<std::uintptr_t> pcs;
  unwind_state s{&pcs};
  _Unwind_Backtrace(&collect_frame, &s);
  return pcs;
}

const char* state_name(goroutine* g, std::uint32_t state) {
  switch (state) {
    case park_parked: return to_string(g->reason.load(std::memory_order_relaxed));
    case park_running: return g->reason.load(std::memory_order_relaxed) == wait_reason::syscall ? "syscall" : "running";
    default: return "runnable";
  }
}

namespace {

// --- formatting ---

// What a dump shows of one goroutine, read at one moment (under the registry's lock, or
// while its stack is held), so that symbolizing (a subprocess) happens after the lock is
// released.
struct snapshot {
  std::uint64_t id = 0, parent_id = 0;
  std::string header;  // "goroutine 7 [chan receive, 2 minutes]:"
  bool parked = false;
  detail::source_location site;
  std::vector<std::uintptr_t> pcs;  // return addresses, innermost first
  std::uintptr_t spawn_pc = 0;
  bool running_here = false;  // pcs are the caller's: a panic's start at the throw
};

snapshot take_snapshot(goroutine* g, bool running_here, bool walk) {
  snapshot s;
  std::uint32_t state = g->state.load(std::memory_order_acquire);
  s.id = listed(g->id).load(std::memory_order_relaxed);
  s.parent_id = listed(g->parent_id).load(std::memory_order_relaxed);
  s.spawn_pc = reinterpret_cast<std::uintptr_t>(listed(g->spawn_pc).load(std::memory_order_relaxed));
  std::string header = "goroutine " + std::to_string(s.id) + " [";
  if (running_here) {
    header += "running";
  } else {
    header += state_name(g, state);
    if (state == park_parked) {
      std::int64_t minutes = (coarse_nanotime() - g->wait_since.load(std::memory_order_relaxed)) / 60'000'000'000;
      if (minutes >= 1) header += ", " + std::to_string(minutes) + (minutes == 1 ? " minute" : " minutes");
    }
  }
  s.header = header + "]:";
  s.running_here = running_here;
  if (!running_here && state == park_parked) {
    s.parked = true;
    s.site = g->wait_site.load();
    if (walk && listed(g->kind).load(std::memory_order_relaxed) != parker_kind::coroutine)
      s.pcs = parked_frames(g);  // no stack to walk
  } else if (!running_here && state == park_running &&
             g->reason.load(std::memory_order_relaxed) == wait_reason::syscall) {
    // In go::blocking on another thread: its stack moves, but the call site does not.
    if (void* pc = g->syscall_pc.load(std::memory_order_relaxed)) s.pcs.push_back(reinterpret_cast<std::uintptr_t>(pc));
  }
  return s;
}

void print_snapshot(std::ostream& out, const snapshot& s) {
  out << s.header << "\n";
  // Each return address stands for its call instruction (pc - 1), with its inlined calls.
  std::vector<const code_frame*> frames;
  for (std::uintptr_t ret : s.pcs) {
    for (const code_frame& f : frames_at(ret - 1)) frames.push_back(&f);
  }
  if (s.running_here) {
    // A panic: its frames start below the throw (a sanitizer's interceptor of __cxa_throw,
    // linked into the program, is not recognized as the runtime's by its object).
    for (std::size_t i = frames.size(); i-- > 0;) {
      const std::string& name = frames[i]->function;
      if (name.find("__cxa_throw") != std::string::npos || name.find("__cxa_rethrow") != std::string::npos ||
          name.find("rethrow_exception") != std::string::npos) {
        frames.erase(frames.begin(), frames.begin() + static_cast<std::ptrdiff_t>(i) + 1);
        break;
      }
    }
  }
  bool any_user = std::any_of(frames.begin(), frames.end(), [](const code_frame* f) { return !f->runtime; });
  if (s.parked) {
    // A blocking call records its caller's line where it can (a default argument); one
    // recorded inside the runtime (a select, a range over a channel, a call the runtime makes
    // for the user) is replaced by the first frame of the user's code.
    std::string file = s.site.file_name(), function = s.site.function_name();
    unsigned line = s.site.line();
    if (is_runtime_file(file)) {
      for (const code_frame* f : frames) {
        if (f->runtime || !f->line) continue;
        file = f->file;
        function = f->function;
        line = f->line;
        break;
      }
    }
    out << "\tblocked at " << file << ":" << line << " in " << function << "\n";
  }
  for (const code_frame* f : frames) {
    if (!any_user || !f->runtime) print_frame(out, *f);
  }
  if (s.spawn_pc) {
    // The call to go::spawn: the first of its inlined frames that is not the runtime's.
    const auto& at = frames_at(s.spawn_pc - 1);
    const code_frame* creator = at.empty() ? nullptr : &at.back();
    for (const code_frame& f : at) {
      if (!f.runtime) {
        creator = &f;
        break;
      }
    }
    out << "created by " << (creator ? creator->function : std::string("?"));
    if (s.parent_id) out << " in goroutine " << s.parent_id;
    out << "\n\t" << (creator ? creator->file : std::string("?"));
    if (creator && creator->line) out << ":" << creator->line;
    out << "\n";
  }
}

void symbolize_snapshots(const std::vector<snapshot>& all) {
  std::vector<std::uintptr_t> pcs;
  for (const snapshot& s : all) {
    for (std::uintptr_t ret : s.pcs) pcs.push_back(ret - 1);
    if (s.spawn_pc) pcs.push_back(s.spawn_pc - 1);
  }
  symbolize_all(std::move(pcs));
}

// A goroutine as listed under the registry's lock: its snapshot without frames, and its kind
// as it was then (a record being reused writes it).
struct listed_goroutine {
  goroutine* g;
  bool stackless;
  snapshot s;
};

// list_goroutines lists every goroutine but self and the dead, without frames.
std::vector<listed_goroutine> list_goroutines(goroutine* self) {
  struct ctx {
    std::vector<listed_goroutine>* all;
    goroutine* self;
  };
  std::vector<listed_goroutine> all;
  ctx c{&all, self};
  for_each_goroutine(
      [](goroutine* g, void* arg) {
        auto* c = static_cast<ctx*>(arg);
        if (g == c->self || g->state.load(std::memory_order_acquire) == park_dead) return;
        bool stackless = listed(g->kind).load(std::memory_order_relaxed) == parker_kind::coroutine;
        c->all->push_back({g, stackless, take_snapshot(g, false, false)});
      },
      &c);
  return all;
}

// snapshot_all lists every goroutine but self, with frames. The parked stacks are held with
// one barrier for all (unwind.hpp), after the registry's lock, as the goroutine profile holds
// them (a record is never freed, so the pointers stay valid). A goroutine still parked when
// its stack is taken is read again then, so that its header, site and frames are of one park;
// one that ran since it was listed keeps what the listing saw, without frames.
std::vector<snapshot> snapshot_all(goroutine* self) {
  std::vector<listed_goroutine> all = list_goroutines(self);
  read_stacks(
      all, [](const listed_goroutine& l) { return !l.stackless && l.s.parked ? l.g : nullptr; },
      [](listed_goroutine& l, held_stacks* held) {
        // Taken, g does not run until released: parked now, it is the goroutine listed
        // unless its record was reused since (the id tells).
        if (!held || l.g->state.load(std::memory_order_acquire) != park_parked ||
            listed(l.g->id).load(std::memory_order_relaxed) != l.s.id)
          return;
        l.s = take_snapshot(l.g, false, false);
        l.s.pcs = held->frames(l.g);
      });
  std::vector<snapshot> snapshots;
  snapshots.reserve(all.size());
  for (listed_goroutine& l : all) snapshots.push_back(std::move(l.s));
  return snapshots;
}

}  // namespace

void print_goroutine(std::ostream& out, goroutine* g, bool running_here) {
  snapshot s = take_snapshot(g, running_here, true);
  if (running_here && g == current_goroutine()) s.pcs = own_frames();
  symbolize_snapshots({s});
  print_snapshot(out, s);
}

void dump_all(std::ostream& out) {
  std::vector<snapshot> all = snapshot_all(current_goroutine());
  symbolize_snapshots(all);
  for (const snapshot& s : all) {
    print_snapshot(out, s);
    out << "\n";
  }
}

// After a stack overflow, in the signal handler: the goroutine, then every other one,
// without frames and without symbols from addr2line (no subprocess from a signal handler).
void dump_after_overflow(goroutine* g) noexcept {
  try {
    std::ostringstream out;
    out << "\n" << take_snapshot(g, true, false).header << "\n\n";
    for (const listed_goroutine& l : list_goroutines(g)) {
      const snapshot& s = l.s;
      out << s.header << "\n";
      if (s.parked)
        out << "\tblocked at " << s.site.file_name() << ":" << s.site.line() << " in " << s.site.function_name()
            << "\n";
      if (s.spawn_pc)
        out << "created by " << symbol_with_offset(s.spawn_pc - 1) << " in goroutine " << s.parent_id << "\n";
      out << "\n";
    }
    std::string text = out.str();
    (void)!write(2, text.data(), text.size());
  } catch (...) {
  }
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
      detail::fatal_report("SIGQUIT: quit", detail::fatal_show::all_goroutines, nullptr, false);
    }).detach();
    struct sigaction sa {};
    sa.sa_handler = &detail::on_sigquit;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGQUIT, &sa, nullptr);
  });
}

}  // namespace go
