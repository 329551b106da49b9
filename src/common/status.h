// Status / Expected<T>: how library code reports failure. A message names the thing that
// is wrong and, where one exists, the fix; callers add context as the error travels up.
#pragma once

#include <fmt/format.h>

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace tandem {

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  static Status Ok() { return Status(); }
  template <typename... Args>
  static Status Error(fmt::format_string<Args...> f, Args&&... args) {
    Status s;
    s.message_ = fmt::format(f, std::forward<Args>(args)...);
    s.failed_ = true;
    return s;
  }
  // A failure of something else that may pass (a lost worker, a cluster rebuilding): the
  // same request can succeed later. APIs report it as "unavailable".
  template <typename... Args>
  static Status Unavailable(fmt::format_string<Args...> f, Args&&... args) {
    Status s = Error(f, std::forward<Args>(args)...);
    s.unavailable_ = true;
    return s;
  }

  bool ok() const { return !failed_; }
  bool unavailable() const { return unavailable_; }
  explicit operator bool() const { return ok(); }
  const std::string& message() const { return message_; }

  // "context: message" — the breadcrumb of where the error passed.
  Status WithContext(std::string_view context) const& {
    Status s = *this;
    if (s.failed_) s.message_ = fmt::format("{}: {}", context, message_);
    return s;
  }

 private:
  std::string message_;
  bool failed_ = false;
  bool unavailable_ = false;
};

template <typename T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : v_(std::move(value)) {}
  Expected(Status error) : v_(std::move(error)) { assert(!std::get<Status>(v_).ok()); }

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace tandem

#define TANDEM_CONCAT_INNER(a, b) a##b
#define TANDEM_CONCAT(a, b) TANDEM_CONCAT_INNER(a, b)

// Return the Status of `expr` (a Status) if it failed.
#define TANDEM_TRY(expr)                       \
  do {                                         \
    ::tandem::Status _st = (expr);             \
    if (!_st.ok()) return _st;                 \
  } while (0)

// `lhs = value of expr` (an Expected<T>), or return its Status.
#define TANDEM_ASSIGN_OR_RETURN(lhs, expr) \
  TANDEM_ASSIGN_OR_RETURN_IMPL(TANDEM_CONCAT(_exp_, __LINE__), lhs, expr)
#define TANDEM_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
