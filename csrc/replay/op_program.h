// OpProgram: a recorded sequence of dispatcher calls that reruns a forward pass without Python.
//
// cnnfast/replay.py records the ops a model's Python forward issues for one input signature
// (TorchDispatchMode) and hands them here. Each value the forward computes lives in a numbered
// slot; run() calls every op through the dispatcher's boxed entry with its slots and constants,
// and drops each slot after its last reader, as Python's reference counting would. On a small
// model that is what Python costs (~15 us a fused module against ~1 us here: MobileNetV3-L at
// batch 1, docs in cnnfast/replay.py). No Python is needed to run one, so LibTorch code could too.
#pragma once

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/ivalue.h>

#include <cstdint>
#include <string>
#include <vector>

namespace cnnfast::replay {

// One argument of a recorded call: a constant (a weight, an int list, a dtype), a slot, or a
// tensor list whose elements are slots or constants (torch.cat's inputs).
struct Arg {
  enum class Kind { Constant, Slot, TensorList };
  Kind kind = Kind::Constant;
  c10::IValue constant;         // Constant; for TensorList, the recorded list (its constant elements)
  int64_t slot = -1;            // Slot
  std::vector<int64_t> slots;   // TensorList: per element, a slot, or -1 for the recorded element
  bool optional_list = false;   // TensorList of Tensor? (aten::index)
};

struct Step {
  c10::OperatorHandle op;
  std::vector<Arg> args;
  std::vector<int64_t> outputs;  // a slot per returned tensor (a returned list: one per element)
  std::vector<int64_t> frees;    // slots this step reads last (set by finish())
};

class OpProgram {
 public:
  explicit OpProgram(int64_t inputs);

  // Appends a call; `outputs` is the number of tensors it returns (lists flattened). Returns the
  // slot of its first output; the others follow.
  int64_t add_step(const c10::OperatorHandle& op, std::vector<Arg> args, int64_t outputs);
  // Names the slots run() returns and works out where each slot is read last.
  void finish(std::vector<int64_t> outputs);
  // Runs the recorded calls on `inputs` (the same count, and for a faithful result the same
  // signature as when recorded) and returns the output slots; undefined tensors stand for None.
  std::vector<at::Tensor> run(const std::vector<at::Tensor>& inputs) const;

  int64_t inputs() const { return inputs_; }
  int64_t slots() const { return slots_; }
  const std::vector<Step>& steps() const { return steps_; }
  const std::vector<int64_t>& outputs() const { return outputs_; }
  // One line per step (op, then each argument as slot, list or constant; tensors by identity):
  // two recordings of a forward are the same program when these match.
  std::vector<std::string> fingerprint() const;

 private:
  int64_t inputs_;
  int64_t slots_;
  bool finished_ = false;
  std::vector<Step> steps_;
  std::vector<int64_t> outputs_;
};

}  // namespace cnnfast::replay
