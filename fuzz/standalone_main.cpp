// A replay driver for builds without libFuzzer (the default gcc preset): runs
// LLVMFuzzerTestOneInput once over every file given, and over every file of every directory
// given (sorted by name, hidden files skipped, not recursive). A directory that does not
// exist is reported and skipped, so that ctest can name tests/regressions/<target>/ before
// the first regression input is added. A crash or a trap in the target ends the process, so
// ctest sees the failure; with -v (or ASI_FUZZ_REPLAY_VERBOSE=1) each file is named on
// stderr before it runs, so the last name printed is the culprit.
//
// Usage: <target>_replay [-v] PATH...
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace fs = std::filesystem;

namespace {

bool run_file(const fs::path& path, bool verbose) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
        return false;
    }
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (verbose) std::fprintf(stderr, "replay: %s (%zu bytes)\n", path.c_str(), bytes.size());
    // A copy of exactly the input's size, so that ASan sees reads past its end.
    std::vector<uint8_t> data(bytes.begin(), bytes.end());
    uint8_t* p = data.empty() ? nullptr : data.data();
    LLVMFuzzerTestOneInput(p, data.size());
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    const char* env = std::getenv("ASI_FUZZ_REPLAY_VERBOSE");
    bool verbose = env != nullptr && std::strcmp(env, "1") == 0;
    size_t runs = 0;
    bool ok = true;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "-v") == 0) {
            verbose = true;
            continue;
        }
        const fs::path arg(argv[i]);
        std::error_code ec;
        if (fs::is_directory(arg, ec)) {
            std::vector<fs::path> files;
            for (const fs::directory_entry& e : fs::directory_iterator(arg)) {
                const std::string name = e.path().filename().string();
                if (name.empty() || name[0] == '.' || !e.is_regular_file()) continue;
                files.push_back(e.path());
            }
            std::sort(files.begin(), files.end());
            for (const fs::path& f : files) {
                ok &= run_file(f, verbose);
                ++runs;
            }
        } else if (fs::exists(arg, ec)) {
            ok &= run_file(arg, verbose);
            ++runs;
        } else {
            std::fprintf(stderr, "replay: %s does not exist, skipped\n", argv[i]);
        }
    }
    std::printf("replay: %zu inputs run%s\n", runs, ok ? "" : ", some unreadable");
    return ok ? 0 : 1;
}
