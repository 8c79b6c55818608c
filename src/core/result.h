// Errors are values: every fallible function returns Result<T>, and the message gathers
// context ("model dir X: config.json: missing key Y") on its way up to the CLI or HTTP edge.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace cc {

// What kind of failure an error is, so that an edge (the HTTP server) can choose its answer
// without reading the message. Most errors are about what the caller gave (a file, a config,
// a request), so that is the default; the others are set where they arise.
enum class ErrorKind {
  kInvalidInput,  // malformed or undecodable input
  kNotFound,      // a named thing (file, model) does not exist
  kUnsupported,   // well-formed, but not something this model or build does
  kTooLarge,      // would need more memory than the limits allow, whatever else is running
  kOverloaded,    // cannot be taken now: retry later
  kInternal,      // the engine itself failed
};

struct Error {
  std::string message;
  ErrorKind kind = ErrorKind::kInvalidInput;

  // Prefixes what the caller knows ("decoding photo.jpg") to what went wrong below.
  Error context(const std::string& what) const { return Error{what + ": " + message, kind}; }
};

inline Error error(std::string message, ErrorKind kind = ErrorKind::kInvalidInput) { return Error{std::move(message), kind}; }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error e) : v_(std::move(e)) {}

  bool ok() const { return v_.index() == 0; }
  // The value; on an error, a bug in the caller: it aborts, printing the error's message.
  T& value() & { return checked(); }
  const T& value() const& { return const_cast<Result*>(this)->checked(); }
  T&& value() && { return std::move(checked()); }
  T* operator->() { return &checked(); }
  const T* operator->() const { return &const_cast<Result*>(this)->checked(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const Error& error() const {
    if (auto* e = std::get_if<1>(&v_)) return *e;
    std::fprintf(stderr, "clipclap: internal error: the error of a successful result was asked for\n");
    std::abort();
  }

 private:
  T& checked() {
    if (auto* v = std::get_if<0>(&v_)) return *v;
    std::fprintf(stderr, "clipclap: internal error: the value of a failed result was used; the error was: %s\n",
                 std::get<1>(v_).message.c_str());
    std::abort();
  }
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
