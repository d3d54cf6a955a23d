"""Each op's contract: the rules that every layer of cnnfast must agree on.

The typed wrappers and fake kernels (cnnfast/ops), the Triton kernels (cnnfast/triton), the
modules (cnnfast/nn), the passes and the float64 references all import these from here, one way;
the C++ kernels mirror them (each function names its C++ counterpart). These are leaf modules:
they import torch and nothing from cnnfast, so any layer can use them without an import cycle.

- activations: the activation names the schemas take, and their plain-PyTorch definitions.
- geometry: int-or-pair arguments, conv and pool output sizes.
- layout: which memory format each op's output has.
- small_cnn_program: the ints that describe one layer of a small_cnn program.
"""
