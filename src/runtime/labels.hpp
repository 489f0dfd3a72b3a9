// Profiler labels (go/pprof.hpp): a goroutine's labels are an immutable, reference-counted
// label_node (nullptr: none), shared by the goroutines that inherited it.
//
// Who holds a reference: the goroutine whose `labels` field points at the node (taken at its
// spawn, or by set_goroutine_labels, dropped when it exits or its labels are replaced), a
// with_labels in progress (the labels to restore), a CPU sample not yet drained, and a
// goroutine profile being built.
//
// Who reads a goroutine's field:
// - the goroutine itself, and the SIGPROF handler, which runs on the thread of the goroutine
//   it interrupted (a stackless goroutine included: it runs on its worker's thread until it
//   suspends): only the goroutine writes its field (labels_replace), so the node it reads
//   stays alive for the whole handler, which may take a reference of its own with one
//   atomic increment (no allocation).
// - the goroutine profile, on another thread, through labels_of, while the goroutine may
//   replace its labels or exit. The reader announces itself in `label_readers` before it
//   loads the field and takes its reference before it leaves; a writer swaps the field,
//   then drops the old node's reference only once it has seen label_readers at 0. All four
//   are sequentially consistent, so either the writer's load sees the reader (and waits
//   for it to hold its reference) or the reader's load of the field comes after the swap
//   (and sees the new node). A writer waits only for the few instructions of a load and an
//   increment, and only while a profile is being read.
#pragma once

#include <sched.h>

#include <atomic>
#include <string>
#include <utility>
#include <vector>

namespace go::detail {

struct label_node {
  std::atomic<long> refs{1};
  std::vector<std::pair<std::string, std::string>> labels;  // sorted by key
};

inline label_node* labels_retain(label_node* n) noexcept {
  if (n) n->refs.fetch_add(1, std::memory_order_relaxed);
  return n;
}

inline void labels_release(label_node* n) noexcept {
  if (n && n->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete n;
}

// The goroutine profiles reading a goroutine's labels from another thread now (labels_of).
inline std::atomic<int> label_readers{0};

// labels_replace makes n (a reference, consumed) the labels in `field`, a goroutine's, and
// drops the reference to the old ones once no profile can still be taking one (above).
// Called by the goroutine itself, or for its record once it has exited.
inline void labels_replace(std::atomic<label_node*>& field, label_node* n) noexcept {
  label_node* old = field.exchange(n, std::memory_order_seq_cst);
  if (!old) return;
  while (label_readers.load(std::memory_order_seq_cst) != 0) sched_yield();
  labels_release(old);
}

// labels_of returns the labels in `field`, another goroutine's, with a reference of the
// caller's (nullptr: none).
inline label_node* labels_of(const std::atomic<label_node*>& field) noexcept {
  label_readers.fetch_add(1, std::memory_order_seq_cst);
  label_node* n = labels_retain(field.load(std::memory_order_seq_cst));
  label_readers.fetch_sub(1, std::memory_order_seq_cst);
  return n;
}

}  // namespace go::detail
