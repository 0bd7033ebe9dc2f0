#include "lib/cmdline.h"

#include "lib/string.h"

bool StringView::equals(const char* s) const {
    const size_t n = strlen(s);
    return n == size && strncmp(data, s, n) == 0;
}

bool StringView::next_token(char sep, StringView* token) {
    if (data == nullptr) return false;
    size_t i = 0;
    while (i < size && data[i] != sep && !(sep == ' ' && data[i] == '\t')) ++i;
    *token = StringView{data, i};
    if (i < size) {
        data += i + 1;
        size -= i + 1;
    } else {
        data = nullptr;
        size = 0;
    }
    return true;
}

size_t CommandLine::length() const { return text_ == nullptr ? 0 : strlen(text_); }

bool CommandLine::find(const char* key, StringView* value) const {
    bool found = false;
    for_each([&](StringView k, StringView v) {
        if (k.equals(key)) {
            *value = v;
            found = true;
        }
    });
    return found;
}
