#include "replay/op_program.h"

#include <c10/util/Exception.h>

#include <sstream>
#include <utility>

namespace cnnfast::replay {

namespace {

// A constant as text for fingerprint(): tensors by identity (the same weight object), anything
// else by value, as are the wrapped-number tensors `x + 1` makes afresh on every call.
void describe_constant(std::ostringstream& s, const c10::IValue& v) {
  if (v.isTensor() && v.toTensor().unsafeGetTensorImpl()->is_wrapped_number()) {
    s << "w:" << v.toTensor().scalar_type() << ":" << c10::IValue(v.toTensor().item());
  } else if (v.isTensor()) {
    s << "t@" << static_cast<const void*>(v.toTensor().unsafeGetTensorImpl());
  } else if (v.isList()) {
    s << "[";
    for (const c10::IValue& e : v.toListRef()) {
      describe_constant(s, e);
      s << ",";
    }
    s << "]";
  } else {
    s << v.tagKind() << ":" << v;
  }
}

c10::IValue build_list(const Arg& a, const std::vector<c10::IValue>& slots) {
  const auto recorded = a.constant.toListRef();
  if (a.optional_list) {
    c10::List<std::optional<at::Tensor>> list;
    list.reserve(a.slots.size());
    for (size_t i = 0; i < a.slots.size(); ++i) {
      const c10::IValue& v = a.slots[i] >= 0 ? slots[a.slots[i]] : recorded[i];
      list.push_back(v.isNone() ? std::optional<at::Tensor>() : std::optional<at::Tensor>(v.toTensor()));
    }
    return list;
  }
  c10::List<at::Tensor> list;
  list.reserve(a.slots.size());
  for (size_t i = 0; i < a.slots.size(); ++i) {
    list.push_back(a.slots[i] >= 0 ? slots[a.slots[i]].toTensor() : recorded[i].toTensor());
  }
  return list;
}

}  // namespace

OpProgram::OpProgram(int64_t inputs) : inputs_(inputs), slots_(inputs) {
  TORCH_CHECK(inputs >= 0, "cnnfast replay: a program takes a non-negative number of inputs");
}

int64_t OpProgram::add_step(const c10::OperatorHandle& op, std::vector<Arg> args, int64_t outputs) {
  TORCH_CHECK(!finished_, "cnnfast replay: the program is finished; no step can be added");
  TORCH_CHECK(outputs >= 0, "cnnfast replay: a step returns a non-negative number of tensors");
  for (const Arg& a : args) {
    TORCH_CHECK(a.kind != Arg::Kind::Slot || (a.slot >= 0 && a.slot < slots_),
                "cnnfast replay: ", op.operator_name(), " reads slot ", a.slot, " before it is written");
    for (int64_t s : a.slots) {
      TORCH_CHECK(s < slots_, "cnnfast replay: ", op.operator_name(), " reads slot ", s, " before it is written");
    }
  }
  Step step{op, std::move(args), {}, {}};
  const int64_t first = slots_;
  for (int64_t i = 0; i < outputs; ++i) step.outputs.push_back(slots_++);
  steps_.push_back(std::move(step));
  return first;
}

void OpProgram::finish(std::vector<int64_t> outputs) {
  TORCH_CHECK(!finished_, "cnnfast replay: finish() was called twice");
  for (int64_t s : outputs) {
    TORCH_CHECK(s >= 0 && s < slots_, "cnnfast replay: output slot ", s, " does not exist");
  }
  // last[s]: the step that reads slot s last, or writes it (a value nobody reads is dropped at
  // once); -1 for inputs nobody reads. Outputs are never dropped.
  std::vector<int64_t> last(slots_, -1);
  for (size_t i = 0; i < steps_.size(); ++i) {
    for (const Arg& a : steps_[i].args) {
      if (a.kind == Arg::Kind::Slot) last[a.slot] = static_cast<int64_t>(i);
      for (int64_t s : a.slots) {
        if (s >= 0) last[s] = static_cast<int64_t>(i);
      }
    }
    for (int64_t s : steps_[i].outputs) last[s] = std::max(last[s], static_cast<int64_t>(i));
  }
  for (int64_t s : outputs) last[s] = -1;
  for (int64_t s = 0; s < slots_; ++s) {
    if (last[s] >= 0) steps_[last[s]].frees.push_back(s);
  }
  outputs_ = std::move(outputs);
  finished_ = true;
}

std::vector<at::Tensor> OpProgram::run(const std::vector<at::Tensor>& inputs) const {
  TORCH_CHECK(finished_, "cnnfast replay: run() before finish()");
  TORCH_CHECK(static_cast<int64_t>(inputs.size()) == inputs_, "cnnfast replay: the program takes ", inputs_,
              " inputs, got ", inputs.size());
  std::vector<c10::IValue> slots(slots_);
  for (int64_t i = 0; i < inputs_; ++i) slots[i] = inputs[i];
  torch::jit::Stack stack;
  for (const Step& step : steps_) {
    stack.clear();
    for (const Arg& a : step.args) {
      switch (a.kind) {
        case Arg::Kind::Constant: stack.push_back(a.constant); break;
        case Arg::Kind::Slot: stack.push_back(slots[a.slot]); break;
        case Arg::Kind::TensorList: stack.push_back(build_list(a, slots)); break;
      }
    }
    step.op.callBoxed(stack);
    size_t o = 0;
    for (c10::IValue& r : stack) {
      if (r.isTensorList()) {
        for (const at::Tensor& t : r.toTensorList()) {
          TORCH_CHECK(o < step.outputs.size(), "cnnfast replay: ", step.op.operator_name(),
                      " returned more tensors than when recorded");
          slots[step.outputs[o++]] = t;
        }
      } else {
        TORCH_CHECK(o < step.outputs.size() && (r.isTensor() || r.isNone()), "cnnfast replay: ",
                    step.op.operator_name(), " returned other values than when recorded");
        slots[step.outputs[o++]] = std::move(r);
      }
    }
    TORCH_CHECK(o == step.outputs.size(), "cnnfast replay: ", step.op.operator_name(),
                " returned fewer tensors than when recorded");
    for (int64_t s : step.frees) slots[s] = c10::IValue();
  }
  std::vector<at::Tensor> out;
  out.reserve(outputs_.size());
  for (int64_t s : outputs_) out.push_back(slots[s].isTensor() ? slots[s].toTensor() : at::Tensor());
  return out;
}

std::vector<std::string> OpProgram::fingerprint() const {
  std::vector<std::string> lines;
  lines.reserve(steps_.size() + 1);
  for (const Step& step : steps_) {
    std::ostringstream s;
    s << step.op.operator_name() << "(";
    for (const Arg& a : step.args) {
      switch (a.kind) {
        case Arg::Kind::Constant: describe_constant(s, a.constant); break;
        case Arg::Kind::Slot: s << "%" << a.slot; break;
        case Arg::Kind::TensorList: {
          s << "[";
          const auto recorded = a.constant.toListRef();
          for (size_t i = 0; i < a.slots.size(); ++i) {
            if (a.slots[i] >= 0) {
              s << "%" << a.slots[i];
            } else {
              describe_constant(s, recorded[i]);
            }
            s << ",";
          }
          s << "]";
          break;
        }
      }
      s << ", ";
    }
    s << ") -> " << step.outputs.size();
    lines.push_back(s.str());
  }
  std::ostringstream s;
  s << "return";
  for (int64_t o : outputs_) s << " %" << o;
  lines.push_back(s.str());
  return lines;
}

}  // namespace cnnfast::replay
