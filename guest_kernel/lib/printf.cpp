#include "lib/printf.h"

#include <stdint.h>

#include "drivers/serial.h"
#include "lib/spinlock.h"

namespace {

struct Spec {
    bool left = false;
    bool zero = false;
    bool alt = false;
    int width = 0;
    int precision = -1;  // for %s: at most this many characters
};

struct Out {
    FormatSink sink;
    void* ctx;
    int count;
    void put(char c) {
        sink(c, ctx);
        ++count;
    }
    void pad(int n, char c) {
        for (int i = 0; i < n; ++i) put(c);
    }
};

void emit_string(Out& out, const Spec& spec, const char* s, int len) {
    const int padding = spec.width > len ? spec.width - len : 0;
    if (!spec.left) out.pad(padding, ' ');
    for (int i = 0; i < len; ++i) out.put(s[i]);
    if (spec.left) out.pad(padding, ' ');
}

void emit_number(Out& out, const Spec& spec, uint64_t value, bool negative, unsigned base,
                 bool upper, const char* prefix) {
    char digits[24];
    int n = 0;
    const char* set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        digits[n++] = set[value % base];
        value /= base;
    } while (value != 0);
    int prefix_len = 0;
    while (prefix[prefix_len] != '\0') ++prefix_len;
    const int body = n + prefix_len + (negative ? 1 : 0);
    const int padding = spec.width > body ? spec.width - body : 0;
    if (!spec.left && !spec.zero) out.pad(padding, ' ');
    if (negative) out.put('-');
    for (int i = 0; i < prefix_len; ++i) out.put(prefix[i]);
    if (!spec.left && spec.zero) out.pad(padding, '0');
    while (n > 0) out.put(digits[--n]);
    if (spec.left) out.pad(padding, ' ');
}

void console_sink(char c, void*) { serial::put_char(c); }

struct Buffer {
    char* buf;
    size_t size;
    size_t used;
};

void buffer_sink(char c, void* ctx) {
    auto* b = static_cast<Buffer*>(ctx);
    if (b->used + 1 < b->size) b->buf[b->used] = c;
    ++b->used;
}

}  // namespace

int kvformat(FormatSink sink, void* ctx, const char* fmt, va_list ap) {
    Out out{sink, ctx, 0};
    for (const char* p = fmt; *p != '\0'; ++p) {
        if (*p != '%') {
            out.put(*p);
            continue;
        }
        ++p;
        Spec spec;
        for (;; ++p) {
            if (*p == '-') spec.left = true;
            else if (*p == '0') spec.zero = true;
            else if (*p == '#') spec.alt = true;
            else break;
        }
        if (*p == '*') {
            spec.width = va_arg(ap, int);
            ++p;
        } else {
            while (*p >= '0' && *p <= '9') spec.width = spec.width * 10 + (*p++ - '0');
        }
        if (*p == '.') {
            ++p;
            spec.precision = 0;
            if (*p == '*') {
                spec.precision = va_arg(ap, int);
                ++p;
            } else {
                while (*p >= '0' && *p <= '9') spec.precision = spec.precision * 10 + (*p++ - '0');
            }
        }
        int longs = 0;
        while (*p == 'l' || *p == 'z') {
            longs += (*p == 'z') ? 2 : 1;
            ++p;
        }
        switch (*p) {
            case 'd':
            case 'i': {
                int64_t v = longs > 0 ? va_arg(ap, int64_t) : va_arg(ap, int);
                const bool neg = v < 0;
                const uint64_t mag = neg ? uint64_t(0) - uint64_t(v) : uint64_t(v);
                emit_number(out, spec, mag, neg, 10, false, "");
                break;
            }
            case 'u': {
                uint64_t v = longs > 0 ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
                emit_number(out, spec, v, false, 10, false, "");
                break;
            }
            case 'x':
            case 'X': {
                uint64_t v = longs > 0 ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
                emit_number(out, spec, v, false, 16, *p == 'X', spec.alt ? "0x" : "");
                break;
            }
            case 'p': {
                uint64_t v = reinterpret_cast<uint64_t>(va_arg(ap, void*));
                Spec ps = spec;
                if (ps.width == 0) {
                    ps.width = 18;
                    ps.zero = true;
                }
                emit_number(out, ps, v, false, 16, false, "0x");
                break;
            }
            case 's': {
                const char* s = va_arg(ap, const char*);
                if (s == nullptr) s = "(null)";
                int len = 0;
                while (s[len] != '\0' && (spec.precision < 0 || len < spec.precision)) ++len;
                emit_string(out, spec, s, len);
                break;
            }
            case 'c': {
                char c = static_cast<char>(va_arg(ap, int));
                emit_string(out, spec, &c, 1);
                break;
            }
            case '%':
                out.put('%');
                break;
            case '\0':
                return out.count;
            default:  // unknown conversion: show it verbatim
                out.put('%');
                out.put(*p);
                break;
        }
    }
    return out.count;
}

namespace {
constinit SpinLock g_console_lock;
constinit bool g_console_bust = false;
}  // namespace

void console_bust() { __atomic_store_n(&g_console_bust, true, __ATOMIC_RELEASE); }

int kvprintf(const char* fmt, va_list ap) {
    if (__atomic_load_n(&g_console_bust, __ATOMIC_ACQUIRE)) return kvformat(console_sink, nullptr, fmt, ap);
    const uint64_t flags = g_console_lock.lock_irqsave();
    const int n = kvformat(console_sink, nullptr, fmt, ap);
    g_console_lock.unlock_irqrestore(flags);
    return n;
}

int kprintf(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    const int n = kvprintf(fmt, ap);
    va_end(ap);
    return n;
}

int ksnprintf(char* buf, size_t size, const char* fmt, ...) {
    Buffer b{buf, size, 0};
    va_list ap;
    va_start(ap, fmt);
    kvformat(buffer_sink, &b, fmt, ap);
    va_end(ap);
    if (size > 0) buf[b.used < size ? b.used : size - 1] = '\0';
    return static_cast<int>(b.used);
}
