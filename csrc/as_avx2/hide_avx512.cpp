// A library preloaded (LD_PRELOAD) into the measuring workers of `cnnfast bench --peers --as-avx2`
// and `cnnfast profile --as-avx2` so that everything in the process, ONNX Runtime's MLAS included,
// sees a CPU without AVX-512 or AMX. Not part of cnnfast._C and never imported by Python.
//
// Why: the AVX2-only AMD EPYC Zen 3 is where cnnfast trails most, and it is rarely the machine at
// hand. oneDNN (torch's, OpenVINO's) can be capped with ONEDNN_MAX_CPU_ISA and cnnfast with
// config.kernel_level, but MLAS picks its kernels from CPUID with no such switch, so an AVX-512
// machine run "as AVX2" compared cnnfast's AVX2 code with ONNX Runtime's AVX-512 code.
//
// How: Linux's CPUID faulting (arch_prctl(ARCH_SET_CPUID, 0); /proc/cpuinfo flag cpuid_fault,
// present on recent Intel and AMD cores and in their VMs) makes every CPUID instruction of this
// thread, and of the threads it creates later, raise SIGSEGV. The handler runs the real CPUID with
// faulting briefly off (the setting is per thread), clears the AVX-512 and AMX feature bits of
// leaf 7, and resumes after the 2-byte instruction. Libraries read CPUID once at load or first
// use, so a process pays a few dozen traps at start-up; the workers count them around their timed
// loop (cnnfast_cpuid_traps) to show that none fell inside it. The constructor runs before any
// library of the process reads CPUID except the dynamic loader itself (glibc's string functions
// keep their AVX-512 forms). Anything else that faults is passed to the handler that was there
// before, or to the default action.
#if defined(__linux__) && defined(__x86_64__)

#include <asm/prctl.h>
#include <cpuid.h>
#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

namespace {

// Leaf 7, sub-leaf 0 (EBX, ECX, EDX) and sub-leaf 1 (EAX): AVX-512 F, DQ, IFMA, PF, ER, CD, BW, VL;
// VBMI, VBMI2, VNNI, BITALG, VPOPCNTDQ; 4VNNIW, 4FMAPS, VP2INTERSECT, AMX-BF16, FP16, AMX-TILE,
// AMX-INT8; AVX512-BF16, AMX-FP16; AVX10 (leaf 7.1 EDX). The AVX2-era bits (AVX-VNNI, VAES,
// VPCLMULQDQ, GFNI) stay: CPUs without AVX-512 have them.
constexpr uint32_t kLeaf7Ebx = (1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) | (1u << 28) |
                               (1u << 30) | (1u << 31);
constexpr uint32_t kLeaf7Ecx = (1u << 1) | (1u << 6) | (1u << 11) | (1u << 12) | (1u << 14);
constexpr uint32_t kLeaf7Edx = (1u << 2) | (1u << 3) | (1u << 8) | (1u << 22) | (1u << 23) | (1u << 24) | (1u << 25);
constexpr uint32_t kLeaf7Sub1Eax = (1u << 5) | (1u << 21);
constexpr uint32_t kLeaf7Sub1Edx = 1u << 19;

struct sigaction previous;
long traps = 0;       // CPUIDs answered, all threads (atomic builtins: the handler is async)
int state = -ENOSYS;  // 1: hidden; otherwise -errno of why not

long set_cpuid_faulting(bool on) { return syscall(SYS_arch_prctl, ARCH_SET_CPUID, on ? 0 : 1); }

void pass_on(int sig, siginfo_t* info, void* context) {
  if (previous.sa_flags & SA_SIGINFO) {
    previous.sa_sigaction(sig, info, context);
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler(sig);
  } else {  // returning re-runs the faulting instruction under the default action
    struct sigaction dfl;
    std::memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, nullptr);
  }
}

void on_segv(int sig, siginfo_t* info, void* context) {
  greg_t* regs = static_cast<ucontext_t*>(context)->uc_mcontext.gregs;
  // A faulting CPUID is a general-protection fault (si_code SI_KERNEL) at a readable instruction;
  // a page fault (SEGV_MAPERR / SEGV_ACCERR) may have an unreadable RIP, so test the code first.
  const auto* ip = reinterpret_cast<const unsigned char*>(regs[REG_RIP]);
  if (info->si_code != SI_KERNEL || ip[0] != 0x0f || ip[1] != 0xa2) return pass_on(sig, info, context);
  const uint32_t leaf = static_cast<uint32_t>(regs[REG_RAX]), sub = static_cast<uint32_t>(regs[REG_RCX]);
  uint32_t a, b, c, d;
  set_cpuid_faulting(false);
  __cpuid_count(leaf, sub, a, b, c, d);
  set_cpuid_faulting(true);
  if (leaf == 7 && sub == 0) b &= ~kLeaf7Ebx, c &= ~kLeaf7Ecx, d &= ~kLeaf7Edx;
  if (leaf == 7 && sub == 1) a &= ~kLeaf7Sub1Eax, d &= ~kLeaf7Sub1Edx;
  regs[REG_RAX] = a, regs[REG_RBX] = b, regs[REG_RCX] = c, regs[REG_RDX] = d;
  regs[REG_RIP] += 2;
  __atomic_add_fetch(&traps, 1, __ATOMIC_RELAXED);
}

__attribute__((constructor)) void hide_avx512() {
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_sigaction = on_segv;
  action.sa_flags = SA_SIGINFO | SA_NODEFER;  // NODEFER: a fault inside a chained handler still reaches it
  sigemptyset(&action.sa_mask);
  if (sigaction(SIGSEGV, &action, &previous) != 0) {
    state = -errno;
    return;
  }
  if (set_cpuid_faulting(true) != 0) {  // no CPUID faulting here: leave the process as it was
    state = -errno;
    sigaction(SIGSEGV, &previous, nullptr);
    return;
  }
  state = 1;
}

}  // namespace

// For the workers (ctypes, through the process's global symbols): 1 when CPUID hides AVX-512 in
// this process, else minus the errno of why not (EINVAL / ENODEV: no CPUID faulting on this CPU).
extern "C" __attribute__((visibility("default"))) int cnnfast_avx512_hidden() { return state; }

// CPUIDs answered so far in this process.
extern "C" __attribute__((visibility("default"))) long cnnfast_cpuid_traps() {
  return __atomic_load_n(&traps, __ATOMIC_RELAXED);
}

#endif
