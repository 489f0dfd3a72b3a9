// Interfaces: Go's `interface{}` values, type assertions and type switches over std::any and
// std::variant.
//
//   Go                                   gocxx
//   var x interface{} = 42               std::any x = 42;                    (or a std::variant<...>)
//   v, ok := x.(int)                     if (int* v = go::as<int>(x)) ...    (null: not an int)
//   v := x.(int)   (panics if not)       int& v = go::must_as<int>(x);       (throws go::type_assertion_error)
//   switch v := x.(type) {               go::type_switch(x,
//   case int:    ...                       [](int& v) { ... },
//   case string: ...                       [](std::string& v) { ... },
//   case nil:    ...                       [](std::nullptr_t) { ... },     (x holds nothing)
//   default:     ...                       [] { ... });                    (no parameter: default)
//   }
//   type Shape interface { Area() float64 }   a concept (implicit, checked at compile time), or a
//                                            virtual base class when values of mixed types
//                                            travel together (see examples/interfaces.cpp)
//
// Guarantees
// - as<T>(x) matches the exact type T (const and reference removed), as a Go type assertion to a
//   concrete type does; no conversions. The pointer is into x and valid while x holds the value.
// - type_switch tries the cases in order and runs the first whose parameter type matches the
//   value held; a case with no parameter is the default and runs only if no typed case matches,
//   wherever it is written. It returns the index of the case that ran, or -1 if none did.
//   Cases take the value by reference (T& or const T&) or by value (a copy).
// - A case's parameter type is read from its call operator, so cases must not be generic
//   lambdas (`auto`); the default case takes no parameter.
#pragma once

#include <any>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <variant>

namespace go {

// type_assertion_error is what must_as throws (Go's "interface conversion" panic).
class type_assertion_error : public std::bad_cast {
 public:
  explicit type_assertion_error(std::string what) : what_(std::move(what)) {}
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  std::string what_;
};

namespace detail {

template <class V>
struct is_variant : std::false_type {};
template <class... Ts>
struct is_variant<std::variant<Ts...>> : std::true_type {};

template <class T, class V>
struct variant_holds : std::false_type {};
template <class T, class... Ts>
struct variant_holds<T, std::variant<Ts...>> : std::bool_constant<(std::is_same_v<T, Ts> || ...)> {};

// The parameter type of a callable's (non-generic) call operator, or void for none.
template <class M>
struct call_arg;
template <class C, class R>
struct call_arg<R (C::*)() const> {
  using type = void;
};
template <class C, class R>
struct call_arg<R (C::*)()> {
  using type = void;
};
template <class C, class R, class A>
struct call_arg<R (C::*)(A) const> {
  using type = A;
};
template <class C, class R, class A>
struct call_arg<R (C::*)(A)> {
  using type = A;
};
template <class C, class R>
struct call_arg<R (C::*)() const noexcept> {
  using type = void;
};
template <class C, class R, class A>
struct call_arg<R (C::*)(A) const noexcept> {
  using type = A;
};

template <class F>
struct case_arg {
  using type = typename call_arg<decltype(&std::decay_t<F>::operator())>::type;
};
template <class R>
struct case_arg<R (*)()> {
  using type = void;
};
template <class R, class A>
struct case_arg<R (*)(A)> {
  using type = A;
};

template <class F>
using case_arg_t = typename case_arg<std::decay_t<F>>::type;

}  // namespace detail

// as<T>(x) is Go's `v, ok := x.(T)`: a pointer to the T that x holds, or null.
template <class T>
T* as(std::any& x) noexcept {
  return std::any_cast<T>(&x);
}
template <class T>
const T* as(const std::any& x) noexcept {
  return std::any_cast<T>(&x);
}
template <class T, class... Ts>
T* as(std::variant<Ts...>& x) noexcept {
  if constexpr (detail::variant_holds<T, std::variant<Ts...>>::value) return std::get_if<T>(&x);
  else return nullptr;
}
template <class T, class... Ts>
const T* as(const std::variant<Ts...>& x) noexcept {
  if constexpr (detail::variant_holds<T, std::variant<Ts...>>::value) return std::get_if<T>(&x);
  else return nullptr;
}

// must_as<T>(x) is Go's `v := x.(T)`: the T that x holds; throws type_assertion_error otherwise.
template <class T, class X>
auto& must_as(X& x) {
  if (auto* p = as<T>(x)) return *p;
  throw type_assertion_error(std::string("interface conversion: value is not ") + typeid(T).name());
}

// type_switch runs the first case whose parameter type matches what x holds; see the top.
template <class X, class... Cases>
int type_switch(X& x, Cases&&... cases) {
  int ran = -1;
  int default_index = -1;
  int index = 0;
  auto try_case = [&](auto& f) {
    using A = detail::case_arg_t<decltype(f)>;
    int i = index++;
    if (ran >= 0) return;
    if constexpr (std::is_void_v<A>) {
      default_index = i;
    } else {
      using T = std::remove_cvref_t<A>;
      if constexpr (std::is_same_v<T, std::nullptr_t>) {
        bool empty;
        if constexpr (detail::is_variant<std::remove_const_t<X>>::value) empty = x.valueless_by_exception();
        else empty = !x.has_value();
        if (empty) {
          f(nullptr);
          ran = i;
        }
      } else if (auto* p = as<T>(x)) {
        f(*p);
        ran = i;
      }
    }
  };
  (try_case(cases), ...);
  if (ran < 0 && default_index >= 0) {
    index = 0;
    auto run_default = [&](auto& f) {
      if constexpr (std::is_void_v<detail::case_arg_t<decltype(f)>>) {
        if (index++ == default_index) f();
      } else {
        ++index;
      }
    };
    (run_default(cases), ...);
    ran = default_index;
  }
  return ran;
}

}  // namespace go
