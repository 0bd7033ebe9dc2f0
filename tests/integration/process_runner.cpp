#include "tests/integration/process_runner.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace testutil {

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

std::string temp_path(const std::string& name) {
    return ::testing::TempDir() + "asi-emu-" + std::to_string(getpid()) + "-" + name;
}

ProcessResult run_process(const std::vector<std::string>& argv, int timeout_seconds) {
    char out_tmpl[] = "/tmp/asi-emu-test-out-XXXXXX";
    char err_tmpl[] = "/tmp/asi-emu-test-err-XXXXXX";
    const int out_fd = mkstemp(out_tmpl), err_fd = mkstemp(err_tmpl);
    ProcessResult r;
    const pid_t pid = fork();
    if (pid == 0) {
        dup2(out_fd, 1);
        dup2(err_fd, 2);
        const int null_fd = open("/dev/null", O_RDONLY);
        dup2(null_fd, 0);
        std::vector<char*> args;
        for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
    for (;;) {
        const pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) break;
        if (std::chrono::steady_clock::now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
    close(out_fd);
    close(err_fd);
    r.out = read_file(out_tmpl);
    r.err = read_file(err_tmpl);
    unlink(out_tmpl);
    unlink(err_tmpl);
    return r;
}

ProcessResult run_asi_emu(const std::vector<std::string>& args, int timeout_seconds) {
    std::vector<std::string> argv{ASI_EMU_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, timeout_seconds);
}

std::string test_image(const std::string& name) { return std::string(ASI_TEST_IMAGE_DIR) + "/" + name + ".elf"; }

const std::string& guest_image() {
    static const std::string path = ASI_GUEST_IMAGE;
    return path;
}

bool have_guest() { return !guest_image().empty() && std::filesystem::exists(guest_image()); }

std::string json_field(const std::string& json, const std::string& key) {
    const auto p = json.find("\"" + key + "\": ");
    if (p == std::string::npos) return "";
    const auto start = p + key.size() + 4;
    return json.substr(start, json.find_first_of(",\n}", start) - start);
}

uint64_t json_number(const std::string& json, const std::string& key) {
    const std::string v = json_field(json, key);
    EXPECT_FALSE(v.empty()) << "no \"" << key << "\" in " << json;
    return v.empty() ? ~0ull : std::stoull(v);
}

std::string per_vcpu_json(const std::string& json, unsigned k) {
    const auto section = json.find("\"per_vcpu\": {");
    if (section == std::string::npos) return "";
    const auto begin = json.find("\"" + std::to_string(k) + "\": {", section);
    if (begin == std::string::npos) return "";
    return json.substr(begin, json.find('}', begin) - begin + 1);
}

uint64_t vcpu_counter(const std::string& json, unsigned k, const std::string& key) {
    const std::string obj = per_vcpu_json(json, k);
    EXPECT_FALSE(obj.empty()) << "no per_vcpu." << k << " in " << json;
    return json_number(obj, key);
}

std::string tail(const std::string& text, size_t max) {
    return text.size() > max ? text.substr(text.size() - max) : text;
}

}  // namespace testutil
