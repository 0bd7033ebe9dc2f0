// Kernel command line: space-separated tokens, each `key=value` or a bare `key`
// (e.g. "test=all lkdtm=EXCEPTION"). Later occurrences of a key win, as in Linux.
#pragma once
#include <stddef.h>

struct StringView {
    const char* data = nullptr;
    size_t size = 0;

    bool equals(const char* s) const;
    bool empty() const { return size == 0; }
    // Splits off the part before the first `sep` (the whole view if none) and advances
    // past the separator. Returns false when the view is exhausted.
    bool next_token(char sep, StringView* token);
};

class CommandLine {
public:
    explicit CommandLine(const char* text) : text_(text) {}

    // Finds the last `key=value` (value set) or bare `key` (value empty). False if absent.
    bool find(const char* key, StringView* value) const;

    // Calls fn(key, value) for every token in order.
    template <typename Fn>
    void for_each(Fn fn) const {
        StringView rest{text_, length()};
        StringView token;
        while (rest.next_token(' ', &token)) {
            if (token.empty()) continue;
            StringView key = token;
            StringView value;
            for (size_t i = 0; i < token.size; ++i) {
                if (token.data[i] == '=') {
                    key = StringView{token.data, i};
                    value = StringView{token.data + i + 1, token.size - i - 1};
                    break;
                }
            }
            fn(key, value);
        }
    }

private:
    size_t length() const;
    const char* text_;
};
