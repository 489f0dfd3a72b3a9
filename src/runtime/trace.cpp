// The execution trace (go/trace.hpp): per-thread event buffers, and the writer of Chrome's
// trace event JSON.
//
// Buffers. Every thread that records an event has a trace_buffer of its own (a worker's
// events go to its thread's buffer, so workers never contend), made on its first event and
// kept in `buffers` for the life of the process (a thread may end; its events stay). The
// owner appends under the buffer's mutex, which nobody else takes while a trace runs, so
// the lock is uncontended; stop() takes it to read the buffer.
//
// Protocol. start: under control_mutex, empty every buffer, note the start time, then set
// `tracing`. stop: clear `tracing`, then read and empty every buffer. An event whose hook
// saw `tracing` set just before stop cleared it may land in a buffer after stop read it;
// the next start empties it, and the writer drops anything stamped before its own start.
//
// Lock order: control_mutex, then registry_mutex, then a buffer's mutex. The hooks take only
// their buffer's mutex (and registry_mutex once per thread, to register it); they are
// called from the scheduler, with runtime locks held in places (ready's callers), which is
// why the buffers are leaves.
#include "go/trace.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/scheduler.hpp"
#include "runtime/trace.hpp"

namespace go::detail {

std::atomic<bool> tracing{false};

namespace {

struct trace_record {
  std::int64_t ts;  // nanotime()
  std::uint64_t g;  // goroutine id, 0 for none
  std::uint64_t arg;
  const char* file;  // go_block: the wait site
  std::uint32_t line;
  std::int32_t track;  // the worker's id, or -1 - n for the n-th plain thread
  trace_kind kind;
  wait_reason reason;
};

// Records in chunks: an append never copies what is there (a vector's growth did, and its
// reallocations faulted in fresh pages in the middle of a hand-off).
struct trace_buffer {
  static constexpr std::size_t chunk_records = 4096;
  struct chunk {
    trace_record records[chunk_records];
  };
  std::mutex mutex;  // guards the rest; taken by the owner per event, by stop() to read
  std::vector<std::unique_ptr<chunk>> chunks;
  std::size_t in_last = chunk_records;  // records in the last chunk

  void append(const trace_record& r) {
    if (in_last == chunk_records) {
      chunks.push_back(std::unique_ptr<chunk>(new chunk));  // not zeroed: pages fault in as filled
      in_last = 0;
    }
    chunks.back()->records[in_last++] = r;
  }
  void move_to(std::vector<trace_record>& out) {
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      std::size_t n = i + 1 == chunks.size() ? in_last : chunk_records;
      out.insert(out.end(), chunks[i]->records, chunks[i]->records + n);
    }
    clear();
  }
  void clear() {
    chunks.clear();
    in_last = chunk_records;
  }
};

std::mutex control_mutex;   // serializes start and stop
std::mutex registry_mutex;  // guards buffers and plain_threads
std::vector<trace_buffer*>& buffers = *new std::vector<trace_buffer*>;
int plain_threads = 0;
std::ostream* trace_out = nullptr;  // under control_mutex
std::int64_t trace_start_ns = 0;    // under control_mutex

struct thread_trace {
  trace_buffer* buffer = nullptr;
  std::int32_t plain_track = 0;
};

thread_trace& this_thread_trace() {
  static thread_local thread_trace t;
  if (!t.buffer) {
    auto* b = new trace_buffer;
    std::lock_guard lk(registry_mutex);
    buffers.push_back(b);
    t.plain_track = -1 - plain_threads++;
    t.buffer = b;
  }
  return t;
}

}  // namespace

void trace_event_slow(trace_kind kind, goroutine* g, std::uint64_t arg) noexcept {
  trace_record r{nanotime(), g ? g->id : 0, arg, nullptr, 0, 0, kind, wait_reason::none};
  if (kind == trace_kind::go_stop) {
    switch (static_cast<switch_action>(arg)) {
      case switch_action::park: {
        r.kind = trace_kind::go_block;
        r.reason = g->reason.load(std::memory_order_relaxed);
        const detail::source_location& site = g->wait_site.load();
        r.file = site.file_name();
        r.line = site.line();
        break;
      }
      case switch_action::yield: r.kind = trace_kind::go_yield; break;
      default: r.kind = trace_kind::go_exit; break;
    }
    r.arg = 0;
  }
  try {
    thread_trace& t = this_thread_trace();
    worker* w = current_worker();
    r.track = kind == trace_kind::slot_handoff ? static_cast<std::int32_t>(arg >> 32) : w ? w->id : t.plain_track;
    std::lock_guard lk(t.buffer->mutex);
    t.buffer->append(r);
  } catch (...) {  // out of memory: the event is lost
  }
}

namespace {

std::string json_string(const char* s) {
  std::string out = "\"";
  for (; s && *s; ++s) {
    unsigned char c = static_cast<unsigned char>(*s);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// The trace's JSON: events as lines keyed by their time, sorted before they are written.
struct trace_writer {
  std::int64_t start_ns;
  std::vector<std::pair<std::int64_t, std::string>> lines;

  std::string us(std::int64_t ns) const {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(ns - start_ns) / 1000.0);
    return buf;
  }
  static int tid(std::int32_t track) { return track >= 0 ? track : 100000 - track; }

  void slice(int pid, int tid, const std::string& name, std::int64_t from, std::int64_t to, const std::string& args) {
    lines.emplace_back(from, "{\"name\":" + json_string(name.c_str()) + ",\"ph\":\"X\",\"pid\":" + std::to_string(pid) +
                                 ",\"tid\":" + std::to_string(tid) + ",\"ts\":" + us(from) + ",\"dur\":" +
                                 us(start_ns + std::max<std::int64_t>(to - from, 0)) + ",\"args\":{" + args + "}}");
  }
  void instant(int tid, const std::string& name, std::int64_t at, const std::string& args) {
    lines.emplace_back(at, "{\"name\":" + json_string(name.c_str()) + ",\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":" +
                               std::to_string(tid) + ",\"ts\":" + us(at) + ",\"args\":{" + args + "}}");
  }
};

// A goroutine's state on its own track, from `since`.
struct goroutine_track {
  std::string state;  // "" before its first event
  std::int64_t since = 0;
  std::string args;
};

void write_trace(std::ostream& out, std::vector<trace_record> records, std::int64_t start_ns, std::int64_t end_ns) {
  std::erase_if(records, [&](const trace_record& r) { return r.ts < start_ns; });
  std::stable_sort(records.begin(), records.end(), [](const auto& a, const auto& b) { return a.ts < b.ts; });
  trace_writer wr{start_ns, {}};
  struct worker_run {
    std::uint64_t g = 0;
    std::int64_t since = 0;
  };
  std::map<std::int32_t, worker_run> running;       // by track
  std::map<std::int32_t, std::int64_t> idle_since;  // by track
  std::map<std::uint64_t, goroutine_track> gs;
  auto g_state = [&](std::uint64_t id, const std::string& state, std::int64_t at, std::string args = "") {
    goroutine_track& t = gs[id];
    if (!t.state.empty()) wr.slice(2, static_cast<int>(id), t.state, t.since, at, t.args);
    t = {state, at, std::move(args)};
  };
  auto stop_running = [&](std::int32_t track, std::uint64_t g, std::int64_t at) {
    auto it = running.find(track);
    if (it == running.end() || it->second.g != g) return;
    std::string name = std::to_string(g), args = name;
    name.insert(0, 1, 'G');
    args.insert(0, "\"goroutine\":");
    wr.slice(1, trace_writer::tid(track), name, it->second.since, at, args);
    running.erase(it);
  };
  for (const trace_record& r : records) {
    int tid = trace_writer::tid(r.track);
    std::string gid = std::to_string(r.g);
    switch (r.kind) {
      case trace_kind::go_create:
        wr.instant(tid, "create G" + gid, r.ts, "\"goroutine\":" + gid + ",\"parent\":" + std::to_string(r.arg));
        g_state(r.g, "runnable", r.ts);
        break;
      case trace_kind::go_start:
        running[r.track] = {r.g, r.ts};
        g_state(r.g, "running", r.ts, "\"worker\":" + std::to_string(r.track));
        break;
      case trace_kind::go_block: {
        stop_running(r.track, r.g, r.ts);
        std::string site = std::string(r.file ? r.file : "?") + ":" + std::to_string(r.line);
        g_state(r.g, to_string(r.reason), r.ts, "\"site\":" + json_string(site.c_str()));
        break;
      }
      case trace_kind::go_yield:
        stop_running(r.track, r.g, r.ts);
        g_state(r.g, "runnable", r.ts);
        break;
      case trace_kind::go_exit:
        stop_running(r.track, r.g, r.ts);
        g_state(r.g, "", r.ts);
        break;
      case trace_kind::go_unblock:
        wr.instant(tid, "unblock G" + gid, r.ts, "\"goroutine\":" + gid);
        // A wake that found g still running (it had not switched out yet) changes nothing.
        if (gs[r.g].state != "running") g_state(r.g, "runnable", r.ts);
        break;
      case trace_kind::worker_idle: idle_since[r.track] = r.ts; break;
      case trace_kind::worker_wake:
        if (auto it = idle_since.find(r.track); it != idle_since.end()) {
          wr.slice(1, tid, "idle", it->second, r.ts, "");
          idle_since.erase(it);
        }
        break;
      case trace_kind::slot_handoff:
        wr.instant(tid, "slot handoff", r.ts, "\"slot\":" + std::to_string(r.arg & 0xffffffffu));
        break;
      case trace_kind::go_stop: break;
    }
  }
  // What is still going on at the end.
  for (auto& [track, run] : std::map(running)) stop_running(track, run.g, end_ns);
  for (auto& [track, since] : idle_since) wr.slice(1, trace_writer::tid(track), "idle", since, end_ns, "");
  for (auto& [id, t] : gs) g_state(id, "", end_ns);

  std::stable_sort(wr.lines.begin(), wr.lines.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  out << "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n";
  out << R"({"name":"process_name","ph":"M","pid":1,"tid":0,"args":{"name":"workers"}},)"
      << "\n";
  out << R"({"name":"process_name","ph":"M","pid":2,"tid":0,"args":{"name":"goroutines"}},)"
      << "\n";
  std::map<int, std::string> names;
  for (const trace_record& r : records) {
    names[trace_writer::tid(r.track)] =
        r.track >= 0 ? "worker " + std::to_string(r.track) : "thread " + std::to_string(-1 - r.track);
  }
  for (auto& [tid, name] : names) {
    out << R"({"name":"thread_name","ph":"M","pid":1,"tid":)" << tid << R"(,"args":{"name":)"
        << json_string(name.c_str()) << "}},\n";
  }
  for (auto& [id, t] : gs) {
    out << R"({"name":"thread_name","ph":"M","pid":2,"tid":)" << id << R"(,"args":{"name":"G)" << id << "\"}},\n";
  }
  for (std::size_t i = 0; i < wr.lines.size(); ++i)
    out << wr.lines[i].second << (i + 1 < wr.lines.size() ? ",\n" : "\n");
  out << "]}\n";
}

}  // namespace

}  // namespace go::detail

namespace go::trace {

using namespace detail;

void start(std::ostream& out) {
  std::lock_guard lk(control_mutex);
  if (tracing.load()) throw std::logic_error("go::trace::start: tracing is already enabled");
  {
    std::lock_guard rk(registry_mutex);
    for (trace_buffer* b : buffers) {
      std::lock_guard bk(b->mutex);
      b->clear();
    }
  }
  trace_out = &out;
  trace_start_ns = nanotime();
  tracing.store(true, std::memory_order_seq_cst);
}

void stop() {
  std::lock_guard lk(control_mutex);
  if (!tracing.load()) return;
  tracing.store(false, std::memory_order_seq_cst);
  std::int64_t end = nanotime();
  std::vector<trace_record> all;
  {
    std::lock_guard rk(registry_mutex);
    for (trace_buffer* b : buffers) {
      std::lock_guard bk(b->mutex);
      b->move_to(all);
    }
  }
  write_trace(*trace_out, std::move(all), trace_start_ns, end);
  trace_out->flush();
  trace_out = nullptr;
}

bool is_enabled() noexcept { return tracing.load(std::memory_order_relaxed); }

}  // namespace go::trace
