#include "emu/machine.h"

#include <sys/mman.h>

#include <cstring>

#include "emu/elf_loader.h"
#include "guest_kernel/abi/asi_emu_abi.h"

namespace emu {

Machine::Machine(const MachineConfig& config) : config_(config) {
    if (config_.smp < 1 || config_.smp > kMaxVcpus)
        throw MachineError(kExitBadInput, "bad --smp: between 1 and " + std::to_string(kMaxVcpus) + " vCPUs");
    if (config_.quantum < kMinQuantum || config_.quantum > kMaxQuantum)
        throw MachineError(kExitBadInput, "bad --quantum: between " + std::to_string(kMinQuantum) + " and " +
                                              std::to_string(kMaxQuantum) + " guest instructions");
    if (config_.ram_size < kMinRamSize || config_.ram_size > kMaxRamSize || (config_.ram_size & 0xfff))
        throw MachineError(kExitBadInput, "bad --mem: RAM must be a multiple of 4 KiB between 16 MiB and 64 GiB");

    // The start-up self-test of the Unicorn internals we depend on (DESIGN 4.2).
    backend::LayoutProbe probe = backend::probe_cpu_state_layout();
    if (!probe.layout)
        throw MachineError(kExitInternalError,
                           "start-up self-test failed: this Unicorn build's CPU state layout is not "
                           "the one asi-emu was written for (" + probe.failure + "); refusing to run");
    layout_ = *probe.layout;
    cpuid_ = backend::CpuidTable::probe();

    std::vector<uint8_t> file;
    try {
        file = read_file_bytes(config_.image_path);
        image_ = parse_elf(file, config_.ram_size);
    } catch (const ElfError& e) {
        throw MachineError(kExitBadInput, std::string("bad image ") + config_.image_path + ": " + e.what());
    } catch (const FileError& e) {
        throw MachineError(kExitBadInput, e.what());
    }

    // Guest RAM: anonymous, zero-filled, populated lazily by the host kernel, so a large
    // --mem costs what the guest touches.
    void* mem = mmap(nullptr, config_.ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) throw MachineError(kExitInternalError, "cannot allocate guest RAM");
    ram_ = static_cast<uint8_t*>(mem);
    std::span<uint8_t> ram(ram_, config_.ram_size);
    load_segments(image_, file, ram);
    image_file_ = file;

    // Kernel text: every executable segment, scanned once (DESIGN 4.6).
    for (const ElfSegment& s : image_.segments) {
        if (!s.executable) continue;
        const uint64_t begin = s.paddr & ~0xfffull, end = (s.paddr + s.mem_size + 0xfff) & ~0xfffull;
        if (s.vaddr != asi_abi::kKernelWindowBase + s.paddr)
            throw MachineError(kExitBadInput, "bad image " + config_.image_path +
                                                  ": executable segment must be linked at the kernel window "
                                                  "(vaddr = 0xffffffff80000000 + paddr)");
        shared_.text.push_back({begin, end});
        scan_.scan({s.vaddr, std::span<const uint8_t>(ram_ + s.paddr, s.file_size)});
    }

    BootParameters params;
    params.cmdline = config_.cmdline;
    params.seed = config_.seed;
    params.cpu_count = config_.smp;
    BootLayout layout;
    try {
        layout = prepare_boot(ram, image_, params);
    } catch (const std::exception& e) {
        throw MachineError(kExitBadInput, std::string("cannot boot: ") + e.what());
    }
    for (const ElfSegment& s : image_.segments)
        if (s.paddr < 0x100000)
            throw MachineError(kExitBadInput, "bad image " + config_.image_path +
                                                  ": segments must load at or above 1 MiB (below is boot data)");

    serial_ = std::make_unique<devices::Serial16550>(asi_abi::kCom1Port, config_.serial);
    debug_exit_ = std::make_unique<devices::DebugExit>(asi_abi::kDebugExitPort);
    ports_.attach(serial_.get());
    ports_.attach(debug_exit_.get());

    shared_.ram = mmu::PhysicalMemory{ram_, config_.ram_size};
    shared_.scan = &scan_;
    shared_.layout = &layout_;
    shared_.cpuid = &cpuid_;
    shared_.ports = &ports_;
    shared_.events = &dispatcher_;
    if (config_.oracle) {
        auto profile = cpu_model::find_cpu_profile(config_.cpu_profile);
        if (!profile) throw MachineError(kExitBadInput, "unknown --cpu-profile " + config_.cpu_profile);
        oracle_inputs_ = std::make_unique<LiveOracleInputs>(shared_.ram);
        oracle_ = std::make_unique<cpu_model::LeakOracle>(config_.ram_size, config_.smp, *profile, *oracle_inputs_,
                                                          *oracle_inputs_);
        oracle_filter_ = std::make_unique<OracleFilter>(*oracle_);
        shared_.table_filter = oracle_filter_.get();
    }
    if (config_.tlb_stats) {
        tlb_stats_ = std::make_unique<TlbStats>();
        shared_.tlb_stats = tlb_stats_.get();
        sinks_.push_back(tlb_stats_.get());
    }
    if (!config_.trace_path.empty()) {
        trace::TraceHeader header;
        header.image_hash = image_.content_hash;
        header.config = config_string();
        header.cpu_profile = config_.cpu_profile;
        header.vcpu_count = config_.smp;
        try {
            trace_ = std::make_unique<trace::TraceWriter>(config_.trace_path, header);
        } catch (const std::exception& e) {
            throw MachineError(kExitBadInput, std::string("cannot write trace: ") + e.what());
        }
    }
    shared_.max_insns = config_.max_insns;
    shared_.seed = config_.seed;
    shared_.paranoid = config_.paranoid;
    shared_.maxphyaddr = static_cast<int>(cpuid_.lookup(0x80000008u, 0, 0).eax & 0xff);
    if (shared_.maxphyaddr < 36 || shared_.maxphyaddr > 52) shared_.maxphyaddr = 40;

    scheduler_ = std::make_unique<SmpScheduler>(config_.quantum);
    shared_.interrupt_poll = config_.quantum;
    shared_.router = scheduler_.get();
    std::vector<backend::Vcpu*> cpus;
    for (uint32_t id = 0; id < config_.smp; ++id) {
        auto cpu = std::make_unique<backend::Vcpu>(id, shared_);
        current_ = cpu.get();
        // asi_emu_abi.h "SMP": every vCPU powers on at the entry with its own boot info and stack.
        if (auto err = cpu->init({image_.entry, layout.stack_top - id * kBootStackPerCpu,
                                  layout.boot_info_pa + id * 4096ull, layout.boot_cr3}))
            throw MachineError(kExitInternalError, "cannot start vCPU " + std::to_string(id) + ": " + *err);
        cpus.push_back(cpu.get());
        vcpus_.push_back(std::move(cpu));
    }
    scheduler_->attach(cpus);
}

std::string Machine::config_string() const {
    return "image=" + config_.image_path + " mem=" + std::to_string(config_.ram_size) +
           " seed=" + std::to_string(config_.seed) + " cpus=" + std::to_string(config_.smp) +
           (config_.smp > 1 ? " quantum=" + std::to_string(config_.quantum) : std::string()) +
           " append=" + config_.cmdline;
}

void Machine::dispatch(const Event& e) {
    if (oracle_) {
        oracle_inputs_->set_context(e);
        oracle_->process(e);
        if (trace_)
            for (const Event& r : oracle_inputs_->take_records()) trace_->on_event(r);
        else
            oracle_inputs_->take_records();
    }
    if (trace_) trace_->on_event(e);
    for (EventSink* s : sinks_) s->on_event(e);
    if (oracle_ && config_.stop_on_violation && oracle_->violation_count() > reported_violations_ &&
        e.vcpu < vcpus_.size()) {
        reported_violations_ = oracle_->violation_count();
        vcpus_[e.vcpu]->request_stop(backend::StopKind::OracleViolation, "the leak oracle reported a violation");
    }
}

Machine::~Machine() {
    vcpus_.clear();
    if (ram_) munmap(ram_, config_.ram_size);
}

RunOutcome Machine::run() {
    RunOutcome out;
    ScheduleOutcome scheduled = scheduler_->run();
    while (scheduled.stop.kind == backend::StopKind::FuzzReady) {
        if (on_fuzz_ready(*vcpus_[scheduled.vcpu], out)) return out;
        scheduled = scheduler_->run();
    }
    const backend::StopInfo& stop = scheduled.stop;
    backend::Vcpu& cpu = *vcpus_[scheduled.vcpu];
    out.stopped_vcpu = scheduled.vcpu;
    out.rounds = scheduler_->rounds();
    out.time_jumps = scheduler_->time_jumps();
    out.detail = stop.detail;
    switch (stop.kind) {
        case backend::StopKind::GuestExit:
            out.outcome = "guest-exit";
            out.guest_value = debug_exit_->value();
            out.exit_code = out.guest_value.value_or(1) == 0 ? kExitOk : kExitGuestFailure;
            break;
        case backend::StopKind::Halted:
            // Every vCPU parked and nothing left that could wake one: a guest hang.
            out.outcome = "guest-halted";
            if (vcpus_.size() == 1)
                out.detail = (cpu.interrupts_enabled() ? "hlt with nothing left that could wake it ("
                                                        : "hlt with interrupts disabled (") + stop.detail + ")";
            out.exit_code = kExitGuestCrash;
            break;
        case backend::StopKind::SliceEnd:
        case backend::StopKind::Resume:
            out.outcome = "internal-error";
            out.exit_code = kExitInternalError;
            break;
        case backend::StopKind::InsnLimit:
            out.outcome = "insn-limit";
            out.exit_code = kExitLimitReached;
            break;
        case backend::StopKind::TripleFault:
            out.outcome = "triple-fault";
            out.exit_code = kExitGuestCrash;
            break;
        case backend::StopKind::ForbiddenAccess:
            out.outcome = "forbidden-access";
            out.exit_code = kExitGuestCrash;
            break;
        case backend::StopKind::BackendError:
            out.outcome = "internal-error";
            out.exit_code = kExitInternalError;
            break;
        case backend::StopKind::OracleViolation:
            out.outcome = "oracle-violation";
            out.exit_code = kExitOracleViolation;
            break;
        case backend::StopKind::FuzzDone: {
            // The guest ran its program: RSI = FuzzStatus. No program is not a failure.
            const uint64_t status = cpu.fuzz_request().rsi;
            out.outcome = "fuzz-done";
            out.guest_value = static_cast<uint32_t>(status);
            out.detail = "fuzz program: " + std::to_string(cpu.fuzz_request().rdi) + " operations, status " +
                         std::to_string(status);
            out.exit_code = status == asi_abi::kFuzzOk || status == asi_abi::kFuzzNoProgram ? kExitOk
                                                                                               : kExitGuestFailure;
            break;
        }
        case backend::StopKind::FuzzReady:
            break;  // handled above
    }
    if (oracle_) {
        out.oracle_enabled = true;
        out.violations = oracle_->violations();
        out.violation_count = oracle_->violation_count();
        out.oracle_metrics = oracle_->metrics();
        // A violation outranks how the guest ended, unless the run itself failed.
        if (out.violation_count && (out.exit_code == kExitOk || out.exit_code == kExitGuestFailure))
            out.exit_code = kExitOracleViolation;
    }
    if (tlb_stats_)
        for (uint16_t pcid : tlb_stats_->cache().pcids()) out.tlb_stats.push_back({pcid, tlb_stats_->cache().stats(pcid)});
    if (trace_) {
        try {
            trace_->close();
            out.trace_events = trace_->events_written();
        } catch (const std::exception& e) {
            out.detail += std::string("; trace: ") + e.what();
            if (out.exit_code == kExitOk) out.exit_code = kExitInternalError;
        }
    }
    if (out.exit_code >= kExitGuestCrash) out.register_dump = cpu.register_dump();
    serial_->flush();
    for (const auto& v : vcpus_) {
        out.per_vcpu.push_back(v->stats());
        out.stats += v->stats();
    }
    out.privileged_sites = scan_.instructions().size();
    return out;
}

}  // namespace emu
