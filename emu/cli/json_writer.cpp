#include "emu/cli/json_writer.h"

#include <cstdio>

namespace emu::cli {

std::string json_escape(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    char b[8];
                    snprintf(b, sizeof b, "\\u%04x", c);
                    out += b;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    return out;
}

void JsonWriter::key(const char* k) {
    if (!first_) out_ += ",";
    out_ += "\n" + std::string(depth_ * 2, ' ');
    first_ = false;
    if (k) out_ += "\"" + json_escape(k) + "\": ";
}

JsonWriter& JsonWriter::begin_object(const char* k) {
    if (depth_ > 0) key(k);
    out_ += "{";
    ++depth_;
    first_ = true;
    return *this;
}

JsonWriter& JsonWriter::end_object() {
    --depth_;
    out_ += "\n" + std::string(depth_ * 2, ' ') + "}";
    first_ = false;
    if (depth_ == 0) out_ += "\n";
    return *this;
}

JsonWriter& JsonWriter::field(const char* k, const std::string& v) {
    key(k);
    out_ += "\"" + json_escape(v) + "\"";
    return *this;
}

JsonWriter& JsonWriter::field(const char* k, uint64_t v) {
    key(k);
    out_ += std::to_string(v);
    return *this;
}

JsonWriter& JsonWriter::field(const char* k, bool v) {
    key(k);
    out_ += v ? "true" : "false";
    return *this;
}

JsonWriter& JsonWriter::null_field(const char* k) {
    key(k);
    out_ += "null";
    return *this;
}

}  // namespace emu::cli
