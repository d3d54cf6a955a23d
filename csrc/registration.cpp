// TORCH_LIBRARY(cnnfast): every op's schema, in C++ so that a C++ process running a TorchScript
// model sees the ops without Python. Kernels register per dispatch key in csrc/ops/<op>/.
#include <torch/library.h>

#include "cnnfast/ops.h"

TORCH_LIBRARY(cnnfast, m) {
  // act(conv2d(x, weight) + bias + residual), one pass over the output; see csrc/ops/conv2d_bias_act.
  m.def(
      "conv2d_bias_act(Tensor x, Tensor weight, Tensor? bias, int[2] stride, int[2] padding, "
      "int[2] dilation, int groups, Tensor? residual, str act) -> Tensor");
  // The same, written into `out` (any strides: a channel slice of a concat buffer, so the
  // branches of an Inception block or a dense layer's new features need no torch.cat copy).
  // Returns nothing: functionalization (torch.compile, export) accepts mutation, not aliased outputs.
  m.def(
      "conv2d_bias_act_out(Tensor x, Tensor weight, Tensor? bias, int[2] stride, int[2] padding, "
      "int[2] dilation, int groups, Tensor? residual, str act, Tensor(a!) out) -> ()");
  // conv2d_bias_act and the mean over H x W of each of its output channels, (N, C_out): a squeeze-
  // and-excitation block's squeeze taken by the conv kernel from each output block it has just
  // stored, instead of a second read of the map (se_squeeze).
  m.def(
      "conv2d_bias_act_mean(Tensor x, Tensor weight, Tensor? bias, int[2] stride, int[2] padding, "
      "int[2] dilation, int groups, Tensor? residual, str act) -> (Tensor, Tensor)");
  // act2(depthwise_conv(act1(conv1x1(x, weight1) + bias1), weight2) + bias2): the 1x1 conv feeding a
  // depthwise conv (MobileNet's and EfficientNet's expansion, ShuffleNet's branch), its output
  // computed row by row into the depthwise kernel's input ring, never written to memory.
  m.def("conv1x1_depthwise(Tensor x, Tensor weight1, Tensor? bias1, str act1, Tensor weight2, Tensor? bias2, "
        "int[2] stride, int[2] padding, int[2] dilation, str act2) -> Tensor");
  // conv1x1_depthwise and the mean over H x W of each of its output channels, (N, C_mid): the
  // squeeze of the SE block after an inverted residual's depthwise conv, taken by its kernel.
  m.def("conv1x1_depthwise_mean(Tensor x, Tensor weight1, Tensor? bias1, str act1, Tensor weight2, Tensor? bias2, "
        "int[2] stride, int[2] padding, int[2] dilation, str act2) -> (Tensor, Tensor)");
  // act(conv1x1(avg_pool(relu(x * scale + shift), pool)) + bias): BN -> ReLU -> 1x1 conv (DenseNet's
  // bottleneck; with pool=2 its transition, whose 2x2 average pool moves before the conv: both are
  // linear, so the conv runs on a quarter of the pixels). The prologue is applied block by block in
  // cache; x may be a channel slice of a concat buffer.
  m.def("preact_conv1x1(Tensor x, Tensor scale, Tensor shift, Tensor weight, Tensor? bias, str act, "
        "int pool=1) -> Tensor");
  // The same, written into `out` (a channel slice of a concat buffer: a DenseNet transition's
  // output is the first part of the next block's). Returns nothing, as conv2d_bias_act_out.
  m.def("preact_conv1x1_out(Tensor x, Tensor scale, Tensor shift, Tensor weight, Tensor? bias, str act, "
        "int pool, Tensor(a!) out) -> ()");
  // x (N, C, H, W) copied into a new channels_last tensor (what x.contiguous(memory_format=
  // torch.channels_last) gives, never x itself): a network's NCHW input turned into the layout its
  // first conv reads, with a fast interleave for the few channels of an image.
  m.def("to_channels_last(Tensor x) -> Tensor");
  // Max pooling without the argmax indices ATen's CPU kernel always computes (dilation 1; floor or
  // ceil mode as torch.nn.functional.max_pool2d; padding counts as -inf).
  m.def("max_pool2d(Tensor x, int[2] kernel, int[2] stride, int[2] padding, bool ceil_mode) -> Tensor");
  // The same, written into `out` (a channel slice of a concat buffer: a pool that is one part of a
  // channel cat). Returns nothing, as conv2d_bias_act_out.
  m.def("max_pool2d_out(Tensor x, int[2] kernel, int[2] stride, int[2] padding, bool ceil_mode, Tensor(a!) out) -> ()");
  // act(x @ weight^T + bias) for x (N, K): a Linear layer and its activation (classifier heads).
  m.def("linear_bias_act(Tensor x, Tensor weight, Tensor? bias, str act) -> Tensor");
  // A whole small CNN (LeNet-like: convs with activation and pooling, then linear layers) in one
  // call, so per-layer dispatch does not dominate a network whose layers each take microseconds.
  // program: six ints per layer (csrc/ops/small_cnn/small_cnn.h); one weight and bias per layer,
  // an empty bias for none (Tensor[], not Tensor?[]: torch.jit.trace cannot record the latter).
  m.def("small_cnn(Tensor x, Tensor[] weights, Tensor[] biases, int[] program) -> Tensor");
  // The inputs' channels, concatenated, reordered by index and split into tensors of `split`
  // channels, in one pass: ShuffleNet's cat -> channel shuffle -> chunk, whose reordering
  // optimize() folds into where this writes each channel and into the next convs' weights.
  m.def("shuffle_channels(Tensor[] inputs, Tensor index, int[] split) -> Tensor[]");
  // Squeeze-and-excitation in three steps; see csrc/ops/se_squeeze, se_excite, se_scale.
  // mean over H x W of each channel: (N, C, H, W) -> (N, C).
  m.def("se_squeeze(Tensor x) -> Tensor");
  // act2(act1(s @ w1^T + b1) @ w2^T + b2): the two FC layers of the excitation, (N, C) -> (N, C).
  m.def("se_excite(Tensor s, Tensor w1, Tensor? b1, Tensor w2, Tensor? b2, str act1, str act2) -> Tensor");
  // act(x * gate[:, :, None, None] + residual), one pass over the map.
  m.def("se_scale(Tensor x, Tensor gate, Tensor? residual, str act) -> Tensor");
  // The same, written over x: an SE block's input is dead after its scaling, and rewriting the
  // cache lines just read costs a third less memory traffic than a fresh output (measured 1.5-2x).
  // Returns nothing: functionalization (torch.compile, export) accepts mutation, not aliased outputs.
  m.def("se_scale_(Tensor(a!) x, Tensor gate, Tensor? residual, str act) -> ()");
}

namespace cnnfast {
void force_link() {}
}  // namespace cnnfast
