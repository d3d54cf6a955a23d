// cnnfast._C._OpRecorder and _OpProgram: how cnnfast/replay.py turns the op calls one forward
// pass makes (seen by a TorchDispatchMode) into a replay::OpProgram, and runs it.
//
// The recorder decides what each argument is: a tensor this forward computed (or took as input)
// becomes a slot, anything else a constant. It refuses, with a reason, what a replay could get
// wrong: an op returning a Python value (the forward may branch on it), a tensor off the CPU
// (a Triton kernel writes it outside the dispatcher), or a computed tensor reaching an op under
// another identity (torch.from_numpy(x.numpy()) makes one without a dispatcher call).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <ATen/ScalarOps.h>
#include <torch/csrc/jit/python/pybind_utils.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "python/op_program_binding.h"
#include "replay/op_program.h"

namespace py = pybind11;

namespace cnnfast {

namespace {

using replay::Arg;
using replay::OpProgram;

// Where a tensor's memory starts and ends: compared by address, since a tensor made outside the
// dispatcher (torch.from_numpy(x.numpy())) has its own storage object over the same memory.
std::pair<uintptr_t, uintptr_t> memory_of(const at::Tensor& t) {
  if (!t.has_storage() || !t.storage().data()) return {0, 0};
  const auto start = reinterpret_cast<uintptr_t>(t.storage().data());
  return {start, start + t.storage().nbytes()};
}

class OpRecorder {
 public:
  explicit OpRecorder(const std::vector<at::Tensor>& inputs)
      : program_(std::make_shared<OpProgram>(static_cast<int64_t>(inputs.size()))) {
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (slot_of_.count(inputs[i].unsafeGetTensorImpl())) {
        refuse("the same tensor is passed as two inputs");
      }
      remember(inputs[i], static_cast<int64_t>(i));
    }
  }

  // Records one call; returns false (and keeps the reason) where a replay could differ from it.
  bool add(const std::string& name, const std::string& overload, const py::tuple& args, const py::dict& kwargs,
           const py::object& out) {
    if (reason_) return false;
    const auto op = c10::Dispatcher::singleton().findSchemaOrThrow(name.c_str(), overload.c_str());
    const c10::FunctionSchema& schema = op.schema();
    torch::jit::Stack stack;
    try {
      stack = torch::jit::createStackForSchema(schema, torch::jit::tuple_slice(numbers_as_tensors(schema, args)),
                                               numbers_as_tensors(schema, kwargs), std::nullopt);
    } catch (const std::exception& e) {
      return refuse(op_label(schema) + ": its arguments could not be recorded (" + e.what() + ")");
    }
    std::vector<Arg> recorded;
    recorded.reserve(stack.size());
    for (c10::IValue& v : stack) {
      Arg a;
      if (v.isTensor()) {
        if (!argument(v.toTensor(), &a.slot, schema)) return false;
        a.kind = a.slot >= 0 ? Arg::Kind::Slot : Arg::Kind::Constant;
      } else if (v.isTensorList() || is_optional_tensor_list(v)) {
        a.kind = Arg::Kind::TensorList;
        a.optional_list = !v.isTensorList();
        for (const c10::IValue& e : v.toListRef()) {
          int64_t slot = -1;
          if (e.isTensor() && !argument(e.toTensor(), &slot, schema)) return false;
          a.slots.push_back(slot);
        }
      } else if (holds_tensor(v)) {
        return refuse(op_label(schema) + " takes tensors inside a container the recorder does not read");
      }
      if (a.kind != Arg::Kind::Slot) a.constant = std::move(v);
      recorded.push_back(std::move(a));
    }
    std::vector<at::Tensor> outs;
    if (!flatten_returns(schema, out, &outs)) return false;
    const int64_t first = program_->add_step(op, std::move(recorded), static_cast<int64_t>(outs.size()));
    for (size_t i = 0; i < outs.size(); ++i) {
      if (outs[i].defined()) {
        if (!on_cpu(outs[i], schema)) return false;
        remember(outs[i], first + static_cast<int64_t>(i));
      }
    }
    return true;
  }

  // The slot holding `t`; -1 for a tensor this forward did not compute (a constant); -2, with the
  // reason kept, for one it computed under an identity the recorder never saw.
  int64_t slot(const at::Tensor& t) {
    const auto it = slot_of_.find(t.unsafeGetTensorImpl());
    if (it != slot_of_.end()) return it->second;
    if (is_fresh(t)) {
      refuse("an output shares memory with a tensor computed in the forward but was made outside the dispatcher");
      return -2;
    }
    return -1;
  }

  std::shared_ptr<OpProgram> finish(std::vector<int64_t> outputs) {
    TORCH_CHECK(!reason_, "cnnfast replay: ", *reason_);
    program_->finish(std::move(outputs));
    pinned_.clear();
    return program_;
  }

  std::optional<std::string> reason() const { return reason_; }
  int64_t steps() const { return static_cast<int64_t>(program_->steps().size()); }

 private:
  bool refuse(std::string why) {
    if (!reason_) reason_ = std::move(why);
    return false;
  }

  static std::string op_label(const c10::FunctionSchema& schema) {
    return schema.overload_name().empty() ? schema.name() : schema.name() + "." + schema.overload_name();
  }

  bool on_cpu(const at::Tensor& t, const c10::FunctionSchema& schema) {
    if (t.device().is_cpu() && t.layout() == at::kStrided) return true;
    return refuse(op_label(schema) + " uses a " + t.device().str() +
                  " tensor: replay records CPU models (GPU kernels may run outside the dispatcher)");
  }

  void remember(const at::Tensor& t, int64_t slot) {
    slot_of_[t.unsafeGetTensorImpl()] = slot;
    // A weak reference keeps the TensorImpl's own memory, not its data: its address stays unique
    // while recording, and the forward's maps are freed as they would be without the recorder.
    pinned_.emplace_back(t.getIntrusivePtr());
    const auto memory = memory_of(t);
    if (memory.first && !constant_memory_.count(memory.first)) {
      fresh_[memory.first] = std::max(fresh_[memory.first], memory.second);
    }
  }

  // A tensor argument: its slot, or -1 for a constant (a weight); false if a replay could not
  // tell where it comes from.
  bool argument(const at::Tensor& t, int64_t* slot, const c10::FunctionSchema& schema) {
    if (!on_cpu(t, schema)) return false;
    const auto it = slot_of_.find(t.unsafeGetTensorImpl());
    if (it != slot_of_.end()) {
      *slot = it->second;
      return true;
    }
    if (is_fresh(t)) {
      return refuse(op_label(schema) + " reads a tensor computed in the forward but made outside the dispatcher "
                    "(for example through .numpy())");
    }
    if (t.requires_grad() && c10::GradMode::is_enabled()) {
      return refuse(op_label(schema) + " reads a tensor that requires grad, with grad mode on");
    }
    *slot = -1;
    if (memory_of(t).first) constant_memory_.insert(memory_of(t).first);
    return true;
  }

  // Whether t's memory lies in memory this forward computed (an input's or an op's result).
  bool is_fresh(const at::Tensor& t) const {
    const auto memory = memory_of(t);
    if (!memory.first) return false;
    auto it = fresh_.upper_bound(memory.first);
    if (it == fresh_.begin()) return false;
    --it;
    return memory.first < it->second;
  }

  static bool is_optional_tensor_list(const c10::IValue& v) {
    if (!v.isList()) return false;
    return is_optional_tensor(*v.toList().elementType());
  }

  // A TorchDispatchMode sees `x + 1`'s 1 as the Python number it was; the op takes it as a
  // wrapped-number tensor, as Python's argument parser makes it (wrapped: it does not promote).
  static py::object as_tensor_if_number(const c10::Argument& arg, const py::handle& v) {
    const auto kind = arg.type()->kind();
    if ((kind != c10::TypeKind::TensorType && !is_optional_tensor(*arg.type())) ||
        !(py::isinstance<py::int_>(v) || py::isinstance<py::float_>(v) || PyComplex_Check(v.ptr()))) {
      return py::reinterpret_borrow<py::object>(v);
    }
    at::Tensor t = at::scalar_to_tensor(torch::jit::toIValue(v, c10::NumberType::get()).toScalar());
    t.unsafeGetTensorImpl()->set_wrapped_number(true);
    return py::cast(t);
  }

  static py::tuple numbers_as_tensors(const c10::FunctionSchema& schema, const py::tuple& args) {
    py::tuple out(args.size());
    for (size_t i = 0; i < args.size(); ++i) {
      out[i] = i < schema.arguments().size() ? as_tensor_if_number(schema.arguments()[i], args[i])
                                             : py::reinterpret_borrow<py::object>(args[i]);
    }
    return out;
  }

  static py::kwargs numbers_as_tensors(const c10::FunctionSchema& schema, const py::dict& kwargs) {
    py::kwargs out;
    for (const auto& item : kwargs) {
      const auto index = schema.argumentIndexWithName(py::cast<std::string>(item.first));
      out[item.first] = index ? as_tensor_if_number(schema.arguments()[*index], item.second)
                              : py::reinterpret_borrow<py::object>(item.second);
    }
    return out;
  }

  static bool is_optional_tensor(const c10::Type& type) {
    const auto* optional = type.castRaw<c10::OptionalType>();
    return optional && optional->getElementType()->kind() == c10::TypeKind::TensorType;
  }

  static bool holds_tensor(const c10::IValue& v) {
    bool found = false;
    v.visit([&](const c10::IValue& e) {
      found = found || e.isTensor();
      return found;
    });
    return found;
  }

  // The tensors an op returned, in the order run() sees them: one per Tensor or Tensor? return,
  // one per element of a Tensor[] return.
  bool flatten_returns(const c10::FunctionSchema& schema, const py::object& out, std::vector<at::Tensor>* outs) {
    const auto& returns = schema.returns();
    if (returns.empty()) return true;
    std::vector<py::object> values;
    if (returns.size() == 1) {
      values.push_back(out);
    } else {
      for (const py::handle h : out) values.push_back(py::reinterpret_borrow<py::object>(h));
    }
    if (values.size() != returns.size()) return refuse(op_label(schema) + " returned an unexpected number of values");
    for (size_t i = 0; i < returns.size(); ++i) {
      const c10::TypePtr& type = returns[i].type();
      const auto kind = type->kind();
      const auto* list = type->castRaw<c10::ListType>();
      if (kind == c10::TypeKind::TensorType || is_optional_tensor(*type)) {
        outs->push_back(values[i].is_none() ? at::Tensor() : py::cast<at::Tensor>(values[i]));
      } else if (list && list->getElementType()->kind() == c10::TypeKind::TensorType) {
        for (const py::handle h : values[i]) outs->push_back(py::cast<at::Tensor>(h));
      } else {
        return refuse(op_label(schema) + " returns a " + type->str() +
                      ": a Python value the forward may branch on, which a replay would not recompute");
      }
    }
    return true;
  }

  std::shared_ptr<OpProgram> program_;
  std::unordered_map<const c10::TensorImpl*, int64_t> slot_of_;
  std::map<uintptr_t, uintptr_t> fresh_;         // memory of inputs and computed tensors: start -> end
  std::unordered_set<uintptr_t> constant_memory_;  // constants' memory starts (views of them are not fresh)
  std::vector<c10::weak_intrusive_ptr<c10::TensorImpl, c10::UndefinedTensorImpl>> pinned_;
  std::optional<std::string> reason_;
};

}  // namespace

void bind_op_program(py::module& m) {
  py::class_<OpProgram, std::shared_ptr<OpProgram>>(m, "_OpProgram",
                                                    "A recorded forward pass (cnnfast/replay.py); run() reruns it.")
      .def("run",
           [](const OpProgram& p, const std::vector<at::Tensor>& inputs) {
             py::gil_scoped_release no_gil;
             return p.run(inputs);
           },
           py::arg("inputs"), "Run the recorded calls on inputs; returns the output tensors (None for none).")
      .def_property_readonly("steps", [](const OpProgram& p) { return p.steps().size(); })
      .def_property_readonly("slots", &OpProgram::slots)
      .def("op_names",
           [](const OpProgram& p) {
             std::vector<std::string> names;
             for (const auto& s : p.steps()) names.push_back(c10::toString(s.op.operator_name()));
             return names;
           },
           "The recorded ops in order, as namespace::name.overload.")
      .def("fingerprint", &OpProgram::fingerprint,
           "One line per step: two recordings are the same program when these match.");
  py::class_<OpRecorder>(m, "_OpRecorder", "Turns the op calls of one forward pass into an _OpProgram.")
      .def(py::init<const std::vector<at::Tensor>&>(), py::arg("inputs"))
      .def("add", &OpRecorder::add, py::arg("name"), py::arg("overload"), py::arg("args"), py::arg("kwargs"),
           py::arg("out"), "Record one call; False once a replay could differ (see reason).")
      .def("slot", &OpRecorder::slot, py::arg("tensor"),
           "The tensor's slot; -1 for a constant; -2 for one a replay cannot place (see reason).")
      .def("finish", &OpRecorder::finish, py::arg("outputs"), "The program, returning these slots.")
      .def_property_readonly("reason", &OpRecorder::reason)
      .def_property_readonly("steps", &OpRecorder::steps);
}

}  // namespace cnnfast
