// Contexts (include/go/context.hpp has the user's view).
//
// A context is a refcounted node with a strong reference to its parent. Four kinds:
// the static TODO root (Background is the null node), value nodes, without_cancel nodes,
// and cancel nodes (with_cancel, with_cancel_cause, with_deadline, with_stop_token). Every
// node caches `nearest`, the closest cancel node on its path to the root (itself for a
// cancel node; none past a without_cancel), and its effective deadline, so done(), err()
// and deadline() are O(1); only value() walks the chain.
//
// Invariants
// - A cancel node's list holds what its cancellation must reach (context_link): cancel
//   nodes whose nearest ancestor it is, after_func entries, runtime hooks. The list, each
//   link's `linked` and prev/next are guarded by the node's `mu`. A link is in at most one
//   list, the one named by its `owner`, which never changes.
// - `done` goes false -> true once, under mu, after err and cause are set; they are never
//   written again, so a reader that sees done (acquire) reads them without the lock.
// - References: a node is kept by its handles (context, cancel_func), by its children (the
//   parent pointer), and by after_func entries registered with it. A list does not keep a
//   child cancel node: a child nobody references is freed, and its destructor first
//   unlinks it under the parent's lock. So the parent's list holds only children someone
//   could still observe, and a child found in the list under the parent's lock is intact
//   (at worst its destructor is waiting for that lock).
// - An after_func entry is kept by the list (one reference) and by its stop_funcs. Its state
//   goes pending -> started (it will run) or pending -> stopped, once; whoever takes the link
//   out of the list (the canceller or stop) drops the list's reference.
//
// Cancellation (cancel below) walks the subtree depth first with an explicit path, not by
// recursion, so a deep chain cannot overflow a goroutine stack. Runtime hooks run right
// where they are found, under their node's lock, so that removing a hook after taking the
// same lock means the hook has finished. Stop-token callbacks, timer stops and after_func
// goroutines run once no lock is held.
//
// Lock order: a parent's mu before a child's (only cancel holds two: the path it walks);
// a node's mu before the lock of its done channel, of a hook (e.g. the semaphore's) and of
// its timer (timer_new_callback under mu). The deadline callback runs under the timer lock
// and takes no context lock. A destructor unlinking a node holds no other lock.
#include "go/context.hpp"

#include <mutex>
#include <new>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "go/runtime.hpp"
#include "runtime/chan.hpp"
#include "runtime/lock.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/timer.hpp"

namespace go::detail {

// An after_func registration (see the invariants above).
struct after_func_entry : context_link {
  enum : std::uint8_t { pending, started, stopped };
  std::atomic<std::int32_t> refs{2};  // the list's and the stop_func's
  std::atomic<std::uint8_t> state{pending};
  context_node* node = nullptr;  // a cancel node: strong until run or stopped; null if never cancellable
  std::unique_ptr<boxed_func> f;
};

struct context_access {
  static context make(context_node* n) noexcept { return context(n); }
  static context_node* node(const context& c) noexcept { return c.n_.get(); }
  static cancel_func make_cancel(context_node* n) noexcept { return cancel_func(n); }
  static cancel_cause_func make_cancel_cause(context_node* n) noexcept { return cancel_cause_func(n); }
  static context_node* node(const cancel_func& f) noexcept { return f.n_.get(); }
  static context_node* node(const cancel_cause_func& f) noexcept { return f.n_.get(); }
  static stop_func make_stop(after_func_entry* e) noexcept { return stop_func(e); }
  static after_func_entry* entry(const stop_func& s) noexcept { return s.e_.get(); }
};

namespace {

std::atomic<std::int64_t> live_nodes{0};

enum class node_kind : std::uint8_t { todo, cancel, value, without_cancel };
enum link_kind : std::uint8_t { link_node, link_hook, link_after_func };

struct cancel_node;

struct node : context_node {
  explicit node(node_kind k, node* p) noexcept : kind(k), parent(p) {
    live_nodes.fetch_add(1, std::memory_order_relaxed);
  }
  virtual ~node() { live_nodes.fetch_sub(1, std::memory_order_relaxed); }

  node_kind kind;
  node* parent;                    // strong; null for a root
  cancel_node* nearest = nullptr;  // the closest cancel node at or above this one
  std::int64_t deadline = INT64_MAX;
};

node* as_node(context_node* n) noexcept { return static_cast<node*>(n); }
const node* as_node(const context_node* n) noexcept { return static_cast<const node*>(n); }

bool try_retain(context_node* n) noexcept {
  std::int32_t r = n->refs.load(std::memory_order_relaxed);
  while (r != 0) {
    if (n->refs.compare_exchange_weak(r, r + 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

// release drops a reference; a freed node releases its parent, iteratively.
void release(node* n) noexcept {
  while (n && n->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    node* p = n->parent;
    delete n;
    n = p;
  }
}

struct value_node final : node {
  value_node(node* p, const void* k, const char* name, void* v, const context_value_ops* o) noexcept
      : node(node_kind::value, p), key(k), key_name(name), value(v), ops(o) {}
  ~value_node() override { ops->destroy(value); }
  const void* key;
  const char* key_name;  // the key's; "" if it has none
  void* value;
  const context_value_ops* ops;
};

// What made a cancel node, for its printed form.
enum class made_by : std::uint8_t { with_cancel, with_deadline, with_stop_token };

struct cancel_node final : node, context_link {
  explicit cancel_node(node* p) noexcept : node(node_kind::cancel, p) { context_link::kind = link_node; }
  ~cancel_node() override;

  // A std::stop_callback's callable: cancels the node when the token is stopped.
  struct on_stop {
    cancel_node* n;
    void operator()() const noexcept;
  };

  runtime_lock mu{lock_rank::context};  // guards the list, the lazily made members, and the writes below
  std::atomic<bool> done{false};
  errc err = errc::canceled;  // set before done
  error cause;                // set before done, only when it differs from err
  error deadline_cause;       // immutable after construction
  context_link* children = nullptr;
  std::size_t nchildren = 0;
  std::atomic<chan_core*> done_core{nullptr};  // published once done_chan is set
  chan<void> done_chan;
  std::optional<std::stop_source> stop;
  timer_state* timer = nullptr;
  std::unique_ptr<std::stop_callback<on_stop>> on_token;
  cancel_node* post_next = nullptr;      // a canceller's list of nodes to finish unlocked
  made_by maker = made_by::with_cancel;  // immutable after construction
};

// The TODO root: static, never freed.
node* todo_node() noexcept {
  struct todo_root final : node {
    todo_root() noexcept : node(node_kind::todo, nullptr) { refs.store(1 << 30); }
  };
  // NOLINTNEXTLINE(bugprone-unhandled-exception-at-new): out of memory ends the process, as in Go
  static todo_root* root = new todo_root;
  return root;
}

// --- lists ---

// link_into adds l to owner's list; false (l untouched) if owner is done already.
bool link_into(cancel_node* owner, context_link* l) noexcept {
  std::lock_guard lk(owner->mu);
  if (owner->done.load(std::memory_order_relaxed)) return false;
  l->owner = owner;
  l->linked = true;
  l->prev = nullptr;
  l->next = owner->children;
  if (owner->children) owner->children->prev = l;
  owner->children = l;
  ++owner->nchildren;
  return true;
}

// unlink_locked removes l from its owner's list; owner->mu held.
void unlink_locked(cancel_node* owner, context_link* l) noexcept {
  if (l->prev) l->prev->next = l->next;
  else owner->children = l->next;
  if (l->next) l->next->prev = l->prev;
  l->prev = l->next = nullptr;
  l->linked = false;
  --owner->nchildren;
}

// unlink removes l from its owner's list if it is still there.
bool unlink(context_link* l) noexcept {
  auto* owner = static_cast<cancel_node*>(l->owner);
  if (!owner) return false;
  std::lock_guard lk(owner->mu);
  if (!l->linked) return false;
  unlink_locked(owner, l);
  return true;
}

void start_after_func(after_func_entry* e) noexcept;

// --- cancellation ---

// cancel cancels root and everything below it. The caller holds a reference to root.
// remove_from_parent: also take root out of its parent's list (cancel functions and
// deadlines do; a parent cancelling its children has emptied its list already).
//
// It walks the subtree depth first, holding the lock of every node on the current path, as
// Go's cancel does by recursion (locks are taken parent before child, the only order in
// which two context locks are ever held together). Holding the parent's lock is what keeps
// a child alive while it is cancelled: a child whose last reference goes waits in its
// destructor for that lock (to unlink itself), so the walk needs no reference counting per
// node, and a leaf is unlocked as soon as it is marked (bench ctx_cancel_10k). The path is
// kept in work_next, written only under the node's own lock. A node's list is the walk's
// while the node is locked: links are taken off the front without fixing `prev`, since
// nobody else reads the list before it is empty. Whatever may run user code or take other
// locks (timer stops, stop-token callbacks, after_func goroutines) is collected and done
// once no lock is held; nodes with a timer or a stop source are kept alive for that by a
// reference.
//
// Done channels are closed in batches with one fence each (chan_close_begin, chan.hpp),
// not one lock each: a batch is ended before the lock that keeps its channels' nodes alive
// is released, that is, before a node that had children is unlocked, or when it is full.
//
// A cause is stored only when it differs from err (a user's cause): copying an error_code
// is free but an exception_ptr copy is a library call, per node.
void cancel(cancel_node* root, errc err, const error& cause, bool remove_from_parent) noexcept {
  const bool custom_cause = cause && !(cause == err);
  context_link* to_start = nullptr;  // after_func entries
  cancel_node* post = nullptr;       // nodes with a timer or a stop source, referenced
  constexpr int batch = 64;
  chan_core* closing[batch];  // done channels begun, not yet ended
  int nclosing = 0;

  auto end_closing = [&]() noexcept {
    if (nclosing == 0) return;
    std::atomic_thread_fence(std::memory_order_seq_cst);
    for (int i = 0; i < nclosing; ++i) chan_close_end(closing[i]);
    nclosing = 0;
  };

  // mark records the cancellation in n, locked and not yet done.
  auto mark = [&](cancel_node* n) noexcept {
    n->err = err;
    if (custom_cause) n->cause = cause;
    // Close done() first: whoever sees err() set must find done() closed.
    if (chan_core* c = n->done_core.load(std::memory_order_relaxed)) {
      if (nclosing == batch) end_closing();
      chan_close_begin(c);
      closing[nclosing++] = c;
    }
    n->done.store(true, std::memory_order_release);
    if ((n->timer || n->stop) && try_retain(n)) {
      n->post_next = post;
      post = n;
    }
  };

  root->mu.lock();
  if (root->done.load(std::memory_order_relaxed)) {
    root->mu.unlock();
  } else {
    mark(root);
    root->work_next = nullptr;
    cancel_node* top = root;  // the deepest node on the locked path
    while (top) {
      cancel_node* n = top;
      context_link* l = n->children;
      if (!l) {  // n's subtree is done
        n->nchildren = 0;
        top = static_cast<cancel_node*>(n->work_next);
        end_closing();  // n's lock guards its children's channels
        n->mu.unlock();
        continue;
      }
      n->children = l->next;
      l->linked = false;
      switch (l->kind) {
        case link_node: {
          auto* child = static_cast<cancel_node*>(l);
          child->mu.lock();
          if (child->done.load(std::memory_order_relaxed)) {  // cancelled on its own already
            child->mu.unlock();
            break;
          }
          mark(child);
          if (child->children) {
            child->work_next = n;
            top = child;
          } else {
            child->mu.unlock();  // a leaf: n's lock keeps it (and its channel) alive
          }
          break;
        }
        case link_hook: {
          auto* h = static_cast<context_hook*>(l);
          h->on_cancel(h);  // h may be gone once this returns
          break;
        }
        case link_after_func:
          l->work_next = to_start;
          to_start = l;
          break;
      }
    }
  }
  // No lock is held from here on.
  while (post) {
    cancel_node* n = post;
    post = n->post_next;
    timer_state* timer;
    std::optional<std::stop_source> stop;
    {
      std::lock_guard lk(n->mu);
      timer = std::exchange(n->timer, nullptr);
      stop = n->stop;
    }
    if (timer) {
      timer_stop(timer);
      timer_release_handle(timer);
    }
    if (stop) stop->request_stop();
    release(n);
  }
  while (to_start) {
    auto* e = static_cast<after_func_entry*>(to_start);
    to_start = to_start->work_next;
    start_after_func(e);
  }
  if (remove_from_parent) unlink(root);
}

void cancel_node::on_stop::operator()() const noexcept {
  if (!try_retain(n)) return;  // being destroyed
  cancel(n, errc::canceled, {}, true);
  release(n);
}

cancel_node::~cancel_node() {
  unlink(this);
  on_token.reset();  // waits for a callback running on another thread (it found refs == 0)
  if (timer) {
    timer_stop(timer);
    timer_release_handle(timer);
  }
}

// The deadline timer's callback: on a worker's scheduler stack, under the timer's lock. The
// node may be in its destructor (refs == 0, blocked in timer_stop on this lock): then skip.
void deadline_passed(void* arg) noexcept {
  auto* n = static_cast<cancel_node*>(arg);
  if (!try_retain(n)) return;
  go::spawn([n] {
    cancel(n, errc::deadline_exceeded, n->deadline_cause, true);
    release(n);
  });
}

// new_cancel_node makes a cancel node under parent (not yet registered).
cancel_node* new_cancel_node(node* parent) {
  auto* n = new cancel_node(parent);
  if (parent) {
    context_retain(parent);
    n->deadline = parent->deadline;
  }
  n->nearest = n;
  return n;
}

// propagate registers n with the nearest cancellable ancestor, or cancels n at once if that
// ancestor is done already.
void propagate(cancel_node* n) noexcept {
  cancel_node* a = n->parent ? n->parent->nearest : nullptr;
  if (!a) return;
  if (link_into(a, n)) return;
  cancel(n, a->err, a->cause, false);  // a is done: err and cause are final
}

cancel_node* make_child(const context& parent) {
  cancel_node* n = new_cancel_node(as_node(context_access::node(parent)));
  n->refs.store(2, std::memory_order_relaxed);  // the context and the cancel function
  propagate(n);
  return n;
}

cancel_context with_deadline_impl(const context& parent, std::int64_t when, error cause) {
  node* p = as_node(context_access::node(parent));
  if ((p ? p->deadline : INT64_MAX) <= when) return with_cancel(parent);  // the parent's comes first
  cancel_node* n = new_cancel_node(p);
  n->refs.store(2, std::memory_order_relaxed);
  n->deadline = when;
  n->deadline_cause = std::move(cause);
  n->maker = made_by::with_deadline;
  propagate(n);
  cancel_context out{context_access::make(n), context_access::make_cancel(n)};
  if (when <= now_ns()) {
    cancel(n, errc::deadline_exceeded, n->deadline_cause, true);
    return out;
  }
  std::lock_guard lk(n->mu);
  if (!n->done.load(std::memory_order_relaxed)) n->timer = timer_new_callback(when, &deadline_passed, n);
  return out;
}

// --- after_func entries ---

void release_entry(after_func_entry* e) noexcept {
  if (e->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete e;
}

// start_after_func: the canceller took e out of the list and owns the list's reference.
void start_after_func(after_func_entry* e) noexcept {
  std::uint8_t expected = after_func_entry::pending;
  if (!e->state.compare_exchange_strong(expected, after_func_entry::started, std::memory_order_acq_rel)) {
    release_entry(e);  // stopped meanwhile
    return;
  }
  go::spawn([e] {
    e->f->run();
    release(as_node(e->node));
    release_entry(e);
  });
}

}  // namespace

// --- internal interface ---

void context_release(context_node* n) noexcept { release(as_node(n)); }

context context_with_value(const context& parent, const void* key, const char* key_name, void* value,
                           const context_value_ops* ops) {
  node* p = as_node(context_access::node(parent));
  auto* n = new value_node(p, key, key_name, value, ops);
  if (p) {
    context_retain(p);
    n->nearest = p->nearest;
    n->deadline = p->deadline;
  }
  return context_access::make(n);
}

const void* context_value(const context_node* cn, const void* key) noexcept {
  for (const node* n = as_node(cn); n; n = n->parent) {
    if (n->kind == node_kind::value) {
      auto* v = static_cast<const value_node*>(n);
      if (v->key == key) return v->value;
    }
  }
  return nullptr;
}

std::int64_t context_deadline_ns(const context_node* n) noexcept { return n ? as_node(n)->deadline : INT64_MAX; }

stop_func context_after_func(const context& ctx, std::unique_ptr<boxed_func> f) {
  auto* e = new after_func_entry;
  e->kind = link_after_func;
  e->f = std::move(f);
  node* n = as_node(context_access::node(ctx));
  cancel_node* a = n ? n->nearest : nullptr;
  if (!a) {
    e->refs.store(1, std::memory_order_relaxed);  // never runs: no list reference
    return context_access::make_stop(e);
  }
  context_retain(a);
  e->node = a;
  if (!link_into(a, e)) start_after_func(e);  // done already: the list's reference goes to f's goroutine
  return context_access::make_stop(e);
}

hook_status context_add_hook(const context& ctx, context_hook* h) noexcept {
  node* n = as_node(context_access::node(ctx));
  cancel_node* a = n ? n->nearest : nullptr;
  if (!a) return hook_status::never;
  h->kind = link_hook;
  return link_into(a, h) ? hook_status::added : hook_status::done;
}

bool context_remove_hook(context_hook* h) noexcept { return unlink(h); }

std::size_t context_child_count(const context& ctx) noexcept {
  node* n = as_node(context_access::node(ctx));
  cancel_node* a = n ? n->nearest : nullptr;
  if (!a) return 0;
  std::lock_guard lk(a->mu);
  return a->nchildren;
}

std::int64_t live_context_nodes() noexcept { return live_nodes.load(std::memory_order_relaxed); }

}  // namespace go::detail

namespace go {

using namespace detail;

recv_chan<void> context::done() const {
  node* n = as_node(n_.get());
  cancel_node* c = n ? n->nearest : nullptr;
  if (!c) return {};
  if (!c->done_core.load(std::memory_order_acquire)) {
    std::lock_guard lk(c->mu);
    if (!c->done_core.load(std::memory_order_relaxed)) {
      c->done_chan = make_chan<void>();
      if (c->done.load(std::memory_order_relaxed)) c->done_chan.close();
      c->done_core.store(c->done_chan.core(), std::memory_order_release);
    }
  }
  return c->done_chan;  // written once, before done_core was published
}

namespace {

// cancel closes done() before it sets `done`, so whoever sees err() set finds done() closed.
// A goroutine woken by that close may run before `done` is set: a closed channel counts too
// (its closing is a release, after err and cause were written).
bool cancelled(const cancel_node* c) noexcept {
  if (c->done.load(std::memory_order_acquire)) return true;
  chan_core* ch = c->done_core.load(std::memory_order_acquire);
  return ch && ch->closed.load(std::memory_order_acquire);
}

}  // namespace

error context::err() const noexcept {
  node* n = as_node(n_.get());
  cancel_node* c = n ? n->nearest : nullptr;
  if (!c || !cancelled(c)) return {};
  return c->err;  // an error_code: no allocation, no exception_ptr copy
}

std::optional<steady_clock::time_point> context::deadline() const noexcept {
  std::int64_t d = context_deadline_ns(n_.get());
  if (d == INT64_MAX) return std::nullopt;
  return steady_clock::time_point(std::chrono::nanoseconds(d));
}

std::stop_token context::stop_token() const {
  node* n = as_node(n_.get());
  cancel_node* c = n ? n->nearest : nullptr;
  if (!c) return {};
  std::lock_guard lk(c->mu);
  if (!c->stop) {
    c->stop.emplace();
    if (c->done.load(std::memory_order_relaxed)) c->stop->request_stop();  // no callbacks yet
  }
  return c->stop->get_token();
}

void cancel_func::operator()() const noexcept {
  if (n_) detail::cancel(static_cast<cancel_node*>(as_node(n_.get())), errc::canceled, {}, true);
}

void cancel_cause_func::operator()(const error& cause) const noexcept {
  if (n_) detail::cancel(static_cast<cancel_node*>(as_node(n_.get())), errc::canceled, cause, true);
}

void detail::after_func_retain(after_func_entry* e) noexcept { e->refs.fetch_add(1, std::memory_order_relaxed); }
void detail::after_func_release(after_func_entry* e) noexcept { release_entry(e); }

bool stop_func::operator()() const noexcept {
  if (!e_) return false;
  after_func_entry* e = e_.get();
  std::uint8_t expected = after_func_entry::pending;
  if (!e->state.compare_exchange_strong(expected, after_func_entry::stopped, std::memory_order_acq_rel)) return false;
  if (e->node) {
    if (unlink(e)) release_entry(e);  // the list's reference
    release(as_node(e->node));
  }
  return true;
}

context todo() noexcept {
  node* n = todo_node();
  context_retain(n);
  return context_access::make(n);
}

cancel_context with_cancel(const context& parent) {
  cancel_node* n = make_child(parent);
  return {context_access::make(n), context_access::make_cancel(n)};
}

cancel_cause_context with_cancel_cause(const context& parent) {
  cancel_node* n = make_child(parent);
  return {context_access::make(n), context_access::make_cancel_cause(n)};
}

cancel_context with_deadline(const context& parent, steady_clock::time_point d) {
  return with_deadline_impl(parent, time_ns(d), {});
}

cancel_context with_deadline_cause(const context& parent, steady_clock::time_point d, error cause) {
  return with_deadline_impl(parent, time_ns(d), std::move(cause));
}

context without_cancel(const context& parent) {
  node* p = as_node(context_access::node(parent));
  struct without_cancel_node final : node {
    using node::node;
  };
  auto* n = new without_cancel_node(node_kind::without_cancel, p);
  if (p) context_retain(p);
  return context_access::make(n);  // nearest: none; deadline: none
}

context with_stop_token(const context& parent, std::stop_token token) {
  if (!token.stop_possible()) return parent;
  cancel_node* n = new_cancel_node(as_node(context_access::node(parent)));
  n->maker = made_by::with_stop_token;
  context out = context_access::make(n);  // the one reference
  propagate(n);
  // May run the callback at once (token already stopped): n is complete by now.
  n->on_token = std::make_unique<std::stop_callback<cancel_node::on_stop>>(std::move(token), cancel_node::on_stop{n});
  return out;
}

namespace {

// Go's Duration.String (time/time.go): "1h2m0.5s", "1.5ms", "0s", "-2µs".
std::string duration_string(std::int64_t d) {
  char buf[32];
  int w = sizeof buf;
  auto put = [&](char c) { buf[--w] = c; };
  // The fraction of v / 10^prec, without trailing zeros (and without the point if zero).
  auto put_fraction = [&](std::uint64_t v, int prec) {
    bool print = false;
    for (int i = 0; i < prec; ++i) {
      unsigned digit = static_cast<unsigned>(v % 10);
      print = print || digit != 0;
      if (print) put(static_cast<char>('0' + digit));
      v /= 10;
    }
    if (print) put('.');
    return v;
  };
  auto put_int = [&](std::uint64_t v) {
    do {
      put(static_cast<char>('0' + v % 10));
      v /= 10;
    } while (v > 0);
  };
  bool neg = d < 0;
  std::uint64_t u = neg ? 0 - static_cast<std::uint64_t>(d) : static_cast<std::uint64_t>(d);
  if (u < 1'000'000'000) {  // under a second: smaller units, as 1.2ms
    put('s');
    int prec;
    if (u == 0) {
      put('0');
      return std::string(buf + w, sizeof buf - w);
    } else if (u < 1'000) {
      prec = 0;
      put('n');
    } else if (u < 1'000'000) {
      prec = 3;
      put('\xb5');  // U+00B5 µ in UTF-8
      put('\xc2');
    } else {
      prec = 6;
      put('m');
    }
    put_int(put_fraction(u, prec));
  } else {
    put('s');
    u = put_fraction(u, 9);  // whole seconds
    put_int(u % 60);
    if ((u /= 60) > 0) {  // whole minutes
      put('m');
      put_int(u % 60);
      if ((u /= 60) > 0) {  // whole hours
        put('h');
        put_int(u);
      }
    }
  }
  if (neg) put('-');
  return std::string(buf + w, sizeof buf - w);
}

// Go's monotonic clock reading in Time.String: "m=+12.000000001".
std::string monotonic_string(std::int64_t ns) {
  std::string out = ns < 0 ? "m=-" : "m=+";
  std::uint64_t u = ns < 0 ? 0 - static_cast<std::uint64_t>(ns) : static_cast<std::uint64_t>(ns);
  std::string frac = std::to_string(u % 1'000'000'000);
  return out + std::to_string(u / 1'000'000'000) + "." + std::string(9 - frac.size(), '0') + frac;
}

// append_name appends what n adds to its parent's printed form.
void append_name(std::string& out, const node* n) {
  switch (n->kind) {
    case node_kind::todo: out += "context.TODO"; break;
    case node_kind::without_cancel: out += ".WithoutCancel"; break;
    case node_kind::value: {
      auto* v = static_cast<const value_node*>(n);
      out += ".WithValue(";
      out += *v->key_name ? std::string_view(v->key_name) : v->ops->key_type;
      out += ", ";
      out += v->ops->describe(v->value);
      out += ")";
      break;
    }
    case node_kind::cancel:
      switch (static_cast<const cancel_node*>(n)->maker) {
        case made_by::with_cancel: out += ".WithCancel"; break;
        case made_by::with_stop_token: out += ".WithStopToken"; break;
        case made_by::with_deadline:
          out +=
              ".WithDeadline(" + monotonic_string(n->deadline) + " [" + duration_string(n->deadline - now_ns()) + "])";
          break;
      }
      break;
  }
}

}  // namespace

// From the root down, without recursion: a chain may be deeper than a goroutine's stack.
std::string context::string() const {
  std::vector<const node*> chain;
  for (const node* n = as_node(n_.get()); n; n = n->parent) chain.push_back(n);
  std::string out;
  if (chain.empty() || chain.back()->kind != node_kind::todo) out = "context.Background";
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) append_name(out, *it);
  return out;
}

std::ostream& operator<<(std::ostream& out, const context& ctx) { return out << ctx.string(); }

error cause(const context& ctx) noexcept {
  node* n = as_node(context_access::node(ctx));
  cancel_node* c = n ? n->nearest : nullptr;
  if (!c || !cancelled(c)) return {};
  return c->cause ? c->cause : error(c->err);
}

}  // namespace go
