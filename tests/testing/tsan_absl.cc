// ThreadSanitizer annotations for Debian's Abseil, linked into every test of a TSan build
// (OTLPD_TSAN) and only there.
//
// Debian builds libabsl_synchronization without -fsanitize=thread, so absl::Mutex's own TSan
// annotations (ABSL_TSAN_MUTEX_*) are compiled out and its lock word and futex waits are
// invisible: TSan reports every access to data guarded by an absl::Mutex as a race. These
// definitions interpose the out-of-line entry points of absl::Mutex, absl::CondVar and
// absl::Notification (the executable's symbol wins over the library's, also for calls made
// from gRPC and from Abseil itself, which go through the PLT), announce the lock operation to
// TSan the way Abseil's TSan build does, and call the library's definition found with
// dlsym(RTLD_NEXT). Mutex operations run inside TSan's ignore region, as in Abseil's own
// annotations, so Condition functions that another thread evaluates inside Unlock() are not
// reported.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/base/config.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

#if !defined(ABSL_HAVE_THREAD_SANITIZER)
#error "tsan_absl.cc is only for -fsanitize=thread builds"
#endif
// Written against the 20220623 LTS: its lock word encoding (kMuWriter) and the layout of
// Notification are used below.
static_assert(ABSL_LTS_RELEASE_VERSION == 20220623, "check tsan_absl.cc against this Abseil");
static_assert(ABSL_OPTION_USE_INLINE_NAMESPACE == 1);
static_assert(sizeof(absl::Mutex) == sizeof(intptr_t));
static_assert(sizeof(absl::Notification) == 2 * sizeof(intptr_t));

namespace {

#define OTLPD_TSAN_STR2(x) #x
#define OTLPD_TSAN_STR(x) OTLPD_TSAN_STR2(x)

// The library's definition of absl::<ns>::<rest>, given the mangled `rest` (e.g.
// "5Mutex4LockEv" for Mutex::Lock()); a const member function when `is_const`.
template <typename Fn>
Fn Real(const char* rest, bool is_const = false) {
  const std::string ns = OTLPD_TSAN_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  const std::string name =
      std::string(is_const ? "_ZNK4absl" : "_ZN4absl") + std::to_string(ns.size()) + ns + rest;
  void* fn = dlsym(RTLD_NEXT, name.c_str());
  if (fn == nullptr) {
    std::fprintf(stderr, "tsan_absl: %s not found: %s\n", name.c_str(), dlerror());
    std::abort();
  }
  return reinterpret_cast<Fn>(fn);
}

// Resolved once per function; a function-local static is safe to use before main.
#define OTLPD_REAL(type, ...)                       \
  static const auto real = Real<type>(__VA_ARGS__); \
  (void)0

// Abseil's entry points call each other (AwaitWithTimeout calls AwaitWithDeadline, Notify
// calls Lock, ...), and those calls come back here through the PLT: only the outermost one
// annotates.
thread_local int depth = 0;
class Outer {
 public:
  Outer() : outer_(depth++ == 0) {}
  ~Outer() { --depth; }
  Outer(const Outer&) = delete;
  Outer& operator=(const Outer&) = delete;
  explicit operator bool() const { return outer_; }

 private:
  const bool outer_;
};

constexpr intptr_t kMuWriter = 0x0008;  // mutex.cc: held in exclusive mode

// How `mu` is held by the calling thread, as TSan flags.
unsigned HeldFlags(const absl::Mutex* mu) {
  auto* word = reinterpret_cast<const std::atomic<intptr_t>*>(mu);
  return (word->load(std::memory_order_relaxed) & kMuWriter) ? 0 : __tsan_mutex_read_lock;
}

// `call` acquires `mu` (returns whether it did when `flags` has __tsan_mutex_try_lock).
template <typename Call>
auto Acquiring(absl::Mutex* mu, unsigned flags, Call call) {
  Outer outer;
  if (!outer) return call();
  __tsan_mutex_pre_lock(mu, flags);
  auto result = call();
  const bool failed = (flags & __tsan_mutex_try_lock) && !result;
  __tsan_mutex_post_lock(mu, flags | (failed ? __tsan_mutex_try_lock_failed : 0), 0);
  return result;
}

// `call` releases `mu`.
template <typename Call>
void Releasing(absl::Mutex* mu, unsigned flags, Call call) {
  Outer outer;
  if (!outer) return call();
  __tsan_mutex_pre_unlock(mu, flags);
  call();
  __tsan_mutex_post_unlock(mu, flags);
}

// `call` blocks with the held `mu` released and holds it again on return (Await, CondVar).
template <typename Call>
auto ReleasingWhileBlocked(absl::Mutex* mu, Call call) {
  Outer outer;
  if (!outer) return call();
  const unsigned flags = HeldFlags(mu);
  __tsan_mutex_pre_unlock(mu, flags);
  auto result = call();
  __tsan_mutex_post_unlock(mu, flags);
  __tsan_mutex_pre_lock(mu, flags);
  __tsan_mutex_post_lock(mu, flags, 0);
  return result;
}

void* NotifiedFlag(const absl::Notification* n) {
  // notified_yet_ follows the Mutex; Notification::HasBeenNotified() (inline, so built with
  // TSan) acquire-loads it.
  return const_cast<char*>(reinterpret_cast<const char*>(n) + sizeof(absl::Mutex));
}

// True if `pc` is in the executable (built with TSan), not in a shared library.
bool CalledFromThisExecutable(const void* pc) {
  static const void* const exe_base = [] {
    Dl_info info{};
    dladdr(reinterpret_cast<const void*>(&CalledFromThisExecutable), &info);
    return info.dli_fbase;
  }();
  Dl_info info{};
  return dladdr(pc, &info) != 0 && info.dli_fbase == exe_base;
}

constexpr unsigned kRead = __tsan_mutex_read_lock;
constexpr unsigned kTry = __tsan_mutex_try_lock;

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

Mutex::~Mutex() {
  OTLPD_REAL(void (*)(Mutex*), "5MutexD1Ev");
  // Destroying counts as a write to the mutex. Only our (instrumented) code says so: gRPC
  // frees its mutexes after reference counting that TSan cannot see, which would show up as
  // a race with the last unlock.
  if (CalledFromThisExecutable(__builtin_return_address(0))) __tsan_mutex_destroy(this, 0);
  real(this);
}

void Mutex::Lock() {
  OTLPD_REAL(void (*)(Mutex*), "5Mutex4LockEv");
  Acquiring(this, 0, [&] { return real(this), true; });
}

void Mutex::ReaderLock() {
  OTLPD_REAL(void (*)(Mutex*), "5Mutex10ReaderLockEv");
  Acquiring(this, kRead, [&] { return real(this), true; });
}

bool Mutex::TryLock() {
  OTLPD_REAL(bool (*)(Mutex*), "5Mutex7TryLockEv");
  return Acquiring(this, kTry, [&] { return real(this); });
}

bool Mutex::ReaderTryLock() {
  OTLPD_REAL(bool (*)(Mutex*), "5Mutex13ReaderTryLockEv");
  return Acquiring(this, kRead | kTry, [&] { return real(this); });
}

void Mutex::Unlock() {
  OTLPD_REAL(void (*)(Mutex*), "5Mutex6UnlockEv");
  Releasing(this, 0, [&] { real(this); });
}

void Mutex::ReaderUnlock() {
  OTLPD_REAL(void (*)(Mutex*), "5Mutex12ReaderUnlockEv");
  Releasing(this, kRead, [&] { real(this); });
}

// The *When forms hold the mutex on return whether or not the condition became true.
void Mutex::LockWhen(const Condition& cond) {
  OTLPD_REAL(void (*)(Mutex*, const Condition&), "5Mutex8LockWhenERKNS0_9ConditionE");
  Acquiring(this, 0, [&] { return real(this, cond), true; });
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  OTLPD_REAL(void (*)(Mutex*, const Condition&), "5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  Acquiring(this, kRead, [&] { return real(this, cond), true; });
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  OTLPD_REAL(bool (*)(Mutex*, const Condition&, absl::Duration),
             "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  return Acquiring(this, 0, [&] { return real(this, cond, timeout); });
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  OTLPD_REAL(bool (*)(Mutex*, const Condition&, absl::Time),
             "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return Acquiring(this, 0, [&] { return real(this, cond, deadline); });
}

bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  OTLPD_REAL(bool (*)(Mutex*, const Condition&, absl::Duration),
             "5Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  return Acquiring(this, kRead, [&] { return real(this, cond, timeout); });
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  OTLPD_REAL(bool (*)(Mutex*, const Condition&, absl::Time),
             "5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return Acquiring(this, kRead, [&] { return real(this, cond, deadline); });
}

void Mutex::Await(const Condition& cond) {
  OTLPD_REAL(void (*)(Mutex*, const Condition&), "5Mutex5AwaitERKNS0_9ConditionE");
  ReleasingWhileBlocked(this, [&] { return real(this, cond), true; });
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  OTLPD_REAL(bool (*)(Mutex*, const Condition&, absl::Duration),
             "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  return ReleasingWhileBlocked(this, [&] { return real(this, cond, timeout); });
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  OTLPD_REAL(bool (*)(Mutex*, const Condition&, absl::Time),
             "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return ReleasingWhileBlocked(this, [&] { return real(this, cond, deadline); });
}

void CondVar::Wait(Mutex* mu) {
  OTLPD_REAL(void (*)(CondVar*, Mutex*), "7CondVar4WaitEPNS0_5MutexE");
  ReleasingWhileBlocked(mu, [&] { return real(this, mu), true; });
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  OTLPD_REAL(bool (*)(CondVar*, Mutex*, absl::Duration),
             "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  return ReleasingWhileBlocked(mu, [&] { return real(this, mu, timeout); });
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  OTLPD_REAL(bool (*)(CondVar*, Mutex*, absl::Time),
             "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  return ReleasingWhileBlocked(mu, [&] { return real(this, mu, deadline); });
}

// Notification's waits may return without touching its mutex (the flag is already set), so
// Notify() publishes on the object and on the flag and the waits acquire from it; the mutex
// operations inside are left alone.
void Notification::Notify() {
  OTLPD_REAL(void (*)(Notification*), "12Notification6NotifyEv");
  Outer outer;
  __tsan_release(this);
  __tsan_release(NotifiedFlag(this));
  real(this);
}

void Notification::WaitForNotification() const {
  OTLPD_REAL(void (*)(const Notification*), "12Notification19WaitForNotificationEv", true);
  Outer outer;
  real(this);
  __tsan_acquire(const_cast<Notification*>(this));
}

bool Notification::WaitForNotificationWithTimeout(absl::Duration timeout) const {
  OTLPD_REAL(bool (*)(const Notification*, absl::Duration),
             "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE", true);
  Outer outer;
  const bool notified = real(this, timeout);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(absl::Time deadline) const {
  OTLPD_REAL(bool (*)(const Notification*, absl::Time),
             "12Notification31WaitForNotificationWithDeadlineENS0_4TimeE", true);
  Outer outer;
  const bool notified = real(this, deadline);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

ABSL_NAMESPACE_END
}  // namespace absl
