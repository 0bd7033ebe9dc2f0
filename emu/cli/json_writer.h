// A minimal JSON object writer for --json output (flat keys, nested objects, stable order).
#pragma once
#include <cstdint>
#include <string>

namespace emu::cli {

class JsonWriter {
public:
    JsonWriter& begin_object(const char* key = nullptr);
    JsonWriter& end_object();
    JsonWriter& field(const char* key, const std::string& v);
    JsonWriter& field(const char* key, const char* v) { return field(key, std::string(v)); }
    JsonWriter& field(const char* key, uint64_t v);
    JsonWriter& field(const char* key, int v) { return field(key, static_cast<uint64_t>(v)); }
    JsonWriter& field(const char* key, bool v);
    JsonWriter& null_field(const char* key);
    const std::string& str() const { return out_; }

private:
    void key(const char* k);
    std::string out_;
    bool first_ = true;
    int depth_ = 0;
};

std::string json_escape(const std::string& s);

}  // namespace emu::cli
