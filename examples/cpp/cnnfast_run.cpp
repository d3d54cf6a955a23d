// cnnfast_run: load a TorchScript model saved from cnnfast.optimize(model), run it from C++ (no
// Python), print its latency and an output checksum.
//
//   cnnfast_run model.pt [--batch N] [--size S] [--iters K] [--threads T]
//
// The input is deterministic, sin(0.001 * i) over the (N, 3, S, S) elements in order, so the
// checksum can be compared with the same model run from Python.
#include <torch/script.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <ATen/Parallel.h>
#include <cnnfast/ops.h>

namespace {

int usage(const char* argv0) {
  std::fprintf(stderr, "usage: %s model.pt [--batch N] [--size S] [--iters K] [--threads T]\n", argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  cnnfast::force_link();  // keeps libcnnfast (and so the cnnfast:: op registrations) linked
  if (argc < 2) return usage(argv[0]);
  std::string path = argv[1];
  int64_t batch = 1, size = 224, iters = 10, threads = 0;
  for (int i = 2; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) return usage(argv[0]);
    const int64_t value = std::atoll(argv[++i]);
    if (value < 1) return usage(argv[0]);
    if (flag == "--batch") batch = value;
    else if (flag == "--size") size = value;
    else if (flag == "--iters") iters = value;
    else if (flag == "--threads") threads = value;
    else return usage(argv[0]);
  }
  if (threads > 0) at::set_num_threads(static_cast<int>(threads));

  torch::jit::Module model;
  try {
    model = torch::jit::load(path);
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "cnnfast_run: cannot load %s: %s\n", path.c_str(), e.what_without_backtrace());
    return 1;
  }
  model.eval();
  c10::InferenceMode guard;
  const int64_t numel = batch * 3 * size * size;
  at::Tensor x = at::arange(numel, at::kFloat).mul_(0.001).sin_().reshape({batch, 3, size, size});
  std::vector<torch::jit::IValue> inputs{x};

  at::Tensor out = model.forward(inputs).toTensor();  // first call: prepacks the weights
  std::vector<double> ms;
  for (int64_t i = 0; i < iters; ++i) {
    const auto start = std::chrono::steady_clock::now();
    out = model.forward(inputs).toTensor();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  at::Tensor o = out.to(at::kDouble);
  std::printf("model %s\n", path.c_str());
  std::printf("input %lld x 3 x %lld x %lld, %d threads\n", static_cast<long long>(batch),
              static_cast<long long>(size), static_cast<long long>(size), at::get_num_threads());
  std::printf("output_shape");
  for (auto d : out.sizes()) std::printf(" %lld", static_cast<long long>(d));
  std::printf("\nlatency_ms_median %.4f\n", ms[ms.size() / 2]);
  std::printf("checksum_sum %.10e\n", o.sum().item<double>());
  std::printf("checksum_abs %.10e\n", o.abs().sum().item<double>());
  std::printf("checksum_max %.10e\n", o.abs().max().item<double>());
  return 0;
}
