// Errors are values: every fallible function returns Result<T>, and the message gathers
// context ("model dir X: config.json: missing key Y") on its way up to the CLI or HTTP edge.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace cc {

struct Error {
  std::string message;

  // Prefixes what the caller knows ("decoding photo.jpg") to what went wrong below.
  Error context(const std::string& what) const { return Error{what + ": " + message}; }
};

inline Error error(std::string message) { return Error{std::move(message)}; }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error e) : v_(std::move(e)) {}

  bool ok() const { return v_.index() == 0; }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;

}  // namespace cc

// Propagation helpers, in the style of absl's ASSIGN_OR_RETURN.
#define CC_CONCAT_INNER(a, b) a##b
#define CC_CONCAT(a, b) CC_CONCAT_INNER(a, b)

// CC_TRY(auto x, expr): evaluates expr, returns its error, or binds the value to x.
#define CC_TRY(decl, expr) CC_TRY_IMPL(CC_CONCAT(cc_result_, __LINE__), decl, expr)
#define CC_TRY_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                 \
  if (!tmp.ok()) return tmp.error(); \
  decl = std::move(tmp).value()

// CC_CHECK(expr): returns the error of a Status-returning expression.
#define CC_CHECK(expr)                                                    \
  do {                                                                    \
    auto cc_status_ = (expr);                                             \
    if (!cc_status_.ok()) return cc_status_.error();                      \
  } while (0)
