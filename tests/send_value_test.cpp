// A value for a channel: every API that takes one (send, <<, try_send, send_case,
// select_cases::send, send_ctx) accepts exactly what ch.send(v) accepts, the values that
// convert implicitly to the channel's T, as Go accepts only values assignable to T. Checked at
// compile time: each concept below asks whether a call is well-formed.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "go/go.hpp"

namespace {

template <class C, class V>
concept sends = requires(const C& ch, V&& v) { ch.send(std::forward<V>(v)); };
template <class C, class V>
concept shifts_in = requires(const C& ch, V&& v) { ch << std::forward<V>(v); };
template <class C, class V>
concept try_sends = requires(const C& ch, V&& v) { ch.try_send(std::forward<V>(v)); };
template <class C, class V>
concept send_cases = requires(const C& ch, V&& v) {
  go::send_case(ch, std::forward<V>(v));
  go::send_case(ch, std::forward<V>(v), [] {});
};
template <class C, class V>
concept select_cases_sends = requires(go::select_cases& s, const C& ch, V&& v) { s.send(ch, std::forward<V>(v)); };
template <class C, class V>
concept sends_ctx = requires(const go::context& ctx, const C& ch, V&& v) { go::send_ctx(ctx, ch, std::forward<V>(v)); };

template <class C, class V>
constexpr bool all_accept = sends<C, V> && shifts_in<C, V> && try_sends<C, V> && send_cases<C, V> &&
                            select_cases_sends<C, V> && sends_ctx<C, V>;
template <class C, class V>
constexpr bool none_accept = !sends<C, V> && !shifts_in<C, V> && !try_sends<C, V> && !send_cases<C, V> &&
                             !select_cases_sends<C, V> && !sends_ctx<C, V>;

struct explicitly_long {
  explicit operator long() const { return 1; }
};

// Rejected, as by ch.send(v): no implicit conversion to T (a cast would convert them).
static_assert(none_accept<go::chan<long>, const char (&)[6]>);  // "hello": its address
static_assert(none_accept<go::chan<long>, const char*>);
static_assert(none_accept<go::chan<long>, std::nullptr_t>);
static_assert(none_accept<go::chan<long>, explicitly_long>);
static_assert(none_accept<go::chan<std::vector<int>>, int>);                        // an explicit constructor
static_assert(none_accept<go::chan<std::unique_ptr<int>>, std::unique_ptr<int>&>);  // a copy
static_assert(none_accept<go::chan<std::unique_ptr<int>>, int*>);
static_assert(none_accept<go::chan<void>, int>);
static_assert(none_accept<go::recv_chan<long>, long>);  // the direction

// Accepted, as by ch.send(v).
static_assert(all_accept<go::chan<long>, long>);
static_assert(all_accept<go::chan<long>, long&>);
static_assert(all_accept<go::chan<long>, const long&>);
static_assert(all_accept<go::chan<long>, int>);
static_assert(all_accept<go::send_chan<long>, int>);
static_assert(all_accept<go::chan<std::string>, const char*>);
static_assert(all_accept<go::chan<std::string>, const char (&)[6]>);
static_assert(all_accept<go::chan<std::vector<int>>, std::vector<int>&>);
static_assert(all_accept<go::chan<std::unique_ptr<int>>, std::unique_ptr<int>>);

}  // namespace

TEST(SendValue, SendCaseConvertsAsSendDoes) {
  auto ch = go::make_chan<std::string>(2);
  EXPECT_EQ(go::select(go::send_case(ch, "hello")), 0);
  go::select_cases sel;
  sel.send(ch, "world");
  EXPECT_EQ(sel.select(), 0u);
  EXPECT_EQ(ch.recv(), "hello");
  EXPECT_EQ(ch.recv(), "world");
}

TEST(SendValue, BracedListsWorkEverywhereSendTakesThem) {
  auto ch = go::make_chan<std::pair<int, int>>(4);
  ch.send({1, 2});
  EXPECT_EQ(go::select(go::send_case(ch, {3, 4})), 0);
  go::select_cases sel;
  sel.send(ch, {5, 6});
  EXPECT_EQ(sel.select(), 0u);
  EXPECT_TRUE(go::send_ctx(go::background(), ch, {7, 8}));
  for (int first : {1, 3, 5, 7}) EXPECT_EQ(ch.recv(), std::make_pair(first, first + 1));
}

TEST(SendValue, MoveOnlyValuesMoveThroughEverySend) {
  auto ch = go::make_chan<std::unique_ptr<int>>(3);
  EXPECT_EQ(go::select(go::send_case(ch, std::make_unique<int>(1))), 0);
  auto two = std::make_unique<int>(2);
  EXPECT_TRUE(ch.try_send(std::move(two)));
  EXPECT_TRUE(go::send_ctx(go::background(), ch, std::make_unique<int>(3)));
  for (int want : {1, 2, 3}) EXPECT_EQ(**ch.recv(), want);
}
